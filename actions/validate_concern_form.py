"""Check the report-a-concern form's answers: every question but 'what happened' may be skipped, and a 'yes' to
'is anyone in danger right now?' ends the questions at once (the report goes off as immediate)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.concern_report import FORM_SLOTS, NOT_GIVEN, is_skip, yes_or_no


class ValidateConcernForm(FormValidationAction):
    def name(self) -> str:
        return "validate_concern_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        # The school comes first (its DSL reads the report); danger now stops the questions.
        slots = [] if tracker.get_slot("school") else ["school"]
        if tracker.get_slot("concern_danger") is True:
            return slots + list(FORM_SLOTS[:FORM_SLOTS.index("concern_danger") + 1])
        return slots + list(FORM_SLOTS)

    def validate_concern_what(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        if not isinstance(value, str) or not value.strip() or is_skip(value):
            dispatcher.utter_message(text="I need to know a little about what happened to pass it on. "
                                          "Tell me in your own words, or say 'stop'.")
            return {"concern_what": None}
        return {"concern_what": value.strip()}

    def _optional(self, slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "deny" or is_skip(value) or not isinstance(value, str) or not value.strip():
            return {slot: NOT_GIVEN}
        return {slot: value.strip()}

    def validate_concern_who(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        return self._optional("concern_who", value, tracker)

    def validate_concern_when(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        return self._optional("concern_when", value, tracker)

    def validate_concern_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        return self._optional("concern_name", value, tracker)

    def validate_concern_danger(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        answer = yes_or_no(value)
        if answer is None:
            answer = yes_or_no(tracker.latest_message.get("text"))
        if answer is None:
            dispatcher.utter_message(text="Sorry, I need a yes or a no for that one.")
            return {"concern_danger": None}
        # A 'yes' ends the form; action_submit_concern then replies as immediate, 999 first.
        return {"concern_danger": answer}
