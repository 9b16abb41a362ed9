"""The fixed words of the hand-off: the services' numbers, the safe signposting, the words that fit each school
phase, the general steps from national guidance for adults, and the phrases that name a school's DSL.

Kept here, not in data, because it is the safeguarding practice itself rather than school detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.roles import canonical_role
from bot.safeguarding.types import CATEGORIES
from bot.schools import SchoolProfile

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
    """A step from national guidance and law (KCSIE, NSPCC, UKCIS, the FGM reporting duty), shown to adults as
    general guidance, never as the school's policy."""

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
    # The Domestic Abuse Act 2021 makes a child who sees, hears or lives with domestic abuse a victim in their own
    # right; Operation Encompass (statutory since the Victims and Prisoners Act 2024) has the police tell the school.
    GeneralStep("A child who sees, hears or lives with domestic abuse between adults at home is a victim of it in "
                "their own right (Domestic Abuse Act 2021), so tell the DSL what you know even if nobody hurt the "
                "child. Don't raise it with the parents or carers yourself: that could put the child or a parent "
                "at more risk.", categories=frozenset({"domestic_abuse"})),
    GeneralStep("Under Operation Encompass the police tell the DSL before the next school day when a child was "
                "involved in a domestic abuse incident they attended, so the DSL may know part of the picture "
                "already: tell them what you saw or heard anyway.", categories=frozenset({"domestic_abuse"}),
                roles=frozenset({"staff"})),
    # FGM in a girl under 18 is the one case where a teacher must go to the police personally (Female Genital
    # Mutilation Act 2003 s.5B, KCSIE); suspected or at-risk cases, forced marriage and other so-called honour-based
    # abuse go to the DSL (KCSIE; the statutory guidance on forced marriage: never approach the family).
    GeneralStep("If you are a teacher and a girl under 18 tells you she has had female genital mutilation (FGM), "
                "or you see physical signs of it, you must report it to the police yourself by calling 101, "
                "normally by the end of the next working day, and tell the DSL as well: this legal duty is yours "
                "and the DSL can't report it for you (the FGM mandatory reporting duty, KCSIE). Never examine a "
                "child.",
                categories=frozenset({"honour_based_abuse"}), roles=frozenset({"staff"})),
    GeneralStep("Tell the DSL straight away about any worry about female genital mutilation (FGM), forced marriage "
                "or so-called honour-based abuse, including a child who may be taken abroad for it. Don't speak to "
                "the family or anyone in their community about it and don't try to mediate: that can put the child "
                "in more danger.",
                categories=frozenset({"honour_based_abuse"})),
)


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
