"""The web chat's settings: config/webchat.yml (or the file POLICYBOT_WEB_CONFIG names), with the POLICYBOT_WEB_*
environment variables on top, checked at start-up with exact errors."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot import settings as bot_settings
from bot.core.roles import PERSON_ROLES
from channels.webchat.security import OriginPolicy, load_secret, normalise_origin

CONFIG_ENV = "POLICYBOT_WEB_CONFIG"
ORIGINS_ENV = "POLICYBOT_WEB_ALLOWED_ORIGINS"
SECRET_ENV = "POLICYBOT_WEB_SECRET"
DEFAULT_CONFIG = bot_settings.PROJECT_ROOT / "config" / "webchat.yml"
#: Roles a chat page may be opened as: the people the assistant answers (`any` is not a page).
PAGE_ROLES = PERSON_ROLES
_KEYS = ("allowed_origins", "roles", "conversation_hours")


@dataclass(frozen=True)
class WebChatSettings:
    """Allowed origins besides the server's own, the roles the pages offer (the first is the default), and how
    long a browser may keep continuing one conversation."""

    allowed_origins: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("pupil", "parent")
    conversation_hours: float = 12.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_origins",
                           tuple(dict.fromkeys(normalise_origin(o) for o in self.allowed_origins)))
        if not self.roles:
            raise ValueError(f"the web chat needs at least one role; choose from {', '.join(PAGE_ROLES)}")
        for role in self.roles:
            if role not in PAGE_ROLES:
                raise ValueError(f"unknown web chat role {role!r}; known: {', '.join(PAGE_ROLES)}")
        hours = self.conversation_hours
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24 * 30:
            raise ValueError(f"conversation_hours must be a number of hours above 0 and at most 720; got {hours!r}")

    @property
    def origin_policy(self) -> OriginPolicy:
        return OriginPolicy(self.allowed_origins)

    @classmethod
    def load(cls, path: Path | None = None, env: Mapping[str, str] | None = None) -> "WebChatSettings":
        """Read the file (the default one may be absent), then add POLICYBOT_WEB_ALLOWED_ORIGINS (comma- or
        space-separated) to its allowed origins."""
        env = os.environ if env is None else env
        named = path or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
        path = named or DEFAULT_CONFIG
        raw: object = {}
        if named is not None or path.exists():
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except FileNotFoundError:
                raise ValueError(f"web chat settings file not found: {path}") from None
            except yaml.YAMLError as problem:
                raise ValueError(f"{path} is not valid YAML: {getattr(problem, 'problem', problem)}") from None
        if not isinstance(raw, Mapping):
            raise ValueError(f"{path} must be a mapping of settings ({', '.join(_KEYS)})")
        unknown = [str(key) for key in raw if key not in _KEYS]
        if unknown:
            raise ValueError(f"{path}: unknown setting {unknown[0]!r}; known: {', '.join(_KEYS)}")
        origins = raw.get("allowed_origins") or []
        if isinstance(origins, str) or not isinstance(origins, list):
            raise ValueError(f"{path}: allowed_origins must be a list like [https://www.school.example]")
        origins = [*origins, *(o for o in re.split(r"[,\s]+", env.get(ORIGINS_ENV, "")) if o)]
        roles = raw.get("roles", cls.roles)
        if isinstance(roles, str) or not isinstance(roles, (list, tuple)):
            raise ValueError(f"{path}: roles must be a list like [pupil, parent]")
        return cls(allowed_origins=tuple(origins), roles=tuple(str(r) for r in roles),
                   conversation_hours=raw.get("conversation_hours", cls.conversation_hours))


def server_secret(env: Mapping[str, str] | None = None) -> bytes:
    """POLICYBOT_WEB_SECRET, else `<artifacts>/webchat-secret` (created 0600 on first use)."""
    env = os.environ if env is None else env
    return load_secret(bot_settings.artifacts_dir() / "webchat-secret", env.get(SECRET_ENV))
