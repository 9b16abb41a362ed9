"""Trust view: the same question answered side by side from each school's own policy (trust staff only; anyone
else gets their own school's answer)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.action_answer_policy_question import ActionAnswerPolicyQuestion
from actions.answering import reuses_question_embeddings
from bot.qa.conversation import compare_schools


class ActionCompareSchools(Action):
    def name(self) -> str:
        return "action_compare_schools"

    @reuses_question_embeddings
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        if not tracker.get_slot("trust_staff"):
            # Only trust staff see every school's answer; anyone else gets their own school's, as `policybot ask`
            # gives it (the classifier also calls "is there another policy to read alongside this one?" a
            # comparison).
            return await ActionAnswerPolicyQuestion().run(dispatcher, tracker, domain)
        question = (tracker.latest_message.get("text") or "").strip()
        directory = services.schools()
        for answer in compare_schools(services.assistant(), directory.slugs, question, "staff"):
            dispatcher.utter_message(text=f"**{directory.get(answer.school).name}**\n{answer.text}")
        return []
