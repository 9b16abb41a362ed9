"""The Teams channel's settings and its tenant -> school mapping (plain Python, no Rasa).

Settings come from environment variables first, then from the channel's block in credentials.yml, so a secret
need never be written to a file. Without an app id (or password) the channel is "not configured": the server still
starts and the webhook answers 503.

config/teams.yml (or the file POLICYBOT_TEAMS_CONFIG names) says which school a Microsoft 365 tenant belongs to,
and optionally which school each team (by its AAD group id or Teams team id) belongs to, for a trust whose schools
share one tenant. Everyone who reaches the bot through a mapped tenant is treated as staff. The file is checked
strictly when the channel starts: an unknown key or school stops the server with a message naming it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from bot import settings
from bot.schools import SchoolDirectory
from channels.teams_auth import DEFAULT_OPENID_URL, check_url
from channels.teams_connector import DEFAULT_TOKEN_URL

ENV_APP_ID = "POLICYBOT_TEAMS_APP_ID"
ENV_APP_PASSWORD = "POLICYBOT_TEAMS_APP_PASSWORD"
ENV_OPENID_URL = "POLICYBOT_TEAMS_OPENID_URL"
ENV_TOKEN_URL = "POLICYBOT_TEAMS_TOKEN_URL"
ENV_CONFIG = "POLICYBOT_TEAMS_CONFIG"

#: credentials.yml key -> environment variable that overrides it.
CREDENTIAL_KEYS: dict[str, str] = {"app_id": ENV_APP_ID, "app_password": ENV_APP_PASSWORD,
                                   "openid_url": ENV_OPENID_URL, "token_url": ENV_TOKEN_URL,
                                   "config": ENV_CONFIG}
TENANT_KEYS = ("school", "teams")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: A Teams team id as Teams shows it in a team link: 19:...@thread.tacv2 (or @thread.skype for old teams).
_TEAM_THREAD_ID = re.compile(r"^19:[A-Za-z0-9_.=%-]+@thread\.[a-z0-9]+$")


def default_config_path() -> Path:
    return settings.PROJECT_ROOT / "config" / "teams.yml"


def is_guid(value: object) -> bool:
    return isinstance(value, str) and bool(_GUID.match(value))


@dataclass(frozen=True)
class TeamsSettings:
    """What the channel needs to run; `app_password` is kept out of repr."""

    app_id: str | None
    app_password: str | None = field(default=None, repr=False)
    openid_url: str = DEFAULT_OPENID_URL
    token_url: str = DEFAULT_TOKEN_URL
    config_path: Path = field(default_factory=default_config_path)

    @classmethod
    def from_sources(cls, credentials: Mapping[str, Any] | None,
                     environ: Mapping[str, str] | None = None) -> "TeamsSettings":
        """Environment variables, then credentials.yml keys, then defaults; ValueError for an unknown or bad key."""
        environ = os.environ if environ is None else environ
        credentials = credentials or {}
        if not isinstance(credentials, Mapping):
            raise ValueError("the Teams channel's credentials.yml block must be a mapping of "
                             f"{', '.join(CREDENTIAL_KEYS)}")
        unknown = sorted(str(key) for key in credentials if key not in CREDENTIAL_KEYS)
        if unknown:
            raise ValueError(f"unknown key '{unknown[0]}' in the Teams channel's credentials.yml block; "
                             f"known: {', '.join(CREDENTIAL_KEYS)}")

        def value(key: str) -> str | None:
            raw = environ.get(CREDENTIAL_KEYS[key]) or credentials.get(key)
            if raw is not None and not isinstance(raw, (str, int)):
                raise ValueError(f"Teams setting '{key}' ({CREDENTIAL_KEYS[key]}) must be a string")
            return str(raw).strip() if raw is not None and str(raw).strip() else None

        app_id = value("app_id")
        if app_id is not None and not is_guid(app_id):
            raise ValueError(f"{ENV_APP_ID} (credentials.yml 'app_id') must be the bot's Microsoft App ID, a GUID "
                             "like 00000000-0000-0000-0000-000000000000")
        openid_url = check_url(value("openid_url") or DEFAULT_OPENID_URL, ENV_OPENID_URL)
        token_url = check_url(value("token_url") or DEFAULT_TOKEN_URL, ENV_TOKEN_URL)
        config = value("config")
        config_path = Path(config) if config else default_config_path()
        if not config_path.is_absolute():
            config_path = settings.PROJECT_ROOT / config_path
        return cls(app_id, value("app_password"), openid_url, token_url, config_path)

    def missing(self) -> list[str]:
        """The environment variables still needed before the channel can run (empty when configured)."""
        return [name for name, present in ((ENV_APP_ID, self.app_id), (ENV_APP_PASSWORD, self.app_password))
                if not present]

    @property
    def configured(self) -> bool:
        return not self.missing()


@dataclass(frozen=True)
class TenantRule:
    """One tenant's mapping: a default school for everyone, and schools for particular teams."""

    school: str | None
    teams: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    """Where an activity belongs: the school (None if not mapped) and why, for the log and the refusal."""

    school: str | None
    reason: str  # "tenant", "team", "unknown_tenant", "unmapped_team"; "moved" (channels/teams.py: a personal chat)


