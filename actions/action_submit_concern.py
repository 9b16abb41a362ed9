"""Send a completed report to the school's DSL (recorded first, then the reply with its reference)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.concern_report import cleared_slots, report_words, reporter_name
from actions.handing_off import hand_off
from bot.safeguarding.types import ScreenResult


class ActionSubmitConcern(Action):
    def name(self) -> str:
        return "action_submit_concern"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        urgency = "immediate" if tracker.get_slot("concern_danger") is True else "standard"
        # The last answer's message id keys the record, so a retried final message never files it twice.
        reference = hand_off(dispatcher, tracker, tracker.get_slot("school"), tracker.latest_message,
                             ScreenResult("disclosure", urgency, "other", 1.0), kind="report",
                             words=report_words(tracker), reporter_name=reporter_name(tracker))
        return cleared_slots() + [SlotSet("last_concern_reference", reference)]
