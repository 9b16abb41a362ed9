"""The reply a person gets when they disclose harm or raise a concern: the DSL hand-off.

It follows Keeping Children Safe in Education and the NSPCC's advice on responding to a disclosure: thank them,
say it is not their fault, say honestly who it goes to and what happens next, never promise secrecy, ask no
leading questions, put 999 first when someone is in danger now, and signpost Childline, CEOP and Samaritans.
Staff, governors and visitors also get "what to do right now" steps quoted from their own school's policy
(data/safeguarding/staff_steps.yml), kept apart from general guidance that is not the school's.
"""

from __future__ import annotations

import functools
import logging
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from bot import settings
from bot.retrieval import canonical_role
from bot.safeguarding.types import CATEGORIES, CEOP_CATEGORIES, ScreenResult
from bot.schools import SchoolProfile, format_partial_date

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------------------
# Core wording. Kept here, not in data, because it is the safeguarding practice itself rather than school detail.
# ---------------------------------------------------------------------------------------------------------------

CHILDLINE_NUMBER = "0800 1111"
SAMARITANS_NUMBER = "116 123"
CEOP_URL = "ceop.police.uk"
NSPCC_WHISTLEBLOWING_NUMBER = "0800 028 0285"

#: The only invitation to say more: open, optional, and no question mark, so it can't lead.
OPEN_INVITATION = "If you want to, you can tell me more in your own words."

#: The reply when nothing else works (no school known, action server down): no school, no record, no claims.
SAFE_SIGNPOSTING_MESSAGES: tuple[str, ...] = (
    "If you are in danger right now, call 999.",
    "Please tell an adult you trust at school today, such as a teacher or the school's Designated Safeguarding "
    "Lead (the person at school whose job is to keep children safe).",
    f"Children and young people can talk to Childline for free, any time: call {CHILDLINE_NUMBER} or go to "
    "childline.org.uk.",
)
#: The same as one plain text, for a channel that can only send a single message and has no school profiles.
SAFE_SIGNPOSTING = " ".join(SAFE_SIGNPOSTING_MESSAGES)

_SAFE_SIGNPOSTING_ADULT: tuple[str, ...] = (
    "If anyone is in danger right now, call 999.",
    "Please contact the school today and ask to speak to the Designated Safeguarding Lead (the person whose job "
    "is to keep children safe). If you work or volunteer at the school, tell them in person and follow the "
    "school's safeguarding procedure.",
    f"Children and young people can talk to Childline for free, any time: call {CHILDLINE_NUMBER} or go to "
    "childline.org.uk.",
)


@dataclass(frozen=True)
class GeneralStep:
    """A step from national guidance (KCSIE, NSPCC, UKCIS), shown to adults as general guidance, never as the
    school's policy."""

    text: str
    categories: frozenset[str] | None = None  # None: every category
    roles: frozenset[str] | None = None  # canonical roles; None: staff, governors and visitors alike


#: What KCSIE and the NSPCC ask of any adult who is told something or notices a worry, whatever the school.
GENERAL_STAFF_STEPS: tuple[GeneralStep, ...] = (
    GeneralStep("As a visitor, tell the member of staff you are working with, or the school office, that you "
                "need to speak to the Designated Safeguarding Lead today.", roles=frozenset({"visitor"})),
    GeneralStep("Listen, stay calm and let the child use their own words. Don't ask leading questions and don't "
                "investigate yourself."),
    GeneralStep("Be honest with the child that you have to pass it on so that they can be kept safe."),
    GeneralStep("Write down what you were told, in the child's words, as soon as you can, with the date and "
                "time; sign it."),
    GeneralStep("Don't view, copy, print, share, store or delete any image, and don't ask a child to; if a device "
                "is involved, secure it and hand it to the DSL (UKCIS guidance on sharing nudes and semi-nudes).",
                categories=frozenset({"online_sexual", "grooming"})),
    GeneralStep("If the concern is about a member of staff, tell the headteacher (or the chair of governors if it "
                "is about the headteacher) and don't discuss it with the person concerned. If you can't raise it "
                f"at school, the NSPCC Whistleblowing Advice Line is {NSPCC_WHISTLEBLOWING_NUMBER}.",
                categories=frozenset({"staff_conduct"})),
    GeneralStep("If the child has hurt themselves or taken something, get first aid or call 999 now, and don't "
                "leave them alone while they are at risk.", categories=frozenset({"self_harm"})),
    GeneralStep(f"Childline ({CHILDLINE_NUMBER}) and, for older pupils and adults, Samaritans ({SAMARITANS_NUMBER}) "
                "are free to call, any time.", categories=frozenset({"self_harm"})),
)

