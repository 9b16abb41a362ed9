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
    #: KCSIE part 4: an allegation about an adult who works with children goes to the headteacher (the chair of
    #: governors when it is about the headteacher), who involves the LADO; not to the DSL list, which may hold the
    #: person accused. When set, staff-conduct concerns are read by these accounts only and notified here only.
    allegation_readers: tuple[str, ...] = ()
    allegation_email: tuple[str, ...] = ()

    @property
    def routes_allegations(self) -> bool:
        return bool(self.allegation_readers)

    def is_reader(self, actor: str) -> bool:
        """True when `actor` is one of the school's DSL reader accounts (case-insensitive)."""
        return _named(actor, self.dsl_readers)

    def is_allegation_reader(self, actor: str) -> bool:
        return _named(actor, self.allegation_readers)

    def may_read(self, actor: str, category: str) -> bool:
        """Whether `actor` may read a concern of `category`: allegations about staff go to the allegation readers
        when the school has them, everything else to the DSL readers."""
        if category == ALLEGATION_CATEGORY and self.routes_allegations:
            return self.is_allegation_reader(actor)
        return self.is_reader(actor)

    def destinations(self, category: str | None = None) -> tuple[tuple[str, str], ...]:
        """(channel, destination) per notification: one per email address, plus the Teams webhook if set; for an
        allegation about staff at a school that routes them, the allegation addresses only (the DSL channel may
        include the person accused)."""
        if category == ALLEGATION_CATEGORY and self.routes_allegations:
            return tuple(("email", address) for address in self.allegation_email)
        found = tuple(("email", address) for address in self.notify_email)
        return found + ((("teams", self.teams_webhook),) if self.teams_webhook else ())


#: The record category that is an allegation about an adult working with children.
ALLEGATION_CATEGORY = "staff_conduct"


def _named(actor: str, accounts: tuple[str, ...]) -> bool:
    wanted = actor.strip().casefold()
    return bool(wanted) and any(wanted == account.casefold() for account in accounts)


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
        raise ValueError(f"{path}: school '{slug}' must be a mapping of {', '.join(_KEYS)}")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ValueError(f"{path}: school '{slug}' has unknown setting(s) {', '.join(map(str, unknown))}; "
                         f"known: {', '.join(_KEYS)}")
    emails = _emails(raw, "notify_email", slug, path)
    allegation_readers = _string_list(raw.get("allegation_readers"), "allegation_readers", slug, path)
    allegation_email = _emails(raw, "allegation_email", slug, path)
    if allegation_email and not allegation_readers:
        raise ValueError(f"{path}: school '{slug}': allegation_email needs allegation_readers (the headteacher, "
                         f"or the chair of governors) to read what it announces")
    webhook = raw.get("teams_webhook")
    if webhook is not None:
        # The URL is a secret, so the error names the problem, not the value.
        if not isinstance(webhook, str) or urlsplit(webhook).scheme not in ("http", "https") \
                or not urlsplit(webhook).netloc:
            raise ValueError(f"{path}: school '{slug}': teams_webhook must be null or an http(s) URL")
    return SchoolSafeguarding(slug, _string_list(raw.get("dsl_readers"), "dsl_readers", slug, path), emails,
                              webhook or None, allegation_readers, allegation_email)


_KEYS = ("dsl_readers", "notify_email", "teams_webhook", "allegation_readers", "allegation_email")


def _emails(raw: Mapping[str, Any], key: str, slug: str, path: Path) -> tuple[str, ...]:
    addresses = _string_list(raw.get(key), key, slug, path)
    for address in addresses:
        if address.count("@") != 1 or any(c.isspace() for c in address):
            raise ValueError(f"{path}: school '{slug}': {key} {address!r} is not an email address")
    return addresses
