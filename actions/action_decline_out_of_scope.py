"""Homework, the weather, the lunch menu: say plainly that the school's policy does not cover it and who to ask.

The intent classifier is sure these are not policy questions, so the answer model is not asked to find a passage
(it would sometimes quote the nearest one); the reply is the composer's own abstention, as on every other path.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.answering import asked_school, send_answer
from bot.core.roles import known_role
from bot.qa.answer import MAX_QUESTION_CHARS


class ActionDeclineOutOfScope(Action):
    def name(self) -> str:
        return "action_decline_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        school = asked_school(tracker)
        if not school or not text or text.startswith("/") or len(text) > MAX_QUESTION_CHARS:
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        return send_answer(dispatcher, text, services.assistant().decline(school, text,
                                                                          known_role(tracker.get_slot("role"))))
