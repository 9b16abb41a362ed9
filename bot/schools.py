"""School profiles: the facts about each school that answers and hand-offs need (names, dates, leads)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Mapping


from bot import settings
from bot.core.yamlfile import read_yaml

PHASES = ("primary", "secondary", "special")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


@dataclass(frozen=True)
class Contact:
    """A named person (or a role with no name given) that users can be pointed to."""

    name: str | None
    title: str

    def describe(self) -> str:
        """'Lewis Thompson (Online Safety Coordinator)', or just the title when the policy names nobody."""
        return f"{self.name} ({self.title})" if self.name else f"the {self.title}"


@dataclass(frozen=True)
class SchoolProfile:
    """One school's profile, read from data/schools.yml."""

    slug: str
    name: str
    short_name: str
    phase: str
    policy_file: str
    policy_title: str
    policy_date: str
    policy_date_label: str
    next_review: str | None
    reference_prefix: str
    headteacher: str | None = None
    dsl: tuple[str, ...] = ()
    deputy_dsl: tuple[str, ...] = ()
    online_safety_lead: Contact | None = None
    governor: Contact | None = None
    data_protection_officer: str | None = None
    technical_lead: Contact | None = None
    filtering_system: str | None = None
    trust: str | None = None
    local_authority: str | None = None
    aliases: tuple[str, ...] = ()
    other_contacts: tuple[Contact, ...] = ()
    ask_first: str = "dsl"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def policy_path(self) -> Path:
        return settings.policies_dir() / self.policy_file

    @property
    def policy_date_text(self) -> str:
        """The policy date as people write it: 'March 2021', '24 November 2016', '2017'."""
        return format_partial_date(self.policy_date)

    def without_own_name(self, question: str) -> str:
        """The question with this school's own name taken out ("the phone rule at Ouston Primary?" -> "the phone
        rule?"): every passage of its policy names the school, so the name matches boilerplate, not the answer."""
        names = sorted({n for n in (self.name, self.short_name, *self.aliases) if n}, key=len, reverse=True)
        pattern = r"\b(?:(?:at|in|for|of|from)\s+)?(?:" + "|".join(re.escape(n) for n in names) + r")(?:'s)?\b"
        stripped = re.sub(r"\s{2,}", " ", re.sub(pattern, " ", question, flags=re.IGNORECASE)).strip()
        stripped = re.sub(r"\s+([?!.,])", r"\1", stripped)
        return stripped if re.search(r"\w", stripped) else question

    def review_overdue(self, today: date | None = None) -> bool:
        """True when the policy's next review date has passed, so answers should carry a caveat."""
        if not self.next_review:
            return False
        due = _end_of_partial_date(self.next_review)
        return due < (today or date.today())

    def dsl_contact(self) -> Contact:
        """The Designated Safeguarding Lead as a contact, falling back to the role when no name is given."""
        if self.dsl:
            return Contact(" and ".join(self.dsl), "Designated Safeguarding Lead")
        return Contact(None, "Designated Safeguarding Lead")

    def who_to_ask(self) -> Contact:
        """Who to point someone to when the policy is silent: the profile's `ask_first` choice."""
        if self.ask_first == "online_safety_lead" and self.online_safety_lead:
            return self.online_safety_lead
        if self.ask_first == "headteacher" and self.headteacher:
            return Contact(self.headteacher, "Headteacher")
        return self.dsl_contact()


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def format_partial_date(value: str) -> str:
    """'2021-03' -> 'March 2021'; '2016-11-24' -> '24 November 2016'; '2017' -> '2017'."""
    match = _PARTIAL_DATE.match(str(value))
    if not match:
        return str(value)
    year, month, day = match[1], match[2], match[3]
    if not month:
        return year
    text = f"{_MONTHS[int(month) - 1]} {year}"
    return f"{int(day)} {text}" if day else text


