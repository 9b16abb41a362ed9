"""Answer "who is the DSL / online-safety lead / head?" from the school's profile, citing the policy; any other
"who ..." question (whose job is it to ...?) from the policy, through the same composer as every answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.answering import asked_school
from actions.inducting import carry_on_if_inducting
from actions.action_answer_policy_question import ActionAnswerPolicyQuestion
from bot.qa.conversation import who_is
from bot.qa.people import asked_post


class ActionWhoIs(Action):
    def name(self) -> str:
        return "action_who_is"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        post = asked_post(text)
        if post is None:
            # Not an identity question, though it may name a post ("whose job is it to train staff?", "who does
            # the DSL report to?"): the policy answers it, through the composer `policybot ask` uses. A post the
            # entity extractor found is not enough: answering "who does the DSL report to?" with the DSL's name
            # answers another question, and the CLI would not.
            return await ActionAnswerPolicyQuestion().run(dispatcher, tracker, domain)
        school = asked_school(tracker)
        if not school:
            dispatcher.utter_message(response="utter_ask_school")
            return [SlotSet("pending_question", text)]
        # The same words as `policybot ask` (PolicyAssistant.answer reads "who is the ...?" with asked_post too).
        dispatcher.utter_message(text=who_is(services.assistant(), school, post).text)
        carry_on_if_inducting(dispatcher, tracker, school)
        return []
