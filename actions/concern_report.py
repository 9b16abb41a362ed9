"""What the report-a-concern form actions share: the slots it fills, its prompts, and turning answers into a record."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker

from actions import services
from bot.safeguarding.handoff import report_form_prompts

#: The form's questions in order; `concern_name` is asked of everyone, worded for pupils as a free choice.
FORM_SLOTS: tuple[str, ...] = ("concern_what", "concern_who", "concern_when", "concern_danger", "concern_name")
#: Answers meaning "I'd rather not say" to an optional question.
NOT_GIVEN = "not given"
_SKIP = re.compile(r"^\s*(skip|pass|no|nope|nah|not sure|dunno|don'?t know|i don'?t know|i'?d rather not( say)?|"
                   r"rather not( say)?|no thanks|anonymous|prefer not to say|n/?a|none)\s*[.!]*\s*$", re.I)
_YES = re.compile(r"^\s*(y|yes|yeah|yep|yup|ya|they are|he is|she is|i am|right now|now)\b", re.I)
_NO = re.compile(r"^\s*(n|no|nope|nah|not now|no one|nobody|not right now|i don'?t think so)\b", re.I)

_PROMPT_KEYS = {"concern_what": "what_happened", "concern_who": "who_involved", "concern_when": "when_where",
                "concern_danger": "danger_now", "concern_name": "give_name"}


def prompts(tracker: Tracker) -> dict[str, str]:
    """The form's wording for this person's school and role."""
    role = tracker.get_slot("role")
    return report_form_prompts(services.schools().get(tracker.get_slot("school")), role)


def prompt_for(slot: str, tracker: Tracker) -> str:
    return prompts(tracker)[_PROMPT_KEYS[slot]]


def is_skip(text: object) -> bool:
    """True for 'skip', 'no', 'not sure', 'rather not say' and the like."""
    return isinstance(text, str) and bool(_SKIP.match(text))


def yes_or_no(value: object) -> bool | None:
    """A yes/no answer from a bool slot value or free text; None when it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if _NO.match(value):
            return False
        if _YES.match(value):
            return True
    return None


def report_words(tracker: Tracker) -> str:
    """The person's answers, verbatim, as the record's words (the DSL reads them in this order)."""
    danger = tracker.get_slot("concern_danger")
    lines = [f"What happened: {tracker.get_slot('concern_what') or NOT_GIVEN}",
             f"Who is involved: {tracker.get_slot('concern_who') or NOT_GIVEN}",
             f"When and where: {tracker.get_slot('concern_when') or NOT_GIVEN}",
             f"Anyone in danger right now: {'yes' if danger is True else 'no' if danger is False else NOT_GIVEN}"]
    return "\n".join(lines)


def reporter_name(tracker: Tracker) -> str | None:
    name = tracker.get_slot("concern_name")
    return None if not name or name == NOT_GIVEN else str(name)


def cleared_slots() -> list[dict[str, Any]]:
    from rasa_sdk.events import SlotSet

    return [SlotSet(slot, None) for slot in FORM_SLOTS]
