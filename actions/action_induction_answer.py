"""Mark the answer to an induction check question and show the next step (or the passage again)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.inducting import school_or_ask, send_turn


class ActionInductionAnswer(Action):
    def name(self) -> str:
        return "action_induction_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        school = school_or_ask(dispatcher, tracker)
        if school is None:
            return []
        choice = next(tracker.get_latest_entity_values("induction_choice"), None)
        step = next(tracker.get_latest_entity_values("induction_step"), None)
        if choice is None:
            choice = tracker.latest_message.get("text")
        return send_turn(dispatcher, services.induction().answer(school, tracker.sender_id, choice, step_id=step))
