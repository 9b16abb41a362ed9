"""Skip the optional name: the completion record stands without one."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict



class ActionInductionSkipPerson(Action):
    def name(self) -> str:
        return "action_induction_skip_person"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="No problem — your completion is recorded without a name.")
        return [SlotSet("induction_person", None), SlotSet("induction_active", False),
                SlotSet("requested_slot", None)]