def _end_of_partial_date(value: str) -> date:
    """'2019' -> 2019-12-31, '2019-02' -> 2019-02-28: a review due 'in' a month is overdue after it."""
    match = _PARTIAL_DATE.match(str(value))
    if not match:
        raise ValueError(f"bad date {value!r}; expected YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = int(match[1]), match[2], match[3]
    if day:
        return date(year, int(month), int(day))
    if month:
        next_month = date(year + (int(month) == 12), int(month) % 12 + 1, 1)
        return date.fromordinal(next_month.toordinal() - 1)
    return date(year, 12, 31)


def _contact(raw: Any, field_name: str, slug: str) -> Contact | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Contact(raw, field_name.replace("_", " "))
    if isinstance(raw, Mapping) and "title" in raw:
        return Contact(raw.get("name"), str(raw["title"]))
    raise ValueError(f"school '{slug}': {field_name} must be null, a name, or {{name, title}}; got {raw!r}")


def _names(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    return tuple(str(name) for name in raw if name)


_REQUIRED = ("name", "phase", "policy_file", "policy_title", "policy_date")


def _profile(slug: str, raw: Mapping[str, Any]) -> SchoolProfile:
    if not _SLUG.match(slug):
        raise ValueError(f"school slug '{slug}' must be lower-case letters, digits and hyphens")
    missing = [key for key in _REQUIRED if not raw.get(key)]
    if missing:
        raise ValueError(f"school '{slug}' is missing {', '.join(missing)} in schools.yml")
    if raw["phase"] not in PHASES:
        raise ValueError(f"school '{slug}': phase must be one of {', '.join(PHASES)}; got {raw['phase']!r}")
    for key in ("policy_date", "next_review"):
        if raw.get(key):
            _end_of_partial_date(str(raw[key]))  # raises a clear error for a malformed date
    known = {f for f in SchoolProfile.__dataclass_fields__} - {"slug", "extra"}
    return SchoolProfile(
        slug=slug,
        name=str(raw["name"]),
        short_name=str(raw.get("short_name") or raw["name"]),
        phase=str(raw["phase"]),
        policy_file=str(raw["policy_file"]),
        policy_title=str(raw["policy_title"]),
        policy_date=str(raw["policy_date"]),
        policy_date_label=str(raw.get("policy_date_label") or raw["policy_date"]),
        next_review=str(raw["next_review"]) if raw.get("next_review") else None,
        reference_prefix=str(raw.get("reference_prefix") or slug[:4].upper()),
        headteacher=raw.get("headteacher"),
        dsl=_names(raw.get("dsl")),
        deputy_dsl=_names(raw.get("deputy_dsl")),
        online_safety_lead=_contact(raw.get("online_safety_lead"), "online_safety_lead", slug),
        governor=_contact(raw.get("governor"), "governor", slug),
        data_protection_officer=raw.get("data_protection_officer"),
        technical_lead=_contact(raw.get("technical_lead"), "technical_lead", slug),
        filtering_system=raw.get("filtering_system"),
        trust=raw.get("trust"),
        local_authority=raw.get("local_authority"),
        aliases=tuple(str(a).lower() for a in raw.get("aliases") or ()),
        other_contacts=tuple(
            c for c in (_contact(item, "other_contacts", slug) for item in raw.get("other_contacts") or ()) if c
        ),
        ask_first=str(raw.get("ask_first") or "dsl"),
        extra={k: v for k, v in raw.items() if k not in known},
    )


class SchoolDirectory:
    """All known schools, with exact errors for unknown slugs."""

    def __init__(self, profiles: Iterable[SchoolProfile]) -> None:
        self._by_slug = {p.slug: p for p in profiles}

    @classmethod
    def load(cls, path: Path | None = None) -> "SchoolDirectory":
        path = path or settings.schools_file()
        data = read_yaml(path, "school profiles file")
        if not isinstance(data, Mapping) or not isinstance(data.get("schools"), Mapping):
            raise ValueError(f"{path} must contain a 'schools:' mapping of slug -> profile")
        for slug, raw in data["schools"].items():
            if raw is not None and not isinstance(raw, Mapping):
                raise ValueError(f"school '{slug}' in {path} must be a mapping of profile fields; got {raw!r}")
        return cls(_profile(str(slug), raw or {}) for slug, raw in data["schools"].items())

    @property
    def slugs(self) -> list[str]:
        return sorted(self._by_slug)

    def __iter__(self):
        return iter(self._by_slug[s] for s in self.slugs)

    def __len__(self) -> int:
        return len(self._by_slug)

    def __contains__(self, slug: object) -> bool:
        return slug in self._by_slug

    def get(self, slug: str) -> SchoolProfile:
        """The profile for `slug`; unknown slugs raise a ValueError that lists the valid ones."""
        try:
            return self._by_slug[slug]
        except KeyError:
            raise ValueError(f"unknown school {slug!r}; known: {', '.join(self.slugs)}") from None
