"""Remember whether the person is a pupil, staff, parent, governor or visitor, then answer what was pending."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import answer_and_record, ask_for_missing_context, reuses_question_embeddings
from bot.core.roles import canonical_role


class ActionSetRole(Action):
    def name(self) -> str:
        return "action_set_role"

    @reuses_question_embeddings
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        said = next(tracker.get_latest_entity_values("role"), None)
        try:
            role = canonical_role(said) if said else None
        except ValueError:
            role = None
        if role in (None, "any"):
            dispatcher.utter_message(response="utter_ask_role")
            return []
        events: list[dict[str, Any]] = [SlotSet("role", role)]
        school = tracker.get_slot("school")
        pending = tracker.get_slot("pending_question")
        if pending and not ask_for_missing_context(dispatcher, school, role):
            events += answer_and_record(dispatcher, school, pending, role)
        elif not pending:
            dispatcher.utter_message(text="Thanks! What would you like to know?")
        return events
