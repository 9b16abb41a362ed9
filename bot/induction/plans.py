"""Induction plans: each school's steps per role, read from data/induction/<slug>.yml and held to the school's own
policy text, so every step quotes words that are really in it.

A step's `quote` is matched against the policy file after both are normalised the same way: HTML tags and
entities, `*`/`**`/`__` emphasis and runs of whitespace (line breaks, tabs) are ignored; every other character,
including case and punctuation, must match. `section` must be a heading line of the same file, above the quote.
"""

from __future__ import annotations

import hashlib
import html
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from bot import settings
from bot.induction.roles import ROLE_GROUPS, ROLE_LABELS, ROLES, check_role
from bot.schools import SchoolDirectory, SchoolProfile

#: A plan is short on purpose: people do it one step at a time, on a phone, on their first day.
MAX_STEPS = 8
MAX_QUOTE_CHARS = 400  # "a sentence or two", not a page
MAX_TITLE_CHARS = 60
MAX_LEAD_IN_CHARS = 250
MAX_QUESTION_CHARS = 160
MAX_OPTION_CHARS = 60  # a button title
OPTION_KEYS = ("a", "b", "c")
PLACEHOLDERS = ("dsl", "online_safety_lead", "governor", "school")

DEFAULT_ACKNOWLEDGEMENT = ("I have read and understood the online-safety duties from {school}'s {policy_title} "
                           "shown in this induction, and I will follow them.")

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TOP_KEYS = frozenset({"school", "version", "acknowledgement", "steps"})
_STEP_KEYS = frozenset({"id", "roles", "title", "lead_in", "quote", "section", "check"})
_CHECK_KEYS = frozenset({"question", "options"})
_OPTION_FIELDS = frozenset({"text", "correct"})
_MARKUP = re.compile(r"</?[a-zA-Z][^>]*>|\*+|__|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")
_HEADING_TRIM = " :-–.\t"


# ------------------------------------------------------------------------------------------- policy text


def normalise(text: str) -> str:
    """The form quotes are compared in: markup and emphasis dropped, whitespace collapsed, words untouched."""
    return PolicyText(text).flat


class PolicyText:
    """One policy file, normalised for quote matching, with a map back to offsets in the original file."""

    def __init__(self, source: str) -> None:
        self.source = source
        chars: list[str] = []
        offsets: list[int] = []

        def emit(char: str, at: int) -> None:
            if char.isspace():
                if not chars or chars[-1] == " ":
                    return
                char = " "
            chars.append(char)
            offsets.append(at)

        cursor = 0
        for match in _MARKUP.finditer(source):
            for i in range(cursor, match.start()):
                emit(source[i], i)
            token = match.group()
            if token.startswith("&"):
                for char in html.unescape(token):
                    emit(char, match.start())
            cursor = match.end()
        for i in range(cursor, len(source)):
            emit(source[i], i)
        if chars and chars[-1] == " ":
            chars.pop()
            offsets.pop()
        self.flat = "".join(chars)
        self._offsets = offsets
        self._headings: dict[str, list[int]] | None = None

    def find_all(self, quote: str) -> list[tuple[int, int]]:
        """(start, end) offsets in the original file of every place the normalised quote occurs."""
        needle = normalise(quote)
        if not needle:
            return []
        found, at = [], self.flat.find(needle)
        while at != -1:
            end = at + len(needle) - 1
            found.append((self._offsets[at], self._offsets[end] + 1))
            at = self.flat.find(needle, at + 1)
        return found

    def heading_offsets(self, section: str) -> list[int]:
        """Offsets of the lines that read `section` ('## **8. Filtering of Content**' reads '8. Filtering of
        Content'; a trailing colon or full stop is ignored, as the passages ignore it)."""
        if self._headings is None:
            self._headings = {}
            offset = 0
            for line in self.source.split("\n"):
                key = heading_key(line)
                if key:
                    self._headings.setdefault(key, []).append(offset)
                offset += len(line) + 1
        return self._headings.get(heading_key(section), [])


