"""'I have read and understood': write the completion record, then invite an optional name or staff id."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.inducting import NO_PERSON_NEEDED, school_or_ask, send_turn


class ActionInductionAcknowledge(Action):
    def name(self) -> str:
        return "action_induction_acknowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        school = school_or_ask(dispatcher, tracker)
        if school is None:
            return [SlotSet("induction_person", NO_PERSON_NEEDED)]
        turn = services.induction().acknowledge(school, tracker.sender_id)
        # The name form always follows this action (a rule); it only asks when the record was just written.
        person = None if turn.status == "need_person" else NO_PERSON_NEEDED
        return send_turn(dispatcher, turn) + [SlotSet("induction_person", person)]
