"""'stop' during the report form: nothing is sent, and what was said so far is kept to carry on later."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class ActionPauseConcernReport(Action):
    def name(self) -> str:
        return "action_pause_concern_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_concern_report_paused")
        return [ActiveLoop(None), SlotSet("requested_slot", None)]