def heading_key(line: str) -> str:
    """A line as a heading title: markdown marks, emphasis and trailing ':' or '.' removed."""
    return normalise(line.strip().lstrip("#")).strip(_HEADING_TRIM)


# ------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class CheckOption:
    """One button of a step's check question: its key ('a', 'b', 'c' by position), text, and whether it is right."""

    key: str
    text: str
    correct: bool


@dataclass(frozen=True)
class CheckQuestion:
    """The quick question after a step, with 2-3 options of which exactly one is right."""

    question: str
    options: tuple[CheckOption, ...]

    @property
    def correct(self) -> CheckOption:
        return next(option for option in self.options if option.correct)

    def option(self, key: str) -> CheckOption | None:
        return next((option for option in self.options if option.key == key), None)


@dataclass(frozen=True)
class InductionStep:
    """One duty from the school's policy: our one-sentence lead-in, the verbatim quote, where it is, and a check."""

    id: str
    title: str
    lead_in: str
    quote: str
    section: str
    check: CheckQuestion
    roles: frozenset[str]
    start: int  # character offsets of the quote in the school's policy file
    end: int


@dataclass(frozen=True)
class InductionPlan:
    """The steps one role walks through at one school, in order, with the profile the citations need."""

    school: str
    role: str
    version: int
    steps: tuple[InductionStep, ...]
    profile: SchoolProfile
    acknowledgement: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(step.id for step in self.steps)

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class SchoolInduction:
    """Every step a school wrote, for all roles; `plan(role)` picks one role's steps."""

    school: str
    version: int
    steps: tuple[InductionStep, ...]
    profile: SchoolProfile
    acknowledgement: str

    def plan(self, role: str) -> InductionPlan:
        """The steps for `role` in file order; an unknown role raises a ValueError naming the known ones."""
        check_role(role)
        return InductionPlan(self.school, role, self.version, tuple(s for s in self.steps if role in s.roles),
                             self.profile, self.acknowledgement)


# ------------------------------------------------------------------------------------------- loading


def induction_dir() -> Path:
    """data/induction/ under POLICYBOT_DATA_DIR: one <slug>.yml per school."""
    return settings.data_dir() / "induction"


def induction_file(school: str) -> Path:
    return induction_dir() / f"{school}.yml"


_cache: dict[tuple[Any, ...], SchoolInduction] = {}


def load_school_induction(school: str, *, schools: SchoolDirectory | None = None,
                          path: Path | None = None) -> SchoolInduction:
    """A school's induction steps, checked against its policy; any problem raises a ValueError that names the
    file, the school, the step and what is wrong. Cached; re-read when the YAML, the policy or the profile changes."""
    directory = schools if schools is not None else _directory()
    profile = directory.get(school)  # ValueError listing the known schools
    path = path or induction_file(school)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"school '{school}' has no induction steps: {path} not found") from None
    try:
        policy = profile.policy_path.stat()
    except FileNotFoundError:
        raise ValueError(f"school '{school}': policy file {profile.policy_path} not found") from None
    # Keyed on the YAML's content (an edit within the same clock tick still counts), the policy file's stamp and
    # the profile, so the actions re-read an edited file without checking every quote on every turn.
    key = (str(path), hashlib.sha256(raw).hexdigest(), str(profile.policy_path), policy.st_mtime_ns, policy.st_size, repr(profile))
    found = _cache.get(key)
    if found is None:
        if len(_cache) >= 32:
            _cache.clear()
        found = _cache[key] = _load(path, raw.decode("utf-8"), profile)
    return found


def load_plan(school: str, role: str, *, schools: SchoolDirectory | None = None) -> InductionPlan:
    """One role's plan at one school (unknown school or role: ValueError naming the known ones)."""
    check_role(role)
    return load_school_induction(school, schools=schools).plan(role)


_directory_cache: dict[tuple[str, int], SchoolDirectory] = {}


def _directory() -> SchoolDirectory:
    try:
        stamp = settings.schools_file().stat().st_mtime_ns
    except FileNotFoundError:
        stamp = 0  # SchoolDirectory.load says which file is missing
    key = (str(settings.schools_file()), stamp)
    if key not in _directory_cache:
        _directory_cache.clear()
        _directory_cache[key] = SchoolDirectory.load()
    return _directory_cache[key]


