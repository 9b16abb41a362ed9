"""The induction actions as the action server runs them (real school data and steps, a throwaway induction
database): what each sends and which slots it sets, and that the record is written before it is confirmed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.action_ask_induction_person import ActionAskInductionPerson
from actions.action_induction_acknowledge import ActionInductionAcknowledge
from actions.action_induction_answer import ActionInductionAnswer
from actions.action_induction_continue import ActionInductionContinue
from actions.action_induction_pause import ActionInductionPause
from actions.action_induction_restart import ActionInductionRestart
from actions.action_induction_save_person import ActionInductionSavePerson
from actions.action_induction_skip_person import ActionInductionSkipPerson
from actions.action_set_school import ActionSetSchool
from actions.action_start_induction import ActionStartInduction
from actions.inducting import INDUCTION_OFFER_SHARE, NO_PERSON_NEEDED, carry_on_if_inducting, offer_induction_if_new
from bot.induction.plans import load_plan
from bot.induction.store import InductionStore

USER = "new-ta-1"


@pytest.fixture(autouse=True)
def induction_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The real schools and steps; progress and completions in a throwaway database."""
    monkeypatch.setenv("POLICYBOT_INDUCTION_DATABASE_URL", f"sqlite:///{tmp_path / 'induction.db'}")
    for cached in (services.schools, services.induction):
        cached.cache_clear()
    yield
    for cached in (services.schools, services.induction):
        cached.cache_clear()


def tracker(text: str = "", slots: dict[str, Any] | None = None, intent: str = "start_induction",
            entities: dict[str, str] | None = None, events: list[dict[str, Any]] | None = None,
            latest_action: str = "action_listen") -> Tracker:
    found = [{"entity": name, "value": value} for name, value in (entities or {}).items()]
    return Tracker(USER, slots or {}, {"text": text, "intent": {"name": intent, "confidence": 1.0},
                                       "entities": found}, events or [], False, None, None, latest_action)


