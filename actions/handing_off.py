"""What the safeguarding actions share: read the screen's verdict and the conversation from the tracker, hand off.

The order that matters (record first, then say so) lives in bot.safeguarding.desk; this module only gathers the
inputs from Rasa's tracker and sends the bubbles.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.safeguarding.desk import Disclosure
from bot.safeguarding.handoff import safe_signposting
from bot.safeguarding.types import CATEGORIES, ScreenResult

logger = logging.getLogger(__name__)

#: How many earlier turns go into the record's excerpt, so the DSL sees what led up to the message.
EXCERPT_TURNS = 6


def screen_result(message: dict[str, Any]) -> ScreenResult:
    """The screen's verdict on a message: the `safeguarding` property the NLU component adds to the parse data
    (`urgency`: immediate / high / standard / concern, and `category`); entities of the same names also work."""
    verdict = message.get("safeguarding") if isinstance(message.get("safeguarding"), dict) else {}
    entities = {entity.get("entity"): entity.get("value") for entity in message.get("entities") or []}
    urgency = verdict.get("urgency") or entities.get("urgency") or "standard"
    category = verdict.get("category") or entities.get("safeguarding_category")
    category = category if category in CATEGORIES else "other"
    if urgency == "concern":
        return ScreenResult("concern", "standard", category, 1.0)
    if urgency not in ("immediate", "high", "standard"):
        urgency = "standard"  # a hand-off is never dropped for want of an urgency
    return ScreenResult("disclosure", urgency, category, 1.0)


def message_id(tracker: Tracker, message: dict[str, Any]) -> str:
    """The channel's id for the message (stable across a client's retries), else one derived from the tracker."""
    given = message.get("message_id")
    if isinstance(given, str) and given:
        return given
    # Same sender + same event time = the same message, so a re-run of the action does not record it twice.
    stamp = next((str(event.get("timestamp")) for event in reversed(tracker.events) if event.get("event") == "user"),
                 "")
    return "derived:" + hashlib.sha256(f"{tracker.sender_id}|{stamp}".encode()).hexdigest()


def excerpt(tracker: Tracker, before_message_id: str | None = None) -> tuple[str, ...]:
    """The last few turns before the current message, as 'person: ...' / 'assistant: ...' lines."""
    turns: list[str] = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            turns.append(f"person: {event['text']}")
        elif event.get("event") == "bot" and event.get("text"):
            turns.append(f"assistant: {event['text']}")
    if turns and turns[-1].startswith("person: "):
        turns.pop()  # the message itself is stored verbatim as the record's words
    return tuple(turns[-EXCERPT_TURNS:])


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, school: str, message: dict[str, Any],
             result: ScreenResult, *, kind: str = "disclosure", words: str | None = None,
             reporter_name: str | None = None) -> str | None:
    """Record and reply; returns the reference, or None when nothing could be recorded (safe reply sent)."""
    role = tracker.get_slot("role")
    try:
        outcome = services.desk().hand_off(Disclosure(
            message_id=message_id(tracker, message), school=school, role=role,
            channel=message.get("input_channel") or tracker.get_latest_input_channel() or "unknown",
            result=result, words=words if words is not None else full_text(message),
            excerpt=excerpt(tracker), kind=kind, reporter_name=reporter_name))
    except Exception as error:  # noqa: BLE001 - whatever broke, the person must still get the safe reply
        logger.error("hand-off failed (%s); sent the safe signposting reply", type(error).__name__)
        send_safe_signposting(dispatcher, role)
        return None
    for bubble in outcome.handoff.messages:
        dispatcher.utter_message(text=bubble)
    return outcome.reference


def full_text(message: dict[str, Any]) -> str:
    """The person's whole message: the REST channel shortens over-long ones for NLU and keeps the original in the
    metadata (channels/rest.py FULL_TEXT_KEY)."""
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    whole = metadata.get("full_text")
    return whole if isinstance(whole, str) and whole else (message.get("text") or "")


def send_safe_signposting(dispatcher: CollectingDispatcher, role: str | None) -> None:
    """Trusted adult, 999, Childline: the reply that needs no school and claims nothing was recorded."""
    try:
        bubbles = safe_signposting(role)
    except ValueError:
        bubbles = safe_signposting(None)
    for bubble in bubbles:
        dispatcher.utter_message(text=bubble)