def _load(path: Path, text: str, profile: SchoolProfile) -> SchoolInduction:
    where = f"{path.name}: school '{profile.slug}'"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path} is not valid YAML{line}: {getattr(problem, 'problem', problem)}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: the file must be a mapping with school, version and steps")
    unknown = sorted(set(map(str, data)) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}")
    if data.get("school") != profile.slug:
        raise ValueError(f"{where}: the file says school {data.get('school')!r}; it must say '{profile.slug}' "
                         f"(the file name)")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{where}: version must be a whole number from 1 (bump it when the steps change); "
                         f"got {version!r}")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ValueError(f"{where}: steps must be a non-empty list")
    policy = PolicyText(profile.policy_path.read_text(encoding="utf-8"))
    fill = placeholder_values(profile)
    steps: list[InductionStep] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_steps, 1):
        step = _step(raw, number, where, profile, policy, fill)
        if step.id in seen:
            raise ValueError(f"{where} step '{step.id}': the id is used twice; ids must be unique")
        seen.add(step.id)
        steps.append(step)
    for role in ROLES:
        count = sum(role in step.roles for step in steps)
        if count == 0:
            raise ValueError(f"{where}: role '{role}' has no steps; give it at least one (roles: [{role}] or a "
                             f"group: {', '.join(ROLE_GROUPS)})")
        if count > MAX_STEPS:
            raise ValueError(f"{where}: role '{role}' has {count} steps; at most {MAX_STEPS}, so the induction "
                             f"stays short")
    acknowledgement = _fill(str(data.get("acknowledgement") or DEFAULT_ACKNOWLEDGEMENT),
                            {**fill, "policy_title": profile.policy_title}, f"{where}: acknowledgement")
    return SchoolInduction(profile.slug, version, tuple(steps), profile, acknowledgement)


def placeholder_values(profile: SchoolProfile) -> dict[str, str]:
    """What {dsl}, {online_safety_lead}, {governor} and {school} become: a name when the profile has one, else
    the role ('the Designated Safeguarding Lead'), so names live only in data/schools.yml."""
    lead, governor = profile.online_safety_lead, profile.governor
    return {
        "dsl": " and ".join(profile.dsl) if profile.dsl else "the Designated Safeguarding Lead",
        "online_safety_lead": (lead.name or f"the {lead.title}") if lead else "the online safety lead",
        "governor": (governor.name or f"the {governor.title}") if governor else "the governor for online safety",
        "school": profile.name,
    }


def _fill(text: str, values: Mapping[str, str], where: str) -> str:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as problem:
        raise ValueError(f"{where}: {problem} (write a literal brace as {{{{ or }}}})") from None
    unknown = sorted(fields - set(values))
    if unknown:
        raise ValueError(f"{where}: unknown placeholders {', '.join('{' + u + '}' for u in unknown)}; known: "
                         f"{', '.join('{' + k + '}' for k in values)}")
    return text.format(**values).strip()


def _text(raw: Mapping[str, Any], key: str, where: str, limit: int, fill: Mapping[str, str] | None = None) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key} must be non-empty text; got {value!r}")
    text = " ".join((_fill(value, fill, f"{where}: {key}") if fill is not None else value).split())
    if len(text) > limit:
        raise ValueError(f"{where}: {key} is {len(text)} characters; keep it to {limit} at most")
    return text