def run(action: Action, state: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    return asyncio.run(action.run(dispatcher, state, {})), dispatcher


def texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def payloads(dispatcher: CollectingDispatcher) -> list[str]:
    return [b["payload"] for m in dispatcher.messages for b in m.get("buttons") or []]


def answer_all(school: str, role: str, correct: bool = True) -> None:
    """Answer every check of the plan through the action, rightly or wrongly."""
    plan = load_plan(school, role)
    for step in plan.steps:
        key = next(o.key for o in step.check.options if o.correct == correct)
        run(ActionInductionAnswer(), tracker(intent="induction_answer", slots={"school": school},
                                             entities={"induction_choice": key, "induction_step": step.id}))


def test_a_new_ta_gets_the_first_step_quoted_and_cited_with_check_buttons() -> None:
    events, dispatcher = run(ActionStartInduction(), tracker("what do I need to know as a new TA?",
                                                             {"school": "rolvenden"}))
    plan = load_plan("rolvenden", "support_staff")
    first = plan.steps[0]
    assert first.quote.split()[0] in texts(dispatcher)
    assert "Rolvenden Primary School" in texts(dispatcher)
    assert any(p.startswith("/induction_answer") and f'"induction_step":"{first.id}"' in p
               for p in payloads(dispatcher))
    assert SlotSet("induction_active", True) in events


def test_without_a_role_it_asks_with_role_buttons() -> None:
    events, dispatcher = run(ActionStartInduction(), tracker("start my induction", {"school": "ouston"}))
    roles = [json.loads(p[len("/induction_role"):])["induction_role"]
             for p in payloads(dispatcher) if p.startswith("/induction_role")]
    assert set(roles) == {"teacher", "support_staff", "volunteer", "governor", "contractor"}
    assert SlotSet("induction_active", True) in events


def test_without_a_school_it_asks_for_the_school_and_starts_once_chosen() -> None:
    events, dispatcher = run(ActionStartInduction(), tracker("i'm a new volunteer"))
    assert dispatcher.messages[-1]["response"] == "utter_ask_school"
    assert events == [SlotSet("pending_induction", True)]
    asked = {"event": "user", "text": "i'm a new volunteer", "parse_data": {"intent": {"name": "start_induction"}}}
    events, dispatcher = run(ActionSetSchool(), tracker(
        "/inform_school", {"pending_induction": True}, intent="inform_school",
        entities={"school": "kingsmeadow"}, events=[asked]))
    assert SlotSet("school", "kingsmeadow") in events and SlotSet("pending_induction", None) in events
    first = load_plan("kingsmeadow", "volunteer").steps[0]
    assert f'"induction_step":"{first.id}"' in " ".join(payloads(dispatcher))


def test_a_wrong_answer_shows_the_right_passage_again_and_moves_on() -> None:
    run(ActionStartInduction(), tracker("I'm a new teacher", {"school": "kingsmeadow"}))
    plan = load_plan("kingsmeadow", "teacher")
    step = plan.steps[0]
    wrong = next(o.key for o in step.check.options if not o.correct)
    events, dispatcher = run(ActionInductionAnswer(), tracker(
        intent="induction_answer", slots={"school": "kingsmeadow"},
        entities={"induction_choice": wrong, "induction_step": step.id}))
    assert " ".join(step.quote.split()[:6]) in " ".join(texts(dispatcher).split())
    assert f'"induction_step":"{plan.steps[1].id}"' in " ".join(payloads(dispatcher))
    assert SlotSet("induction_active", True) in events


def test_pause_then_carry_on_resumes_at_the_same_step_in_a_new_session() -> None:
    run(ActionStartInduction(), tracker("governor induction", {"school": "wyre-forest"}))
    plan = load_plan("wyre-forest", "governor")
    right = next(o.key for o in plan.steps[0].check.options if o.correct)
    run(ActionInductionAnswer(), tracker(intent="induction_answer", slots={"school": "wyre-forest"},
                                         entities={"induction_choice": right, "induction_step": plan.steps[0].id}))
    events, dispatcher = run(ActionInductionPause(), tracker(intent="induction_pause",
                                                             slots={"school": "wyre-forest"}))
    assert events == [SlotSet("induction_active", False)]
    assert "/induction_continue" in payloads(dispatcher) or "carry on" in texts(dispatcher).lower()
    services.induction.cache_clear()  # a new action-server process: only the database remembers
    events, dispatcher = run(ActionInductionContinue(), tracker(intent="induction_continue",
                                                                slots={"school": "wyre-forest"}))
    assert f'"induction_step":"{plan.steps[1].id}"' in " ".join(payloads(dispatcher))
    assert SlotSet("induction_active", True) in events


def test_a_free_question_mid_induction_ends_with_shall_we_carry_on() -> None:
    run(ActionStartInduction(), tracker("new staff induction please", {"school": "ouston"},
                                        entities={"induction_role": "teacher"}))
    dispatcher = CollectingDispatcher()
    carry_on_if_inducting(dispatcher, tracker(slots={"school": "ouston", "induction_active": True}), "ouston")
    assert payloads(dispatcher) == ["/induction_continue", "/induction_pause"]
    quiet = CollectingDispatcher()
    carry_on_if_inducting(quiet, tracker(slots={"school": "ouston", "induction_active": False}), "ouston")
    assert quiet.messages == []


def ranked(text: str, slots: dict[str, Any], induction_share: float) -> Tracker:
    """An answered question whose NLU ranking gives start_induction `induction_share`."""
    state = tracker(text, slots, intent="ask_policy")
    state.latest_message["intent_ranking"] = [{"name": "ask_policy", "confidence": 1.0 - induction_share},
                                              {"name": "start_induction", "confidence": induction_share}]
    return state


@pytest.mark.parametrize("slots, share, offered", [
    ({"school": "ouston", "role": "staff"}, INDUCTION_OFFER_SHARE, True),
    ({"school": "ouston"}, 0.4, True),
    ({"school": "ouston", "role": "staff"}, INDUCTION_OFFER_SHARE - 0.01, False),
    ({"school": "ouston", "role": "pupil"}, 0.4, False),
    ({"school": "ouston", "role": "parent"}, 0.4, False),
    ({"school": "ouston", "role": "staff", "induction_active": True}, 0.4, False),
    ({"role": "staff"}, 0.4, False),
])
def test_a_new_starters_answered_question_also_offers_the_induction(slots: dict[str, Any], share: float,
                                                                     offered: bool) -> None:
    dispatcher = CollectingDispatcher()
    offer_induction_if_new(dispatcher, ranked("just started as a TA - can I use my phone in class?", slots, share))
    assert payloads(dispatcher) == (["/start_induction"] if offered else [])
    assert ("your induction" in texts(dispatcher)) is offered


def test_acknowledging_writes_the_record_before_confirming_and_a_name_can_be_added() -> None:
    run(ActionStartInduction(), tracker("I'm a contractor", {"school": "ken-stimpson"}))
    answer_all("ken-stimpson", "contractor", correct=False)
    events, dispatcher = run(ActionInductionAcknowledge(), tracker(intent="induction_acknowledge",
                                                                   slots={"school": "ken-stimpson"}))
    store = InductionStore()
    [record] = store.completions("ken-stimpson")
    assert record.role == "contractor" and record.score == 0 and record.person is None
    assert SlotSet("induction_person", None) in events  # the name form will ask
    assert "/induction_skip_person" in payloads(dispatcher)
    events, dispatcher = run(ActionInductionSavePerson(), tracker(
        "Staff ID 40213", {"school": "ken-stimpson", "induction_person": "Staff ID 40213"}, intent="out_of_scope"))
    assert events == [SlotSet("induction_person", None), SlotSet("induction_active", False)]
    assert InductionStore().completions("ken-stimpson")[0].person == "Staff ID 40213"


def test_acknowledging_twice_does_not_duplicate_the_record_or_ask_for_a_name_again() -> None:
    run(ActionStartInduction(), tracker("volunteer induction", {"school": "rolvenden"}))
    answer_all("rolvenden", "volunteer")
    run(ActionInductionAcknowledge(), tracker(intent="induction_acknowledge", slots={"school": "rolvenden"}))
    events, _dispatcher = run(ActionInductionAcknowledge(), tracker(intent="induction_acknowledge",
                                                                    slots={"school": "rolvenden"}))
    assert len(InductionStore().completions("rolvenden")) == 1
    assert SlotSet("induction_person", NO_PERSON_NEEDED) in events


def test_skip_and_the_silent_form_question() -> None:
    events, dispatcher = run(ActionInductionSkipPerson(), tracker(intent="induction_skip_person"))
    assert "recorded without a name" in texts(dispatcher)
    assert SlotSet("induction_person", None) in events
    silent = CollectingDispatcher()
    asyncio.run(ActionAskInductionPerson().run(silent, tracker(
        "/induction_acknowledge", latest_action="action_induction_acknowledge"), {}))
    assert silent.messages == []


def test_restart_starts_again_from_the_first_step() -> None:
    run(ActionStartInduction(), tracker("I'm a new teacher", {"school": "kingsmeadow"}))
    answer_all("kingsmeadow", "teacher")
    events, dispatcher = run(ActionInductionRestart(), tracker(intent="induction_restart",
                                                               slots={"school": "kingsmeadow"}))
    first = load_plan("kingsmeadow", "teacher").steps[0]
    assert f'"induction_step":"{first.id}"' in " ".join(payloads(dispatcher))
    assert SlotSet("induction_active", True) in events


def test_a_school_without_induction_steps_is_told_so_kindly(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.setattr("actions.inducting.induction_file", lambda school: tmp_path / f"{school}.yml")
    events, dispatcher = run(ActionStartInduction(), tracker("i'm new", {"school": "ouston"}))
    assert "hasn't set up its induction steps" in texts(dispatcher)
    assert "Ouston Primary School" in texts(dispatcher)
    assert events == [SlotSet("pending_induction", False)]
