"""Who may read each school's concerns and where its DSL is notified: config/safeguarding.yml (or the file
POLICYBOT_SAFEGUARDING_CONFIG names), checked on load with errors that name the file and the school, never a
webhook's secret URL."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit


from bot import settings
from bot.core.yamlfile import read_yaml
from bot.schools import SchoolDirectory


def default_config_path() -> Path:
    """POLICYBOT_SAFEGUARDING_CONFIG, else config/safeguarding.yml in the project."""
    return Path(os.environ.get("POLICYBOT_SAFEGUARDING_CONFIG", settings.PROJECT_ROOT / "config" / "safeguarding.yml"))


@dataclass(frozen=True)
class SchoolSafeguarding:
    """One school's deployment settings: who may read its concerns and where the DSL is notified."""

    slug: str
    dsl_readers: tuple[str, ...] = ()
    notify_email: tuple[str, ...] = ()
    teams_webhook: str | None = field(default=None, repr=False)  # the URL carries a secret token

    def is_reader(self, actor: str) -> bool:
        """True when `actor` is one of the school's DSL reader accounts (case-insensitive)."""
        wanted = actor.strip().casefold()
        return bool(wanted) and any(wanted == reader.casefold() for reader in self.dsl_readers)

    def destinations(self) -> tuple[tuple[str, str], ...]:
        """(channel, destination) per notification: one per email address, plus the Teams webhook if set."""
        found = tuple(("email", address) for address in self.notify_email)
        return found + ((("teams", self.teams_webhook),) if self.teams_webhook else ())


@dataclass(frozen=True)
class SafeguardingConfig:
    """The per-school safeguarding settings from config/safeguarding.yml."""

    schools: Mapping[str, SchoolSafeguarding]

    def for_school(self, slug: str) -> SchoolSafeguarding:
        """The school's settings; a school the file leaves out has no readers and no destinations."""
        return self.schools.get(slug) or SchoolSafeguarding(slug)

    @classmethod
    def load(cls, path: Path | None = None, schools: SchoolDirectory | None = None) -> "SafeguardingConfig":
        """Read and check the file; a school it names must exist in `schools` (checked when given)."""
        path = path or default_config_path()
        data = read_yaml(path, "safeguarding settings file")
        if not isinstance(data, Mapping) or not isinstance(data.get("schools"), Mapping):
            raise ValueError(f"{path} must contain a 'schools:' mapping of slug -> settings")
        parsed = {str(slug): _school_settings(str(slug), raw, path) for slug, raw in data["schools"].items()}
        if schools is not None:
            unknown = sorted(slug for slug in parsed if slug not in schools)
            if unknown:
                raise ValueError(f"{path} names unknown school(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(schools.slugs)}")
        return cls(parsed)


def _string_list(raw: Any, key: str, slug: str, path: Path) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) and item.strip() for item in items):
        raise ValueError(f"{path}: school '{slug}': {key} must be a list of non-empty strings")
    return tuple(item.strip() for item in items)


def _school_settings(slug: str, raw: Any, path: Path) -> SchoolSafeguarding:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: school '{slug}' must be a mapping of dsl_readers, notify_email, teams_webhook")
    unknown = sorted(set(raw) - {"dsl_readers", "notify_email", "teams_webhook"})
    if unknown:
        raise ValueError(f"{path}: school '{slug}' has unknown setting(s) {', '.join(map(str, unknown))}; "
                         "known: dsl_readers, notify_email, teams_webhook")
    emails = _string_list(raw.get("notify_email"), "notify_email", slug, path)
    for address in emails:
        if address.count("@") != 1 or any(c.isspace() for c in address):
            raise ValueError(f"{path}: school '{slug}': notify_email {address!r} is not an email address")
    webhook = raw.get("teams_webhook")
    if webhook is not None:
        # The URL is a secret, so the error names the problem, not the value.
        if not isinstance(webhook, str) or urlsplit(webhook).scheme not in ("http", "https") \
                or not urlsplit(webhook).netloc:
            raise ValueError(f"{path}: school '{slug}': teams_webhook must be null or an http(s) URL")
    return SchoolSafeguarding(slug, _string_list(raw.get("dsl_readers"), "dsl_readers", slug, path), emails,
                              webhook or None)
