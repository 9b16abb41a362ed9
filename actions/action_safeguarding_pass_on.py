"""'Yes, tell someone' after a check-in or an other-language offer: hand the waiting message to the DSL."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handing_off import hand_off, screen_result, send_safe_signposting, user_message
from bot.core import contract
from bot.safeguarding.checkin import nothing_waiting


class ActionSafeguardingPassOn(Action):
    def name(self) -> str:
        return contract.PASS_ON_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        waiting = user_message(tracker, tracker.get_slot(contract.PENDING_CHECK_IN_SLOT))
        if waiting is None:
            dispatcher.utter_message(text=nothing_waiting(tracker.get_slot("role")))
            return [SlotSet(contract.PENDING_CHECK_IN_SLOT, None)]
        school = tracker.get_slot("school")
        if not school:
            # As for a disclosure before we know the school: the safe words, then which school, then the record.
            send_safe_signposting(dispatcher, tracker.get_slot("role"))
            dispatcher.utter_message(response="utter_ask_school_for_disclosure")
            return [SlotSet("pending_disclosure", waiting["message_id"]),
                    SlotSet(contract.PENDING_CHECK_IN_SLOT, None)]
        reference = hand_off(dispatcher, tracker, school, waiting, screen_result(waiting))
        return [SlotSet("last_concern_reference", reference), SlotSet(contract.PENDING_CHECK_IN_SLOT, None)]