#: Pupils at these phases get very short, simple sentences and no unexplained jargon.
_SIMPLE_PHASES = frozenset({"primary", "special"})
#: Who the wording is for: an unknown asker may be a child who didn't say so, so they get the pupil reply.
_AUDIENCE = {"pupil": "pupil", "any": "pupil", "parent": "parent", "staff": "staff", "governor": "staff",
             "visitor": "staff"}
#: Words that fit each phase: the children a DSL keeps safe, the adult to go to, the adults a child knows.
_PHASE_WORDS: dict[str, dict[str, str]] = {
    "primary": {"children": "children", "adult": "grown-up", "an_adult": "a grown-up", "teacher": "your teacher"},
    "special": {"children": "pupils", "adult": "adult", "an_adult": "an adult",
                "teacher": "your class teacher or key worker"},
    "secondary": {"children": "students", "adult": "adult", "an_adult": "an adult",
                  "teacher": "your form tutor or any teacher"},
}
_DESIGNATED = re.compile(r"Designated (?:Safeguarding|Child Protection) Lead", re.I)
#: Signposts named in the reply, found by the number or address the reply gives (so a policy quote that merely
#: mentions "CEOP" doesn't count as signposting it).
_SIGNPOST_MARKERS: tuple[tuple[str, str], ...] = (
    ("999", "999"),
    ("Childline", CHILDLINE_NUMBER),
    ("Samaritans", SAMARITANS_NUMBER),
    ("CEOP", CEOP_URL),
    ("NSPCC Whistleblowing", NSPCC_WHISTLEBLOWING_NUMBER),
)


@dataclass(frozen=True)
class Handoff:
    """The hand-off reply: short chat bubbles in order, the reference it was stored under, the services named."""

    messages: tuple[str, ...]
    reference: str | None
    signposts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 2 <= len(self.messages) <= 5:
            raise ValueError(f"a hand-off has 2 to 5 messages; got {len(self.messages)}")
        if any(not m.strip() for m in self.messages):
            raise ValueError("a hand-off message is empty")

    @property
    def text(self) -> str:
        """All bubbles as one text, for channels that send a single message."""
        return "\n\n".join(self.messages)


# ---------------------------------------------------------------------------------------------------------------
# Staff steps from each school's own policy.
# ---------------------------------------------------------------------------------------------------------------

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


