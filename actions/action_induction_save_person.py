"""Add the optional name or staff id to the person's completion record, then forget it from the chat."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.inducting import NO_PERSON_NEEDED, send_turn


class ActionInductionSavePerson(Action):
    def name(self) -> str:
        return "action_induction_save_person"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        person = tracker.get_slot("induction_person")
        school = services.known_school(tracker.get_slot("school"))
        if school is not None and person and person != NO_PERSON_NEEDED:
            send_turn(dispatcher, services.induction().add_person(school, tracker.sender_id, person))
        return [SlotSet("induction_person", None), SlotSet("induction_active", False)]
