"""Answer a follow-up ("what about staff?", "and at lunch?") using the previous question's topic."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import answer_and_record, ask_for_missing_context, asked_school, reuses_question_embeddings
from actions.inducting import carry_on_if_inducting
from bot.qa.conversation import followup_question


class ActionAnswerFollowup(Action):
    def name(self) -> str:
        return "action_answer_followup"

    @reuses_question_embeddings
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        said = (tracker.latest_message.get("text") or "").strip()
        previous = tracker.get_slot("last_question") or ""
        question = followup_question(previous, said) if previous else said
        school, role = asked_school(tracker), tracker.get_slot("role")
        if ask_for_missing_context(dispatcher, school, role):
            return [SlotSet("pending_question", question)]
        # "what about staff?" asks about another group without changing who the person is.
        asked_about = next(tracker.get_latest_entity_values("role"), None) or role
        events = answer_and_record(dispatcher, school, question, asked_about)
        carry_on_if_inducting(dispatcher, tracker, school)
        return events
