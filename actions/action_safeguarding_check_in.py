"""Some risk, not confident: check in gently (are you safe? shall I tell someone?) instead of answering."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from bot.core import contract
from bot.safeguarding.checkin import NO_BUTTON, YES_BUTTON, check_in

BUTTONS = [{"title": YES_BUTTON, "payload": f"/{contract.PASS_ON_INTENT}"},
           {"title": NO_BUTTON, "payload": f"/{contract.NOT_NOW_INTENT}"}]


class ActionSafeguardingCheckIn(Action):
    def name(self) -> str:
        return contract.CHECK_IN_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        school = tracker.get_slot("school")
        profile = services.schools().get(school) if school in services.schools() else None
        role = tracker.get_slot("role")
        reply = check_in(profile, role)
        for index, bubble in enumerate(reply.messages):
            dispatcher.utter_message(text=bubble, buttons=BUTTONS if index == reply.offer_index else None)
        events: list[dict[str, Any]] = []
        if tracker.active_loop_name:
            # The check-in takes the turn; a half-finished form is closed (its answers stay in the conversation).
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events + [SlotSet(contract.PENDING_CHECK_IN_SLOT, tracker.latest_message.get("message_id"))]
