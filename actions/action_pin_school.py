"""The person's own school, every turn: the one the channel says (web chat page, Teams tenant, REST metadata),
else the one they said they are at. Run by Rasa's slot extraction (the `school` slot's custom mapping).

A school named in a question ("what is Ouston's phone rule?") is answered from that school's policy for that
question (actions/answering.py asked_school), but never becomes the person's school: a disclosure made next must
reach their own school's DSL, not the school they asked about.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.answering import channel_school


class ActionPinSchool(Action):
    def name(self) -> str:
        return "action_pin_school"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        school = channel_school(tracker)
        if school is None and (tracker.latest_message.get("intent") or {}).get("name") == "inform_school":
            school = services.known_school(next(tracker.get_latest_entity_values("school"), None))
        if school is None or school == tracker.get_slot("school"):
            return []
        return [SlotSet("school", school)]
