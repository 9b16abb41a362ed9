"""'No, I was asking a question' after a check-in: no pressure, the door left open, then the answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import answer_and_record, ask_for_missing_context, reuses_question_embeddings
from actions.handing_off import user_message
from bot.core import contract
from bot.safeguarding.checkin import not_now, nothing_waiting


class ActionSafeguardingNotNow(Action):
    def name(self) -> str:
        return contract.NOT_NOW_ACTION

    @reuses_question_embeddings
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        role = tracker.get_slot("role")
        waiting = user_message(tracker, tracker.get_slot(contract.PENDING_CHECK_IN_SLOT))
        events: list[dict[str, Any]] = [SlotSet(contract.PENDING_CHECK_IN_SLOT, None)]
        if waiting is None:
            dispatcher.utter_message(text=nothing_waiting(role))
            return events
        dispatcher.utter_message(text=not_now(role))
        question = (waiting.get("text") or "").strip()
        verdict = waiting.get(contract.VERDICT_KEY) or {}
        if verdict.get("language", "en") != "en" or not question:
            return events  # an other-language message: there is no English question to answer
        school = tracker.get_slot("school")
        if ask_for_missing_context(dispatcher, school, role):
            return events + [SlotSet("pending_question", question)]
        # The screen saw risk in it (that is why it was held back for a check-in): its words are not kept.
        return events + answer_and_record(dispatcher, school, question, role, keep_words=False)
