"""The name form's question: already asked, with its Skip button, by action_induction_acknowledge."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict



class ActionAskInductionPerson(Action):
    def name(self) -> str:
        return "action_ask_induction_person"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        # Asked again only if the person said something that was not a name (e.g. only spaces).
        if tracker.latest_message.get("text") and tracker.latest_action_name != "action_induction_acknowledge":
            dispatcher.utter_message(text="Type your name or staff ID for the record, or press Skip.",
                                     buttons=[{"title": "Skip", "payload": "/induction_skip_person"}])
        return []
