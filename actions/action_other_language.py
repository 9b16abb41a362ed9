"""A message in another language: never silence or "didn't get that". The reviewed template in that language (and
English underneath): thanks, 999, Childline, and an offer to pass the message to a member of staff."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.languages import language_of, language_packs
from bot.core import contract


class ActionOtherLanguage(Action):
    def name(self) -> str:
        return contract.OTHER_LANGUAGE_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        reply = language_packs().reply(language_of(tracker.latest_message))
        buttons = [{"title": b.title, "payload": f"/{contract.PASS_ON_INTENT if b.key == 'yes' else contract.NOT_NOW_INTENT}"}
                   for b in reply.buttons]
        for index, bubble in enumerate(reply.messages):
            dispatcher.utter_message(text=bubble, buttons=buttons if index == len(reply.messages) - 1 else None)
        return [SlotSet(contract.PENDING_CHECK_IN_SLOT, tracker.latest_message.get("message_id"))]
