"""Trust view: the same question answered side by side from each school's own policy (trust staff only)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from bot.qa.conversation import compare_schools


class ActionCompareSchools(Action):
    def name(self) -> str:
        return "action_compare_schools"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        if not tracker.get_slot("trust_staff"):
            dispatcher.utter_message(text="Comparing schools is only for trust staff. I can answer from your "
                                          "own school's policy — what would you like to know?")
            return []
        question = (tracker.latest_message.get("text") or "").strip()
        directory = services.schools()
        for answer in compare_schools(services.assistant(), directory.slugs, question, "staff"):
            dispatcher.utter_message(text=f"**{directory.get(answer.school).name}**\n{answer.text}")
        return []
