"""A disclosure or concern (set by the safeguarding screen) goes to the school's DSL, whatever was happening."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answering import answer_a_concerns_question
from actions.handing_off import full_text, hand_off, screen_result, send_safe_signposting
from actions.languages import language_of


class ActionDslHandoff(Action):
    def name(self) -> str:
        return "action_dsl_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        message = tracker.latest_message
        events: list[dict[str, Any]] = []
        if tracker.active_loop_name:
            # The disclosure is the priority now; a half-filled report form is dropped (its turns are in the
            # record's excerpt) and the person can start it again.
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        school = tracker.get_slot("school")
        if not school:
            # Safe words first, then ask which school, so it can be passed to the right person.
            send_safe_signposting(dispatcher, tracker.get_slot("role"))
            dispatcher.utter_message(response="utter_ask_school_for_disclosure")
            return events + [SlotSet("pending_disclosure", message.get("message_id"))]
        result = screen_result(message)
        reference = hand_off(dispatcher, tracker, school, message, result)
        if reference is not None and language_of(message) == "en":
            answer_a_concerns_question(dispatcher, tracker, school, message, result, full_text(message))
        return events + [SlotSet("last_concern_reference", reference), SlotSet("pending_disclosure", None)]
