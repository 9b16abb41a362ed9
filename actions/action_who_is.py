"""Answer "who is the DSL / online-safety lead / head?" from the school's profile, citing the policy."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.answering import asked_school
from actions.inducting import carry_on_if_inducting
from bot.qa.conversation import POSTS, who_is


class ActionWhoIs(Action):
    def name(self) -> str:
        return "action_who_is"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        school = asked_school(tracker)
        if not school:
            dispatcher.utter_message(response="utter_ask_school")
            return [SlotSet("pending_question", tracker.latest_message.get("text"))]
        post = next(tracker.get_latest_entity_values("post"), None)
        if post not in POSTS:
            post = "dsl"  # "who do I talk to?" -> the person responsible for keeping children safe
        dispatcher.utter_message(text=who_is(services.assistant(), school, post).text)
        carry_on_if_inducting(dispatcher, tracker, school)
        return []
