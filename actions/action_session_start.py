"""Start a session with the school and role the channel passes as metadata ({"school": slug, "role": ...})."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from bot.core import contract
from bot.core.roles import canonical_role

CARRIED_SLOTS = ("school", "role", "trust_staff")


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SessionStarted()]
        # Slots remembered from an earlier session are carried over first; fresh metadata wins over them.
        events += [SlotSet(name, tracker.get_slot(name)) for name in CARRIED_SLOTS
                   if tracker.get_slot(name) is not None]
        metadata = tracker.get_slot("session_started_metadata") or {}
        school = services.known_school(metadata.get("school"))
        if school:
            events.append(SlotSet("school", school))
        try:
            role = canonical_role(metadata.get("role")) if metadata.get("role") else None
        except ValueError:
            role = None
        if role and role != "any":
            events.append(SlotSet("role", role))
        if metadata.get(contract.TRUST_STAFF_KEY) is True:
            events.append(SlotSet("trust_staff", True))
        events.append(ActionExecuted("action_listen"))
        return events
