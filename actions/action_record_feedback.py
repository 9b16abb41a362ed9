"""Record 👍/👎 on the last answer so the policy owner can see which questions the policy fails."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services


class ActionRecordFeedback(Action):
    def name(self) -> str:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        # A typed "yes" straight after an answer counts as 👍 (data/rules/feedback.yml routes it here).
        helpful = tracker.latest_message.get("intent", {}).get("name") in {"feedback_positive", "affirm"}
        question_id = tracker.get_slot("last_question_id")
        if question_id is not None:
            services.feedback().record_feedback(int(question_id), helpful)
        if helpful:
            dispatcher.utter_message(text="Great, thanks for letting me know!")
        else:
            school = tracker.get_slot("school")
            who = services.schools().get(school).who_to_ask().describe() if school else "a member of staff"
            dispatcher.utter_message(text=f"Sorry that didn't help. I've noted it so the school can improve the "
                                          f"policy. You can also ask {who}.")
        return []
