"""The report-a-concern form's questions (`action_ask_<slot>`), worded for the person's school, role and age.

One file for the five because they differ only in which prompt they send; Rasa calls `action_ask_<slot>`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.concern_report import prompt_for, prompts

SKIP_BUTTON = [{"title": "I'd rather not say", "payload": "/deny"}]
YES_NO_BUTTONS = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


class _AskConcern(Action):
    slot = ""
    buttons: list[dict[str, str]] = []

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=prompt_for(self.slot, tracker), buttons=self.buttons or None)
        return []


class ActionAskConcernWhat(_AskConcern):
    slot = "concern_what"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=prompts(tracker)["intro"])  # who will read it, and how to stop
        return await super().run(dispatcher, tracker, domain)


class ActionAskConcernWho(_AskConcern):
    slot = "concern_who"
    buttons = SKIP_BUTTON


class ActionAskConcernWhen(_AskConcern):
    slot = "concern_when"
    buttons = [{"title": "Not sure", "payload": "/deny"}]


class ActionAskConcernDanger(_AskConcern):
    slot = "concern_danger"
    buttons = YES_NO_BUTTONS


class ActionAskConcernName(_AskConcern):
    slot = "concern_name"
    buttons = SKIP_BUTTON
