"""Answer a policy question from the person's own school's policy (asking for school and role first if needed)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import (answer_and_record, ask_for_missing_context, asked_school, is_sensitive_question,
                                reuses_question_embeddings)
from actions.inducting import carry_on_if_inducting, offer_induction_if_new
from bot.qa.answer import MAX_QUESTION_CHARS


class ActionAnswerPolicyQuestion(Action):
    def name(self) -> str:
        return "action_answer_policy_question"

    @reuses_question_embeddings
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        question = (tracker.latest_message.get("text") or "").strip()
        if not question or question.startswith("/"):
            question = tracker.get_slot("pending_question") or ""
        if len(question) > MAX_QUESTION_CHARS:
            dispatcher.utter_message(text=f"That's a very long message! Could you ask your question in fewer "
                                          f"words (under {MAX_QUESTION_CHARS:,} characters)?")
            return []
        if not question:
            dispatcher.utter_message(response="utter_help")
            return []
        school, role = asked_school(tracker), tracker.get_slot("role")
        if ask_for_missing_context(dispatcher, school, role):
            return [SlotSet("pending_question", question)]
        events = answer_and_record(dispatcher, school, question, role,
                                   sensitive=is_sensitive_question(tracker.latest_message))
        carry_on_if_inducting(dispatcher, tracker, school)
        offer_induction_if_new(dispatcher, tracker)
        return events
