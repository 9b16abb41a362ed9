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
from actions.languages import language_of, language_packs
from bot.safeguarding.desk import Disclosure
from bot.safeguarding.handoff import safe_signposting
from bot.core import contract
from bot.safeguarding.types import ScreenResult

logger = logging.getLogger(__name__)

#: How many earlier turns go into the record's excerpt, so the DSL sees what led up to the message.
EXCERPT_TURNS = 6


def screen_result(message: dict[str, Any]) -> ScreenResult:
    """The verdict to record for a message being handed off: the screen's own (parse data `safeguarding`, see
    bot.core.contract.VERDICT_KEY) when it says disclosure or concern; otherwise -- the person said "yes, tell
    someone" after a check-in, or a story test set the hand-off intent alone -- a disclosure at the urgency the
    screen would give it if told (standard when unknown). A hand-off is never dropped for want of a verdict."""
    raw = message.get(contract.VERDICT_KEY)
    try:
        verdict = ScreenResult.from_dict(raw) if isinstance(raw, dict) else None
    except ValueError:
        verdict = None
    if verdict is not None and verdict.hand_off:
        return verdict
    told = next((s.split(":", 1)[1] for s in (verdict.signals if verdict else ()) if s.startswith("if_told:")),
                "standard")
    return ScreenResult("disclosure", told if told in ("immediate", "high", "standard") else "standard",
                        verdict.category if verdict else "other", 1.0, verdict.signals if verdict else (),
                        signpost=True, language=verdict.language if verdict else "en")


def user_message(tracker: Tracker, message_id: str | None) -> dict[str, Any] | None:
    """An earlier user message of this conversation by its id, as parse data with its text, id and channel."""
    if not message_id:
        return None
    event = next((e for e in reversed(tracker.events) if e.get("event") == "user"
                  and e.get("message_id") == message_id), None)
    if event is None:
        return None
    return {**(event.get("parse_data") or {}), "text": event.get("text"), "message_id": message_id,
            "input_channel": event.get("input_channel"), "metadata": event.get("metadata") or {}}


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
             result: ScreenResult, *, kind: str | None = None, words: str | None = None,
             reporter_name: str | None = None) -> str | None:
    """Record and reply; returns the reference, or None when nothing could be recorded (safe reply sent)."""
    role = tracker.get_slot("role")
    try:
        outcome = services.desk().hand_off(Disclosure(
            message_id=message_id(tracker, message), school=school, role=role,
            channel=message.get("input_channel") or tracker.get_latest_input_channel() or "unknown",
            result=result, words=words if words is not None else full_text(message),
            excerpt=excerpt(tracker), kind=kind or ("concern" if result.label == "concern" else "disclosure"),
            reporter_name=reporter_name, language=result.language))
    except Exception as error:  # noqa: BLE001 - whatever broke, the person must still get the safe reply
        logger.error("hand-off failed (%s); sent the safe signposting reply", type(error).__name__)
        send_safe_signposting(dispatcher, role)
        return None
    for bubble in _reply_bubbles(message, school, result, outcome.handoff.messages, outcome.reference):
        dispatcher.utter_message(text=bubble)
    return outcome.reference


def _reply_bubbles(message: dict[str, Any], school: str, result: ScreenResult, english: tuple[str, ...],
                   reference: str | None) -> tuple[str, ...]:
    """The hand-off reply in the message's own language (with the English underneath) when it was not English,
    999 first when someone is in danger now (as the English reply does); the composed English reply otherwise.
    Only a stored record is announced as passed on."""
    code = language_of(message)
    if code == "en":
        return english
    if reference is None:
        bubbles = language_packs().reply(code).messages
    else:
        profile = services.schools().get(school)
        dsl = (f"{' and '.join(profile.dsl)}, Designated Safeguarding Lead" if profile.dsl
               else "the Designated Safeguarding Lead")
        bubbles = language_packs().handed_off(code, dsl, reference).messages
    if result.urgency != "immediate":
        return bubbles
    return (*(b for b in bubbles if "999" in b), *(b for b in bubbles if "999" not in b))


def full_text(message: dict[str, Any]) -> str:
    """The person's whole message: the REST channel shortens over-long ones for NLU and keeps the original in the
    metadata (bot.core.contract.FULL_TEXT_KEY)."""
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    whole = metadata.get(contract.FULL_TEXT_KEY)
    return whole if isinstance(whole, str) and whole else (message.get("text") or "")


def send_safe_signposting(dispatcher: CollectingDispatcher, role: str | None) -> None:
    """Trusted adult, 999, Childline: the reply that needs no school and claims nothing was recorded."""
    try:
        bubbles = safe_signposting(role)
    except ValueError:
        bubbles = safe_signposting(None)
    for bubble in bubbles:
        dispatcher.utter_message(text=bubble)
