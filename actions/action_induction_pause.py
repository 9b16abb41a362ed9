"""Pause the induction: progress is already saved after every answer, so this says how to carry on later."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.inducting import school_or_ask, send_turn


class ActionInductionPause(Action):
    def name(self) -> str:
        return "action_induction_pause"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        school = school_or_ask(dispatcher, tracker)
        if school is None:
            return []
        send_turn(dispatcher, services.induction().pause(school, tracker.sender_id))
        # Paused: free questions from now on get plain answers, without "shall we carry on?".
        return [SlotSet("induction_active", False)]
