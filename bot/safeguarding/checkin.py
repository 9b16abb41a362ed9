"""The gentle check-in: what the assistant says when a message carries some risk but the screen is not confident.

It never assumes anything happened and asks nothing leading: it thanks the person, asks whether they are safe right
now (999 if not), offers to pass their words to the school's DSL, and signposts Childline for children. The
buttons say what each answer does; "yes" hands the original message off, "no" answers it as a question.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.roles import canonical_role
from bot.safeguarding.handoff import CHILDLINE_NUMBER, _AUDIENCE, _PHASE_WORDS, _dsl_adult, _dsl_plain
from bot.schools import SchoolProfile

YES_BUTTON = "Yes, tell someone"
NO_BUTTON = "No, I was asking a question"


@dataclass(frozen=True)
class CheckIn:
    """The check-in bubbles; the offer (with the two buttons) is the bubble at `offer_index`."""

    messages: tuple[str, ...]
    offer_index: int


def check_in(profile: SchoolProfile | None, role: str | None) -> CheckIn:
    """The check-in for someone in this role at this school (or any school, when it is not known yet)."""
    audience = _AUDIENCE[canonical_role(role)]
    if audience == "pupil":
        children = _PHASE_WORDS.get(profile.phase if profile else "", _PHASE_WORDS["secondary"])["children"]
        who = (_dsl_plain(profile, children) if profile
               else f"the person at your school whose job is to keep {children} safe")
        return CheckIn((
            "Thank you for telling me. I want to check you're OK.",
            "Are you safe right now? If you are in danger right now, call 999.",
            f"Would you like me to pass what you wrote to {who}, so they can help?",
            f"You can also talk to Childline for free, any time: call {CHILDLINE_NUMBER} or go to childline.org.uk.",
        ), offer_index=2)
    who = _dsl_adult(profile) if profile else "the school's Designated Safeguarding Lead"
    return CheckIn((
        "Thank you. Before I answer, I want to check whether this is about a child you are worried about.",
        "If anyone is in danger right now, call 999.",
        f"Would you like me to pass what you wrote to {who}?",
    ), offer_index=2)


def not_now(role: str | None) -> str:
    """After "No, I was asking a question": no pressure, the door left open, then the answer follows."""
    if _AUDIENCE[canonical_role(role)] == "pupil":
        return ("That's fine. If anything ever worries you, you can tell me here or talk to an adult you trust. "
                f"Childline is free and there any time: {CHILDLINE_NUMBER}.")
    return "That's fine. If you are ever worried about a child, tell me here or speak to the school's DSL."


def nothing_waiting(role: str | None) -> str:
    """A yes or no button pressed when no check-in is waiting (an old button, or pressed twice)."""
    if _AUDIENCE[canonical_role(role)] == "pupil":
        return ("If you want to tell someone about something, write it here and I will pass it to the right person. "
                "If you are in danger right now, call 999.")
    return ("If you want to pass on a worry about a child, write it here and I will send it to the school's "
            "Designated Safeguarding Lead. If anyone is in danger right now, call 999.")


def signpost_line(role: str | None) -> str:
    """The one line added to a turn whose message carried some risk signal but whose reply had no safety numbers
    (a policy answer, a chat reply): an open door, not an assumption."""
    if _AUDIENCE[canonical_role(role)] == "pupil":
        return ("If anything is worrying you, you can talk to an adult you trust, or to Childline for free, any time: "
                f"{CHILDLINE_NUMBER}. If you are in danger right now, call 999.")
    return ("If a child is in danger right now, call 999. Any worry about a child can go to the school's "
            "Designated Safeguarding Lead today.")
