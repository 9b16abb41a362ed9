"""Shared glue for the induction actions: send a Turn from bot/induction/service.py and keep the slots in step."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.core import contract
from bot.induction.plans import induction_file
from bot.induction.service import Turn

#: Set on `induction_person` when no name is wanted (already recorded, still in progress, store down), so the
#: name form that always follows "I have read and understood" finishes at once without asking.
NO_PERSON_NEEDED = "(no name needed)"


def send_turn(dispatcher: CollectingDispatcher, turn: Turn) -> list[dict[str, Any]]:
    """Send the turn's messages in order and record whether an induction is now under way."""
    for message in turn.messages:
        dispatcher.utter_message(text=message.text, buttons=message.rasa_buttons())
    return [SlotSet("induction_active", turn.active)]


def school_or_ask(dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
    """The person's school, or None after asking for it (the induction starts once it is chosen) or after saying
    the school has no induction steps yet."""
    school = services.known_school(tracker.get_slot("school"))
    if school is None:
        dispatcher.utter_message(text="Happy to help with your induction! First, which school is it for?")
        dispatcher.utter_message(response="utter_ask_school")
    elif not induction_file(school).is_file():
        # A school added without induction steps yet: say so rather than fail.
        profile = services.schools().get(school)
        dispatcher.utter_message(text=f"{profile.name} hasn't set up its induction steps here yet. Please ask "
                                      f"your line manager or the school office for your induction; you can still "
                                      f"ask me any question about the {profile.policy_title}.")
        return None
    return school


def carry_on_if_inducting(dispatcher: CollectingDispatcher, tracker: Tracker, school: str | None) -> None:
    """After answering a free question mid-induction: "Shall we carry on? You're on step 3 of 8." """
    if not tracker.get_slot("induction_active") or services.known_school(school) is None:
        return
    turn = services.induction().carry_on_prompt(school, tracker.sender_id)
    for message in turn.messages:
        dispatcher.utter_message(text=message.text, buttons=message.rasa_buttons())


#: The NLU's probability of start_induction at or above which an answered question also offers the induction: the
#: classifier's second thought that the asker is new ("I've just started as a TA - can I ...?"), not a word list.
INDUCTION_OFFER_SHARE = 0.1
#: Chat roles an induction is for (pupils and parents have none).
_INDUCTED_ROLES = frozenset({"staff", "governor", "visitor"})


def offer_induction_if_new(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """After answering a question from someone who says they are new, offer their own school's induction with a
    button, unless one is under way, the school has none, or the asker is a pupil or parent."""
    school = tracker.get_slot("school")
    if (tracker.get_slot("induction_active") or services.known_school(school) is None
            or not induction_file(school).is_file() or tracker.get_slot("role") not in (None, *_INDUCTED_ROLES)):
        return
    ranking = tracker.latest_message.get("intent_ranking") or []
    share = next((float(r.get("confidence") or 0.0) for r in ranking
                  if isinstance(r, dict) and r.get("name") == contract.START_INDUCTION_INTENT), 0.0)
    if share >= INDUCTION_OFFER_SHARE:
        dispatcher.utter_message(text="As you're new here, I can also take you through your induction, step by step.",
                                 buttons=[{"title": "Start my induction",
                                           "payload": f"/{contract.START_INDUCTION_INTENT}"}])