def _roles(raw: Any, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: roles must be a non-empty list, e.g. [teacher, support_staff] or [staff]")
    roles: set[str] = set()
    for item in raw:
        if item in ROLE_GROUPS:
            roles.update(ROLE_GROUPS[item])
        elif item in ROLES:
            roles.add(item)
        else:
            raise ValueError(f"{where}: unknown role {item!r}; known: {', '.join(ROLES)} or a group: "
                             f"{', '.join(ROLE_GROUPS)}")
    return frozenset(roles)


def _step(raw: Any, number: int, where: str, profile: SchoolProfile, policy: PolicyText,
          fill: Mapping[str, str]) -> InductionStep:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} step {number}: each step must be a mapping with "
                         f"{', '.join(sorted(_STEP_KEYS))}")
    step_id = raw.get("id")
    here = f"{where} step '{step_id}'" if isinstance(step_id, str) and step_id else f"{where} step {number}"
    missing = [key for key in ("id", "roles", "title", "lead_in", "quote", "section", "check") if key not in raw]
    if missing:
        raise ValueError(f"{here} is missing {', '.join(missing)}")
    unknown = sorted(set(map(str, raw)) - _STEP_KEYS)
    if unknown:
        raise ValueError(f"{here}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(_STEP_KEYS))}")
    if not isinstance(step_id, str) or not _ID.match(step_id):
        raise ValueError(f"{here}: id must be lower-case letters, digits and hyphens; got {step_id!r}")
    quote = _text(raw, "quote", here, MAX_QUOTE_CHARS)
    section = _text(raw, "section", here, 200)
    places = policy.find_all(quote)
    if not places:
        shown = quote if len(quote) <= 80 else quote[:77] + "..."
        raise ValueError(f"{here}: quote not found verbatim in {profile.policy_file} (line breaks, tabs and "
                         f"**bold**/*italic*/HTML markup are ignored; every other character must match): {shown!r}")
    headings = policy.heading_offsets(section)
    if not headings:
        raise ValueError(f"{here}: section {section!r} is not a heading line in {profile.policy_file}")
    under = [(start, end) for start, end in places if any(h < start for h in headings)]
    if not under:
        raise ValueError(f"{here}: the quote is not below the heading {section!r} in {profile.policy_file}")
    start, end = under[0]
    return InductionStep(
        id=step_id,
        title=_text(raw, "title", here, MAX_TITLE_CHARS, fill),
        lead_in=_text(raw, "lead_in", here, MAX_LEAD_IN_CHARS, fill),
        quote=quote,
        section=section,
        check=_check(raw["check"], here, fill),
        roles=_roles(raw["roles"], here),
        start=start,
        end=end,
    )


def _check(raw: Any, where: str, fill: Mapping[str, str]) -> CheckQuestion:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: check must be a mapping with question and options")
    unknown = sorted(set(map(str, raw)) - _CHECK_KEYS)
    if unknown:
        raise ValueError(f"{where}: check has unknown keys {', '.join(unknown)}; known: question, options")
    question = _text(raw, "question", f"{where} check", MAX_QUESTION_CHARS, fill)
    raw_options = raw.get("options")
    if not isinstance(raw_options, list) or not 2 <= len(raw_options) <= len(OPTION_KEYS):
        raise ValueError(f"{where}: check needs 2 or 3 options; got "
                         f"{len(raw_options) if isinstance(raw_options, list) else repr(raw_options)}")
    options: list[CheckOption] = []
    for key, item in zip(OPTION_KEYS, raw_options):
        here = f"{where} check option {key}"
        if not isinstance(item, Mapping):
            raise ValueError(f"{here}: must be a mapping like {{text: ..., correct: true}}")
        unknown = sorted(set(map(str, item)) - _OPTION_FIELDS)
        if unknown:
            raise ValueError(f"{here}: unknown keys {', '.join(unknown)}; known: text, correct")
        correct = item.get("correct", False)
        if not isinstance(correct, bool):
            raise ValueError(f"{here}: correct must be true or false; got {correct!r}")
        options.append(CheckOption(key, _text(item, "text", here, MAX_OPTION_CHARS, fill), correct))
    right = [option.key for option in options if option.correct]
    if len(right) != 1:
        raise ValueError(f"{where}: check needs exactly one option marked correct: true; "
                         f"got {len(right)}{' (' + ', '.join(right) + ')' if right else ''}")
    texts = [option.text.lower() for option in options]
    if len(set(texts)) != len(texts):
        raise ValueError(f"{where}: check options must all be different")
    return CheckQuestion(question, tuple(options))
