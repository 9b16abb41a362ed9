"""The "what to do right now" steps from each school's own policy (data/safeguarding/staff_steps.yml): the loader,
which checks every entry with an error that says where, and the lookup by category."""

from __future__ import annotations

import functools
import logging
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from bot import settings
from bot.safeguarding.handoff.wording import _dsl_role, _names
from bot.safeguarding.types import CATEGORIES
from bot.schools import SchoolProfile

log = logging.getLogger(__name__)

_PLACEHOLDERS = frozenset({"dsl", "online_safety_lead", "school"})


@dataclass(frozen=True)
class StaffStep:
    """One "what to do now" step from a school's own policy, with the verbatim quote and section that say so."""

    text: str
    quote: str
    section: str
    categories: frozenset[str]

    def render(self, profile: SchoolProfile) -> str:
        """The step with {dsl}, {online_safety_lead} and {school} filled from the school's profile."""
        osl = profile.online_safety_lead
        return self.text.format(
            dsl=f"{_names(profile.dsl)} ({_dsl_role(profile)})" if profile.dsl else "the Designated Safeguarding Lead",
            online_safety_lead=osl.describe() if osl else "the online safety lead",
            school=profile.name,
        )


def staff_steps_file() -> Path:
    """Where the per-school staff steps live: data/safeguarding/staff_steps.yml under POLICYBOT_DATA_DIR."""
    return settings.data_dir() / "safeguarding" / "staff_steps.yml"


def load_staff_steps(path: Path | None = None) -> dict[str, tuple[StaffStep, ...]]:
    """Every school's steps by slug. A missing file means no school steps (a new school still gets the general
    guidance); a malformed one raises a ValueError that says where."""
    path = path or staff_steps_file()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        log.warning("no staff steps file at %s; staff get general guidance only", path)
        return {}
    return _load_staff_steps(path, stamp)


@functools.lru_cache(maxsize=4)
def _load_staff_steps(path: Path, stamp: int) -> dict[str, tuple[StaffStep, ...]]:
    # `stamp` (the file's mtime) is part of the cache key, so an edited file is read again.
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        raise ValueError(f"{path} is not valid YAML: {problem}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("schools"), Mapping):
        raise ValueError(f"{path} must contain a 'schools:' mapping of slug -> list of steps")
    groups = _groups(data.get("groups") or {}, path)
    return {str(slug): tuple(_step(raw, groups, f"{path}: school '{slug}' step {i + 1}")
                             for i, raw in enumerate(steps or ()))
            for slug, steps in data["schools"].items()}


def _groups(raw: Any, path: Path) -> dict[str, frozenset[str]]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: 'groups:' must map a group name to a list of categories")
    groups = {}
    for name, members in raw.items():
        unknown = [m for m in members or () if m not in CATEGORIES]
        if unknown:
            raise ValueError(f"{path}: group '{name}' has unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
        groups[str(name)] = frozenset(members or ())
    return groups


def _step(raw: Any, groups: Mapping[str, frozenset[str]], where: str) -> StaffStep:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a mapping with text, quote, section and categories")
    missing = [key for key in ("text", "quote", "section", "categories") if not raw.get(key)]
    if missing:
        raise ValueError(f"{where} is missing {', '.join(missing)}")
    fields = {name for _, name, _, _ in string.Formatter().parse(str(raw["text"])) if name is not None}
    if fields - _PLACEHOLDERS:
        raise ValueError(f"{where}: unknown placeholders {sorted(fields - _PLACEHOLDERS)} in text; "
                         f"known: {', '.join(sorted(_PLACEHOLDERS))}")
    categories: set[str] = set()
    for item in raw["categories"]:
        if item in groups:
            categories |= groups[item]
        elif item in CATEGORIES:
            categories.add(item)
        else:
            raise ValueError(f"{where}: unknown category or group {item!r}; known: "
                             f"{', '.join([*groups, *CATEGORIES])}")
    return StaffStep(str(raw["text"]).strip(), str(raw["quote"]).strip(), str(raw["section"]).strip(),
                     frozenset(categories))


def staff_steps_for(profile: SchoolProfile, category: str) -> tuple[StaffStep, ...]:
    """The school's own steps that apply to this category of concern, in policy-file order."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    return tuple(s for s in load_staff_steps().get(profile.slug, ()) if category in s.categories)