class TenantMap:
    """Microsoft 365 tenant (and team) -> school slug, read from config/teams.yml."""

    def __init__(self, tenants: Mapping[str, TenantRule]) -> None:
        self._tenants = {tenant.lower(): rule for tenant, rule in tenants.items()}

    def __len__(self) -> int:
        return len(self._tenants)

    @property
    def tenants(self) -> list[str]:
        return sorted(self._tenants)

    def place(self, tenant_id: str | None, team_ids: Iterable[str] = ()) -> Placement:
        """The school for an activity from `tenant_id`, sent in a team known by any of `team_ids` (if any)."""
        rule = self._tenants.get(tenant_id.lower()) if isinstance(tenant_id, str) else None
        if rule is None:
            return Placement(None, "unknown_tenant")
        for team_id in team_ids:
            school = rule.teams.get(team_id.lower()) if team_id else None
            if school:
                return Placement(school, "team")
        if rule.school:
            return Placement(rule.school, "tenant")
        return Placement(None, "unmapped_team")

    @classmethod
    def load(cls, path: Path, schools: SchoolDirectory | None = None) -> "TenantMap":
        """Read and check `path` strictly; ValueError naming the file, the tenant and the bad key or school."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"Teams tenant mapping not found: {path} (create it from config/teams.yml, "
                             f"or point {ENV_CONFIG} at it)") from None
        except yaml.YAMLError as problem:
            mark = getattr(problem, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ValueError(f"{path} is not valid YAML{where}: {getattr(problem, 'problem', problem)}") from None
        return cls.parse(data, str(path), schools or SchoolDirectory.load())

    @classmethod
    def parse(cls, data: Any, source: str, schools: SchoolDirectory) -> "TenantMap":
        """Check a loaded mapping document (see `load`)."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{source} must be a mapping with a 'tenants:' key")
        unknown = [str(key) for key in data if key != "tenants"]
        if unknown:
            raise ValueError(f"{source}: unknown key '{unknown[0]}'; known: tenants")
        raw_tenants = data.get("tenants") or {}
        if not isinstance(raw_tenants, Mapping):
            raise ValueError(f"{source}: 'tenants' must be a mapping of tenant id -> {{school, teams}}")

        def known_school(slug: Any, where: str) -> str:
            if not isinstance(slug, str) or slug not in schools:
                raise ValueError(f"{source}: {where}: unknown school {str(slug)!r}; known: {', '.join(schools.slugs)}")
            return slug

        tenants: dict[str, TenantRule] = {}
        for tenant, raw in raw_tenants.items():
            if not is_guid(tenant):
                raise ValueError(f"{source}: tenant id {str(tenant)!r} is not a GUID (the Microsoft 365 tenant id, "
                                 "like 00000000-0000-0000-0000-000000000000)")
            where = f"tenant '{tenant}'"
            if str(tenant).lower() in tenants:
                raise ValueError(f"{source}: {where} is listed twice")
            if not isinstance(raw, Mapping):
                raise ValueError(f"{source}: {where} must be a mapping with 'school' and/or 'teams'")
            bad = [str(key) for key in raw if key not in TENANT_KEYS]
            if bad:
                raise ValueError(f"{source}: {where}: unknown key '{bad[0]}'; known: {', '.join(TENANT_KEYS)}")
            school = known_school(raw["school"], where) if raw.get("school") is not None else None
            raw_teams = raw.get("teams") or {}
            if not isinstance(raw_teams, Mapping):
                raise ValueError(f"{source}: {where}: 'teams' must be a mapping of team id -> school")
            teams: dict[str, str] = {}
            for team, slug in raw_teams.items():
                if not (is_guid(team) or (isinstance(team, str) and _TEAM_THREAD_ID.match(team))):
                    raise ValueError(f"{source}: {where}: team {str(team)!r} is neither an AAD group id (a GUID) "
                                     "nor a Teams team id (19:...@thread.tacv2)")
                teams[team.lower()] = known_school(slug, f"{where}, team '{team}'")
            if school is None and not teams:
                raise ValueError(f"{source}: {where} needs a 'school', or 'teams' mapping teams to schools")
            tenants[str(tenant).lower()] = TenantRule(school, teams)
        return cls(tenants)
