"""Composing the reply a person gets when they disclose harm or raise a concern (the DSL hand-off), by audience:
pupils (plain, or very simple at primary and special schools), parents, and staff, governors and visitors; plus the
safe signposting when nothing else works and the gentle offer after a sensitive question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from bot.core.roles import canonical_role
from bot.safeguarding.handoff.staff_steps import staff_steps_for
from bot.safeguarding.handoff.wording import (_AUDIENCE, _PHASE_WORDS, _SAFE_SIGNPOSTING_ADULT, _SIGNPOST_MARKERS,
                                              _SIMPLE_PHASES, CEOP_URL, CHILDLINE_NUMBER, OPEN_INVITATION,
                                              SAFE_SIGNPOSTING_MESSAGES, SAMARITANS_NUMBER, _dsl_adult, _dsl_plain,
                                              _dsl_short, _extra_online_lead, _names, _sentences, _with_online_lead,
                                              general_steps_for)
from bot.safeguarding.types import CEOP_CATEGORIES, ScreenResult
from bot.schools import SchoolProfile, format_partial_date


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
    #: An allegation about an adult who works with children, at a school that routes those to its headteacher
    #: (KCSIE part 4) rather than to the DSL list: the reply names who it really went to.
    allegation_route: bool = False

    @property
    def allegation(self) -> bool:
        return self.category == "staff_conduct"

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
                    recorded: bool, allegation_route: bool = False) -> Handoff:
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
        allegation_route=allegation_route and result.category == "staff_conduct",
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


def _headteacher(profile: SchoolProfile) -> str:
    """'Ms Jones, the Headteacher', or 'the headteacher'."""
    return f"{profile.headteacher}, the Headteacher" if profile.headteacher else "the headteacher"


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
        to = _headteacher(p) if ask.allegation_route else _with_online_lead(dsl, p, ask.category)
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
        if ask.allegation_route:
            to, who = p.headteacher or "the head teacher", "They are in charge of the school."
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
        to = _headteacher(p) if ask.allegation_route else _with_online_lead(_dsl_adult(p), p, ask.category)
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
    if ask.recorded and ask.allegation_route:
        # KCSIE part 4: an allegation about an adult who works with children goes to the headteacher (the chair
        # of governors when it is about the headteacher), who involves the LADO; not to the DSL list.
        bubbles.append(_sentences(
            "Thank you for raising this.",
            f"Because it is about an adult who works with children, I have passed it to {_headteacher(p)}, not "
            "to the safeguarding team, as Keeping Children Safe in Education (part 4) asks.",
            "If it is about the headteacher, tell the chair of governors instead; they involve the Local "
            "Authority Designated Officer (LADO).",
            _reference(ask),
            "Don't discuss it with the person it is about, and don't investigate it yourself.",
            f"This does not replace {p.name}'s own procedure: speak to the headteacher in person today as well.",
            later_999,
        ))
    elif ask.recorded:
        to = _with_online_lead(_dsl_adult(p), p, ask.category)
        bubbles.append(_sentences(
            f"Thank you for raising this. I have passed it to {to}.",
            "They will read it as soon as possible, and on a school day that should be today." if ask.disclosure
            else "They will look at it as soon as they can.",
            _reference(ask),
            f"This does not replace {p.name}'s own safeguarding procedure: speak to {_dsl_short(p)} in person "
            f"today as well{deputy}.",
            # KCSIE part 4 applies whether or not the school has set the bot to route allegations.
            "Because it is about an adult who works with children, also tell the headteacher today (the chair of "
            "governors if it is about the headteacher), and don't discuss it with the person concerned."
            if ask.allegation else None,
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
# Safe signposting, and the gentle offer after a sensitive question.
# ---------------------------------------------------------------------------------------------------------------


def safe_signposting(role: str | None) -> tuple[str, ...]:
    """The reply when nothing else works (no school known, action server down): 999, a trusted adult at school
    today, Childline; it claims nothing was recorded. An unknown role gets the reply for a child."""
    canonical = canonical_role(role)
    return SAFE_SIGNPOSTING_MESSAGES if _AUDIENCE[canonical] == "pupil" else _SAFE_SIGNPOSTING_ADULT


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
