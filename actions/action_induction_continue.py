"""Carry on with the induction where the person left it (even in a new session)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.inducting import school_or_ask, send_turn


class ActionInductionContinue(Action):
    def name(self) -> str:
        return "action_induction_continue"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        school = school_or_ask(dispatcher, tracker)
        if school is None:  # asked for the school (start once chosen), or it has no induction yet
            return [SlotSet("pending_induction", services.known_school(tracker.get_slot("school")) is None)]
        return send_turn(dispatcher, services.induction().resume(school, tracker.sender_id))
