"""Remember which school the person is from, then answer any question they were waiting on; a question that names
a school (and so was taken for "this is my school") is answered."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.action_answer_policy_question import ActionAnswerPolicyQuestion
from actions.answering import (answer_and_record, ask_for_missing_context, channel_school,
                               names_the_school_in_a_question, reuses_question_embeddings)
from actions.handing_off import hand_off, screen_result, user_message
from actions.inducting import send_turn
from bot.induction.plans import induction_file
from bot.induction.roles import parse_role


class ActionSetSchool(Action):
    def name(self) -> str:
        return "action_set_school"

    @reuses_question_embeddings
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[dict[str, Any]]:
        said = next(tracker.get_latest_entity_values("school"), None) or tracker.latest_message.get("text")
        school = services.known_school(said)
        pinned = channel_school(tracker)
        waiting = any(tracker.get_slot(name) for name in ("pending_disclosure", "pending_induction",
                                                          "pending_question"))
        if school is not None and not waiting and names_the_school_in_a_question(
                tracker.latest_message.get("text") or "", services.schools().get(school)):
            # "What sort of atmosphere is Kingsmeadow trying to create for the kids?" read as "this is my school":
            # it is a question that names a school, answered from that school's policy as any other is. It only
            # becomes the person's school when nothing else has said which is theirs.
            known = [] if pinned or tracker.get_slot("school") else [SlotSet("school", school)]
            return known + await ActionAnswerPolicyQuestion().run(dispatcher, tracker, domain)
        if school is None and pinned is None:
            dispatcher.utter_message(text="Sorry, I don't know that school yet. Please pick yours:")
            dispatcher.utter_message(response="utter_ask_school")
            return [SlotSet("school", None)]
        if pinned is not None and pinned != school:
            # This chat belongs to one school (its page, its Teams tenant): records and answers stay with it.
            own = services.schools().get(pinned)
            other = f"{services.schools().get(school).name}'s" if school else "another school's"
            dispatcher.utter_message(text=f"This chat is {own.name}'s, so I answer from {own.name}'s "
                                          f"{own.policy_title} and anything you tell me goes to {own.name}. "
                                          f"To ask about {other} policy, name the school in your question.")
            return [SlotSet("school", pinned)]
        events: list[dict[str, Any]] = [SlotSet("school", school)]
        pending_disclosure = tracker.get_slot("pending_disclosure")
        if pending_disclosure:
            # Someone told us something worrying before we knew their school: hand that message off first.
            message = user_message(tracker, pending_disclosure)
            if message is not None:
                reference = hand_off(dispatcher, tracker, school, message, screen_result(message))
                events += [SlotSet("last_concern_reference", reference)]
            return events + [SlotSet("pending_disclosure", None)]
        if tracker.get_slot("pending_induction") and induction_file(school).is_file():
            # "Start my induction" came before we knew the school: start it now.
            role = parse_role(_first_request_text(tracker))
            return events + send_turn(dispatcher, services.induction().begin(school, tracker.sender_id, role)) + [
                SlotSet("pending_induction", None)]
        profile = services.schools().get(school)
        dispatcher.utter_message(text=f"Thanks — I'll answer from {profile.name}'s {profile.policy_title}.")
        role = tracker.get_slot("role")
        pending = tracker.get_slot("pending_question")
        if pending and not ask_for_missing_context(dispatcher, school, role):
            events += answer_and_record(dispatcher, school, pending, role)
        return events


def _first_request_text(tracker: Tracker) -> str:
    """The text of the latest "start my induction" message (it may name the role: "I'm a new TA")."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and (event.get("parse_data") or {}).get("intent", {}).get(
                "name") == "start_induction":
            return event.get("text") or ""
    return ""
