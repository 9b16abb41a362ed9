"""When the assistant is unsure what was meant: try the school's policy, else say so kindly, with the safety
signposting (999, Childline): a message nobody understood may be someone in trouble."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import answer, asked_school, reuses_question_embeddings, send_answer
from bot.qa.answer import MAX_QUESTION_CHARS
from bot.safeguarding.checkin import signpost_line


class ActionDefaultFallback(Action):
    def name(self) -> str:
        return "action_default_fallback"

    @reuses_question_embeddings
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        school = asked_school(tracker)
        # An unusual wording of a real question still deserves a look in the policy, and gets what `policybot ask`
        # would say: the answer, or the plain "the policy doesn't cover that" naming who to ask.
        if school and len(text.split()) >= 3 and len(text) <= MAX_QUESTION_CHARS and not text.startswith("/"):
            events = send_answer(dispatcher, text, answer(school, text, tracker.get_slot("role")))
            dispatcher.utter_message(text=signpost_line(tracker.get_slot("role")))
            return events
        dispatcher.utter_message(response="utter_default")
        # "Didn't get that" never goes out alone: whatever was not understood may be someone in trouble.
        dispatcher.utter_message(text=signpost_line(tracker.get_slot("role")))
        return [UserUtteranceReverted()]