def general_steps_for(role: str | None, category: str) -> tuple[str, ...]:
    """The general-guidance steps (not the school's) for an adult in this role and this category of concern."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    canonical = canonical_role(role)
    chosen = [s for s in GENERAL_STAFF_STEPS
              if (s.categories is None or category in s.categories) and (s.roles is None or canonical in s.roles)]
    # Steps specific to this role or category come first: they change who to tell, so they matter most.
    chosen.sort(key=lambda s: s.categories is None and s.roles is None)
    return tuple(s.text for s in chosen)


# ---------------------------------------------------------------------------------------------------------------
# Names and phrases.
# ---------------------------------------------------------------------------------------------------------------


def _names(names: tuple[str, ...]) -> str:
    return " and ".join(names)


def _dsl_role(profile: SchoolProfile) -> str:
    return "Designated Safeguarding Leads" if len(profile.dsl) > 1 else "Designated Safeguarding Lead"


def _dsl_adult(profile: SchoolProfile) -> str:
    """'Claire Richardson, the Designated Safeguarding Lead', or "the school's Designated Safeguarding Lead"."""
    if profile.dsl:
        return f"{_names(profile.dsl)}, the {_dsl_role(profile)}"
    return "the school's Designated Safeguarding Lead"


def _dsl_short(profile: SchoolProfile) -> str:
    """The DSL by name for a second mention, or the role."""
    return _names(profile.dsl) if profile.dsl else "the Designated Safeguarding Lead"


def _dsl_plain(profile: SchoolProfile, children: str) -> str:
    """The DSL for a secondary pupil: name and title, with what the title means."""
    people = "people" if len(profile.dsl) > 1 else "person"
    meaning = f"the {people} at school whose job is to keep {children} safe"
    if profile.dsl:
        return f"{_names(profile.dsl)}, the {_dsl_role(profile)} ({meaning})"
    return f"the school's Designated Safeguarding Lead ({meaning})"


def _extra_online_lead(profile: SchoolProfile, category: str) -> str | None:
    """The online safety lead's name or None, when an online-safety concern should also go to someone other than
    the DSL (several schools' online safety lead *is* the DSL, so naming both would name one person twice)."""
    lead = profile.online_safety_lead
    if category != "online_safety" or lead is None or _DESIGNATED.search(lead.title):
        return None
    if lead.name and lead.name == _names(profile.dsl):
        return None
    return lead.name or ""


def _with_online_lead(dsl: str, profile: SchoolProfile, category: str) -> str:
    """The DSL phrase, plus the online safety lead for an online-safety concern when that is someone else."""
    extra = _extra_online_lead(profile, category)
    if extra is None:
        return dsl
    return f"{dsl}, and {extra + ', ' if extra else ''}the school's online safety lead"


def _sentences(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


# ---------------------------------------------------------------------------------------------------------------
# The hand-off.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ask:
    """Everything one reply depends on, worked out once."""

    profile: SchoolProfile
    role: str  # canonical
    audience: str  # pupil | parent | staff
    simple: bool
    words: Mapping[str, str]
    label: str
    urgency: str
    category: str
    reference: str | None
    recorded: bool

    @property
    def immediate(self) -> bool:
        return self.urgency == "immediate"

    @property
    def disclosure(self) -> bool:
        return self.label == "disclosure"

    @property
    def ceop(self) -> bool:
        return self.category in CEOP_CATEGORIES

    @property
    def self_harm(self) -> bool:
        return self.category == "self_harm"

    @property
    def older(self) -> bool:
        """Old enough for Samaritans: any adult, and pupils outside primary school."""
        return self.audience != "pupil" or self.profile.phase != "primary"

    @property
    def mention_999_later(self) -> bool:
        """A 999 reminder at the end: every disclosure, and any reply that couldn't reach the school."""
        return not self.immediate and (self.disclosure or not self.recorded)


def compose_handoff(profile: SchoolProfile, role: str | None, result: ScreenResult, reference: str | None, *,
                    recorded: bool) -> Handoff:
    """The reply to a disclosure or concern, for this school, role and screen result.

    `recorded=False` means the concern store was unavailable: the reply then claims nothing was passed on and asks
    the person to tell someone at school in person today; `reference` is ignored, as nothing is stored under it.
    """
    canonical = canonical_role(role)
    if not result.hand_off:
        raise ValueError(f"only disclosures and concerns are handed off; got label {result.label!r}")
    audience = _AUDIENCE[canonical]
    ask = _Ask(
        profile=profile, role=canonical, audience=audience,
        simple=audience == "pupil" and profile.phase in _SIMPLE_PHASES,
        words=_PHASE_WORDS.get(profile.phase, _PHASE_WORDS["secondary"]),
        label=result.label,
        # A disclosure is never dropped for want of an urgency: it is handled as standard at least.
        urgency=result.urgency if result.urgency != "none" else "standard",
        category=result.category,
        reference=(reference or None) if recorded else None,
        recorded=recorded,
    )
    if audience == "pupil":
        messages = _pupil_simple(ask) if ask.simple else _pupil_plain(ask)
    elif audience == "parent":
        messages = _parent(ask)
    else:
        messages = _staff(ask)
    messages = tuple(m for m in messages if m)  # a bubble whose every part was optional and absent
    return Handoff(messages=messages, reference=ask.reference, signposts=_signposts(messages))


def _signposts(messages: tuple[str, ...]) -> tuple[str, ...]:
    text = "\n".join(messages)
    found = [(text.find(marker), name) for name, marker in _SIGNPOST_MARKERS if marker in text]
    return tuple(name for _, name in sorted(found))


def _reference(ask: _Ask) -> str | None:
    if not ask.reference:
        return None
    return f"Your reference number is {ask.reference}." if ask.simple else f"Your reference is {ask.reference}."


def _pupil_plain(ask: _Ask) -> tuple[str, ...]:
    """Secondary pupils (and unknown askers at secondary schools): plain, warm, honest."""
    p, w = ask.profile, ask.words
    dsl = _dsl_plain(p, w["children"])
    bubbles: list[str] = []
    if ask.immediate:
        bubbles.append(_sentences(
            "If you are in danger right now, call 999.",
            "I'm a computer program, so I can't send help myself.",
            "If you can, go somewhere safe and tell an adult you trust.",
            "If you have hurt yourself badly or taken something, call 999 or go to A&E now." if ask.self_harm
            else None,
        ))
    if ask.disclosure:
        bubbles.append(_sentences(
            "Thank you for telling me.", "You did the right thing, and it is not your fault.",
            "You are not in trouble for feeling like this." if ask.self_harm else None,
        ))
    else:
        bubbles.append("Thank you for telling me about this. You did the right thing, and you are not in trouble.")
    if ask.recorded:
        to = _with_online_lead(dsl, p, ask.category)
        if ask.disclosure:
            bubbles.append(_sentences(
                f"I have passed this on to {to}.",
                "They will read it as soon as possible, and on a school day that should be today.",
                "They may want to talk to you, and they will work out with you how to keep you safe.",
                "They will only share it with people who need to know, to help keep you safe.",
                _reference(ask),
            ))
        else:
            bubbles.append(_sentences(
                f"I have passed it on to {to}.",
                "They will look at it as soon as they can and may talk to you about it.",
                _reference(ask),
            ))
    else:
        bubbles.append(_sentences(
            "Something went wrong on my side, so your message has not reached anyone at school yet.",
            f"Please tell an adult you trust at school today, such as {dsl}, {w['teacher']}.",
        ))
    bubbles.append(_sentences(
        OPEN_INVITATION if ask.recorded and ask.disclosure else None,
        "If you are worried or anything changes, tell an adult you trust at school." if not ask.disclosure
        and ask.recorded else None,
        f"If you want to talk to someone now, Childline is free and open any time: call {CHILDLINE_NUMBER} or go "
        "to childline.org.uk.",
        f"You can also call Samaritans free on {SAMARITANS_NUMBER}, any time." if ask.self_harm and ask.older
        else None,
        "If you are ever in danger, call 999." if ask.mention_999_later else None,
    ))
    if ask.ceop:
        bubbles.append(
            "You can also report what happened online to CEOP, the National Crime Agency's online child protection "
            f"service: go to {CEOP_URL} and press \"Report to CEOP\"."
        )
    return tuple(bubbles)


def _pupil_simple(ask: _Ask) -> tuple[str, ...]:
    """Primary (and special school) pupils: very short sentences, everyday words, jargon explained away."""
    p, w = ask.profile, ask.words
    adult, an_adult, children = w["adult"], w["an_adult"], w["children"]
    bubbles: list[str] = []
    if ask.immediate:
        bubbles.append(_sentences(
            "If you are in danger right now, call 999.",
            f"Or tell {an_adult} near you now.",
            "I am a computer, so I can't come and help you myself.",
            f"If you have hurt yourself, tell {an_adult} now." if ask.self_harm else None,
        ))
    if ask.disclosure:
        bubbles.append("Thank you for telling me. You did the right thing. It is not your fault. "
                       "You are not in trouble.")
    else:
        bubbles.append("Thank you for telling me. You did the right thing. You are not in trouble.")
    # Said right after the DSL's name(s), so "They" can only mean them.
    who = None
    if p.dsl:
        who = (f"They are the people at school whose job is to keep {children} safe." if len(p.dsl) > 1
               else f"{p.dsl[0]} is the person at school whose job is to keep {children} safe.")
    extra = _extra_online_lead(p, ask.category)
    if ask.recorded:
        to = _names(p.dsl) if p.dsl else f"the person at school whose job is to keep {children} safe"
        if extra is not None:
            to = f"{to} and {extra or f'the person who helps keep {children} safe online'}"
        bubbles.append(_sentences(
            f"I have sent your message to {to}.",
            who,
            "They will read it soon." if ask.disclosure else "They will look at it soon.",
            "They may come and talk to you.",
            "They will help you to stay safe." if ask.disclosure else None,
            f"They might need to tell other {adult}s who can help." if ask.disclosure else None,
            _reference(ask),
        ))
    else:
        bubbles.append(_sentences(
            "Something went wrong, so your message did not get to anyone at school.",
            f"Please tell {an_adult} you trust at school today.",
            f"You could tell {w['teacher']}.",
            f"Or tell {_names(p.dsl)}." if p.dsl else None,
            who if p.dsl else f"Or tell the person at school whose job is to keep {children} safe.",
        ))
    bubbles.append(_sentences(
        OPEN_INVITATION if ask.recorded and ask.disclosure else None,
        f"If you feel worried, tell {an_adult} you trust at school." if not ask.disclosure and ask.recorded
        else None,
        "You can also talk to Childline.", "It is free, day or night.",
        f"Call {CHILDLINE_NUMBER} or go to childline.org.uk.",
        f"You can also call Samaritans free on {SAMARITANS_NUMBER}." if ask.self_harm and ask.older else None,
        "If you are ever in danger, call 999." if ask.mention_999_later else None,
    ))
    if ask.ceop:
        bubbles.append(_sentences(
            "You can also tell CEOP about something that happened online.",
            f"CEOP helps keep {children} safe online.",
            f"Go to {CEOP_URL} and press \"Report to CEOP\".",
        ))
    return tuple(bubbles)


def _parent(ask: _Ask) -> tuple[str, ...]:
    """Parents and carers: thanks, who has it and what happens next, how to reach the school, the right services."""
    p = ask.profile
    bubbles: list[str] = []
    if ask.immediate:
        bubbles.append(_sentences(
            "If anyone is in danger right now, call 999.",
            "If your child has hurt themselves badly or taken something, call 999 or go to A&E now."
            if ask.self_harm else None,
        ))
    if ask.recorded:
        to = _with_online_lead(_dsl_adult(p), p, ask.category)
        if ask.disclosure:
            bubbles.append(_sentences(
                f"Thank you for letting me know. I have passed this to {to}.",
                "They will read it as soon as possible, and on a school day that should be today.",
                "They may contact you to talk it through, and they will talk with you about what happens next "
                "to keep children safe.",
                "If it is needed to keep a child safe, they may share it with other services, such as children's "
                "social care or the police.",
                _reference(ask), "Please quote it if you contact the school." if ask.reference else None,
            ))
        else:
            bubbles.append(_sentences(
                f"Thank you for letting me know. I have passed it to {to}.",
                "They will look at it as soon as they can and may contact you about it.",
                _reference(ask),
            ))
    else:
        bubbles.append(_sentences(
            "Thank you for letting me know.",
            "Something went wrong on my side, so this has not reached the school yet.",
            f"Please contact {p.name} directly today and ask to speak to {_dsl_adult(p)}.",
        ))
    bubbles.append(_sentences(
        f"You can also contact {p.name} directly." if ask.recorded else None,
        OPEN_INVITATION if ask.recorded and ask.disclosure else None,
        f"Your child can talk to Childline free, any time, on {CHILDLINE_NUMBER} or at childline.org.uk." if
        ask.self_harm else None,
        f"Samaritans are free on {SAMARITANS_NUMBER} for anyone, any time." if ask.self_harm else None,
        "If a child is ever in immediate danger, call 999." if ask.mention_999_later else None,
    ))
    if ask.ceop:
        bubbles.append(
            "You can also report online sexual contact or grooming to CEOP, the National Crime Agency's online "
            f"child protection service, at {CEOP_URL} (\"Report to CEOP\")."
        )
    return tuple(bubbles)


def _staff(ask: _Ask) -> tuple[str, ...]:
    """Staff, governors and visitors: the hand-off, then the school's own steps, then general guidance."""
    p = ask.profile
    bubbles: list[str] = []
    if ask.immediate:
        bubbles.append("If anyone is in danger right now, call 999. Don't wait for a reply here.")
    deputy = (f", or {_names(p.deputy_dsl)} (Deputy Designated Safeguarding Lead) if they are not available"
              if p.deputy_dsl else "")
    ceop = (f"Online sexual abuse and grooming can be reported to CEOP, the National Crime Agency's online child "
            f"protection service ({CEOP_URL}, \"Report to CEOP\"); the DSL normally decides this."
            if ask.ceop else None)
    later_999 = "If a child is in immediate danger, call 999." if ask.mention_999_later else None
    if ask.recorded:
        to = _with_online_lead(_dsl_adult(p), p, ask.category)
        bubbles.append(_sentences(
            f"Thank you for raising this. I have passed it to {to}.",
            "They will read it as soon as possible, and on a school day that should be today." if ask.disclosure
            else "They will look at it as soon as they can.",
            _reference(ask),
            f"This does not replace {p.name}'s own safeguarding procedure: speak to {_dsl_short(p)} in person "
            f"today as well{deputy}.",
            later_999, ceop,
        ))
    else:
        bubbles.append(_sentences(
            "Thank you for raising this.",
            f"Something went wrong on my side, so this has not reached {_dsl_short(p)} yet.",
            f"Please tell {_dsl_adult(p)}{',' if p.dsl else ''} in person today{deputy}, and follow {p.name}'s own "
            "safeguarding procedure.",
            later_999, ceop,
        ))
    bubbles.append(_school_steps(ask))
    general = general_steps_for(ask.role, ask.category)
    bubbles.append(f"General safeguarding guidance (Keeping Children Safe in Education), not from {p.name}'s "
                   "policy:\n" + "\n".join(f"• {step}" for step in general))
    return tuple(bubbles)


def _school_steps(ask: _Ask) -> str:
    """The school's own steps for this category, each with its section and verbatim quote."""
    p = ask.profile
    steps = staff_steps_for(p, ask.category)
    source = f"{p.name}'s {p.policy_title} ({p.policy_date_text})"
    if not steps:
        return (f"{source} doesn't set out steps for this kind of concern, so follow the school's safeguarding and "
                f"child protection procedure and speak to {_dsl_short(p)} today.")
    lines = [f"What {source} says to do:"]
    for step in steps:
        section = step.section.rstrip(":")
        lines.append(f"• {step.render(p)}\n  ({section}: “{step.quote}”)")
    if p.review_overdue() and p.next_review:
        lines.append(f"This policy was due for review by {format_partial_date(p.next_review)}, so check with "
                     f"{_dsl_short(p)} that it is still how the school works.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Safe signposting and the report form.
# ---------------------------------------------------------------------------------------------------------------


def safe_signposting(role: str | None) -> tuple[str, ...]:
    """The reply when nothing else works (no school known, action server down): 999, a trusted adult at school
    today, Childline; it claims nothing was recorded. An unknown role gets the reply for a child."""
    canonical = canonical_role(role)
    return SAFE_SIGNPOSTING_MESSAGES if _AUDIENCE[canonical] == "pupil" else _SAFE_SIGNPOSTING_ADULT


#: The keys of `report_form_prompts`, in the order a form asks them.
REPORT_FORM_KEYS: tuple[str, ...] = ("intro", "what_happened", "who_involved", "when_where", "danger_now",
                                     "danger_now_yes", "give_name", "cancel_hint")


def report_form_prompts(profile: SchoolProfile, role: str | None) -> dict[str, str]:
    """The wording for a conversational "report a concern" form: open, neutral prompts, honest about who reads
    the answers, every step skippable, and a way out at any time."""
    canonical = canonical_role(role)
    audience = _AUDIENCE[canonical]
    words = _PHASE_WORDS.get(profile.phase, _PHASE_WORDS["secondary"])
    children = words["children"]
    if audience == "pupil" and profile.phase in _SIMPLE_PHASES:
        reader = (_names(profile.dsl) if profile.dsl
                  else f"the person at school whose job is to keep {children} safe")
        adult = words["adult"]
        return {
            "intro": _sentences(
                "I will ask you a few short questions.",
                f"{reader[0].upper() + reader[1:]} will read what you write.",
                f"They might tell other {adult}s who can help keep you safe.",
                "You can say 'stop' at any time."),
            "what_happened": "What happened? Tell me in your own words.",
            "who_involved": "Who is it about? You can say 'skip' if you don't want to say.",
            "when_where": "When and where did it happen? You can say 'not sure'.",
            "danger_now": "Is anyone in danger right now? Please say yes or no.",
            "danger_now_yes": f"Please call 999 now. Or tell {words['an_adult']} near you now. "
                              "I am a computer, so I can't come and help you myself.",
            "give_name": _sentences(
                "Do you want to tell me your name?", "You don't have to.",
                "If you do, someone at school can talk to you and help.",
                f"If you don't, {adult}s at school may still need to act on what you told me.",
                "They may need to tell people who can help keep everyone safe."),
            "cancel_hint": "You can say 'stop' at any time.",
        }
    if audience == "pupil":
        dsl = _dsl_plain(profile, children)
        return {
            "intro": _sentences(
                "I'll ask you a few short questions.",
                f"What you write will go to {dsl}.",
                "They may share it with people who need to know, to keep you or someone else safe.",
                "You can say 'stop' any time."),
            "what_happened": "What happened? Please tell me in your own words, as much or as little as you want.",
            "who_involved": "Who is involved? You can say 'skip' if you don't want to say.",
            "when_where": "When and where did it happen? It's fine to say 'not sure'.",
            "danger_now": "Is anyone in danger right now? Please answer yes or no.",
            "danger_now_yes": "Please call 999 now, or tell an adult near you straight away. "
                              "I'm a computer program, so I can't send help myself.",
            "give_name": _sentences(
                "Do you want to give your name?", "You don't have to.",
                "If you do, the school can talk to you and help.",
                "Even if you don't, staff may still need to act on what you've told me, and share it with people "
                "who need to know to keep everyone safe."),
            "cancel_hint": "You can say 'stop' any time.",
        }
    return {
        "intro": _sentences(
            "I'll ask a few short questions.",
            f"Your answers will go to {_dsl_adult(profile)}{f' at {profile.name}' if profile.dsl else ''}, who may "
            "share them with people who need to know to keep a child safe.",
            "You can say 'stop' any time."),
        "what_happened": "What happened? Please describe it in your own words.",
        "who_involved": "Who is involved? You can say 'skip'.",
        "when_where": "When and where did it happen? Say 'not sure' if you don't know.",
        "danger_now": "Is anyone in danger right now? Please answer yes or no.",
        "danger_now_yes": "Please call 999 now.",
        "give_name": _sentences(
            "Would you like to give your name and how the school can contact you?",
            "You can say 'skip', but the school may need to contact you to help keep a child safe."),
        "cancel_hint": "You can say 'stop' any time.",
    }


def gentle_offer(profile: SchoolProfile, role: str | None) -> str:
    """Added after the answer to a question on a sensitive topic: an open door, with no assumption that anything
    has happened and no question to answer."""
    audience = _AUDIENCE[canonical_role(role)]
    words = _PHASE_WORDS.get(profile.phase, _PHASE_WORDS["secondary"])
    if audience == "pupil":
        return (f"If this is about something happening to you or someone you know, you can tell me here, or talk to "
                f"{_dsl_plain(profile, words['children'])} or another adult you trust. Childline is free and "
                f"there any time: {CHILDLINE_NUMBER}.")
    if audience == "parent":
        return (f"If this is about something happening to your child or another child, you can tell me here or "
                f"contact {_dsl_adult(profile)} directly. If a child is in danger right now, call 999.")
    return (f"If this concerns a particular child, tell me here or speak to {_dsl_adult(profile)} today. If a child "
            "is in immediate danger, call 999.")
