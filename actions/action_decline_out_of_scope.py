"""Homework, the weather, the lunch menu: say plainly that the school's policy does not cover it and who to ask.

The intent classifier is a short-text guess, and a terse policy question ("proper camera on the france trip?",
"why wont the wifi work on my phone") can look like small talk to it. The answer model, which reads the question
against the school's policy, has the last word: when it answers outright (not a hint, not an abstention), that
answer is given, as `policybot ask` would give it; otherwise the reply is the composer's own abstention. On the
218 out-of-scope training examples the answer model answers one, so homework and the weather still get "the
policy doesn't cover that" (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.answering import answer, asked_school, reuses_question_embeddings, send_answer
from bot.core.roles import known_role
from bot.qa.answer import MAX_QUESTION_CHARS


class ActionDeclineOutOfScope(Action):
    def name(self) -> str:
        return "action_decline_out_of_scope"

    @reuses_question_embeddings
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        school = asked_school(tracker)
        if not school or not text or text.startswith("/") or len(text) > MAX_QUESTION_CHARS:
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        role = tracker.get_slot("role")
        judged = answer(school, text, role)
        if judged.abstained:
            judged = services.assistant().decline(school, text, known_role(role))
        return send_answer(dispatcher, text, judged)
