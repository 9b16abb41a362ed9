"""Start (or offer to resume) the induction for the person's school and role; ask the school first if unknown."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.inducting import school_or_ask, send_turn


#: The chat role slot's values that say which induction to give; pupils and parents get the role question.
_ROLE_FROM_SLOT = {"governor": "governor", "visitor": "contractor"}


class ActionStartInduction(Action):
    def name(self) -> str:
        return "action_start_induction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        school = school_or_ask(dispatcher, tracker)
        if school is None:  # asked for the school (start once chosen), or it has no induction yet
            return [SlotSet("pending_induction", services.known_school(tracker.get_slot("school")) is None)]
        # A role button, else role words in the message ("what do I need to know as a new TA?"), else the chat's
        # role; the service asks with buttons when none of them says.
        role = (next(tracker.get_latest_entity_values("induction_role"), None)
                or _role_words(tracker) or _ROLE_FROM_SLOT.get(tracker.get_slot("role") or ""))
        turn = services.induction().begin(school, tracker.sender_id, role)
        return send_turn(dispatcher, turn) + [SlotSet("pending_induction", None)]


def _role_words(tracker: Tracker) -> str | None:
    from bot.induction.roles import parse_role

    text = tracker.latest_message.get("text") or ""
    return None if text.startswith("/") else parse_role(text)
