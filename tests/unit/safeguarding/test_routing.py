"""Which safeguarding action takes a turn (bot/safeguarding/routing.py), and the Rasa policy that makes it so
before any form, rule or fallback (components/safeguarding_policy.py)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.core import contract
from bot.safeguarding.routing import routed_intent, safeguarding_action
from bot.safeguarding.types import ScreenResult
from components.safeguarding_policy import PRIORITY, SafeguardingPolicy

HAND_OFF = ScreenResult("disclosure", "high", "physical_abuse", 0.9, signpost=True).to_dict()
CONCERN = ScreenResult("concern", "standard", "online_safety", 0.7, signpost=True).to_dict()
CHECK_IN = ScreenResult("question", "none", "bullying", 0.5, check_in=True, signpost=True).to_dict()
POLISH = ScreenResult("other", "none", "other", 1.0, signpost=True, language="pl").to_dict()
POLISH_HARM = ScreenResult("concern", "standard", "physical_abuse", 1.0, signpost=True, language="pl").to_dict()
QUIET = ScreenResult("question", "none", "online_safety", 0.9).to_dict()


@pytest.mark.parametrize("verdict, intent, pending, form, action", [
    (HAND_OFF, "ask_policy", False, None, contract.HANDOFF_ACTION),        # a question intent changes nothing
    (CONCERN, "nlu_fallback", False, None, contract.HANDOFF_ACTION),
    (POLISH_HARM, "out_of_scope", False, None, contract.HANDOFF_ACTION),   # harm in another language: handed off
    (POLISH, "out_of_scope", False, None, contract.OTHER_LANGUAGE_ACTION),
    (CHECK_IN, "ask_policy", False, None, contract.CHECK_IN_ACTION),
    (CHECK_IN, "ask_policy", False, "induction_person_form", contract.CHECK_IN_ACTION),
    (CHECK_IN, "ask_policy", False, "concern_form", None),                 # the report form goes to the DSL anyway
    (HAND_OFF, "ask_policy", False, "concern_form", contract.HANDOFF_ACTION),
    (QUIET, "ask_policy", False, None, None),
    (None, contract.DISCLOSURE_INTENT, False, None, contract.HANDOFF_ACTION),  # the intent alone (story tests)
    (QUIET, "affirm", True, None, contract.PASS_ON_ACTION),                # "yes" to a waiting check-in
    (QUIET, "deny", True, None, contract.NOT_NOW_ACTION),
    (QUIET, "affirm", False, None, None),                                  # "yes" to something else
    (QUIET, contract.PASS_ON_INTENT, False, None, contract.PASS_ON_ACTION),  # the button, even stale
    (HAND_OFF, "affirm", True, None, contract.HANDOFF_ACTION),             # a disclosure beats a waiting answer
])
def test_the_verdict_decides_the_turn(verdict: dict[str, Any] | None, intent: str, pending: bool,
                                      form: str | None, action: str | None) -> None:
    assert safeguarding_action(verdict, intent, pending, form) == action


def test_routed_intents_follow_hand_off_then_language_then_check_in() -> None:
    assert [routed_intent(v) for v in (HAND_OFF, POLISH_HARM, POLISH, CHECK_IN, QUIET)] == [
        contract.DISCLOSURE_INTENT, contract.DISCLOSURE_INTENT, contract.OTHER_LANGUAGE_INTENT,
        contract.CHECK_IN_INTENT, None]


# ------------------------------------------------------------------------------------------------ the policy


@pytest.fixture(scope="module")
def domain() -> Domain:
    from bot import settings

    return Domain.load(str(settings.PROJECT_ROOT / "domain"))


def tracker(verdict: dict[str, Any] | None, intent: str = "ask_policy", *, after: str | None = None,
            form: str | None = None, slots: dict[str, Any] | None = None) -> DialogueStateTracker:
    events: list[Any] = [ActionExecuted(ACTION_LISTEN_NAME)]
    if form:
        events += [ActiveLoop(form)]
    events += [SlotSet(k, v) for k, v in (slots or {}).items()]
    parse = {"intent": {"name": intent, "confidence": 0.99}, "entities": [], "text": "words"}
    if verdict is not None:
        parse[contract.VERDICT_KEY] = verdict
    events.append(UserUttered("words", parse["intent"], [], parse))
    if after:
        events.append(ActionExecuted(after))
    return DialogueStateTracker.from_events("t", events)


def test_the_policy_wins_over_an_active_form_with_a_no_user_prediction(domain: Domain) -> None:
    """An active form's happy path is a no-user prediction that beats every rule: this policy's is one too, at
    confidence 1.0 and a higher priority, so the ensemble picks it."""
    policy = SafeguardingPolicy(SafeguardingPolicy.get_default_config(), None, None, _context())  # type: ignore
    prediction = policy.predict_action_probabilities(tracker(HAND_OFF, form="induction_person_form"), domain)
    assert prediction.is_no_user_prediction and prediction.policy_priority == PRIORITY > 6
    assert domain.action_names_or_texts[prediction.max_confidence_index] == contract.HANDOFF_ACTION
    assert prediction.max_confidence == 1.0


def test_after_its_action_the_policy_listens_and_otherwise_abstains(domain: Domain) -> None:
    policy = SafeguardingPolicy(SafeguardingPolicy.get_default_config(), None, None, _context())  # type: ignore
    after = policy.predict_action_probabilities(tracker(HAND_OFF, after=contract.HANDOFF_ACTION), domain)
    assert domain.action_names_or_texts[after.max_confidence_index] == ACTION_LISTEN_NAME
    quiet = policy.predict_action_probabilities(tracker(QUIET), domain)
    assert quiet.max_confidence == 0.0 and not quiet.is_no_user_prediction
    other = policy.predict_action_probabilities(tracker(HAND_OFF, after="action_answer_policy_question"), domain)
    assert other.max_confidence == 0.0


def test_a_disclosure_after_a_session_start_that_failed_is_still_handed_off(domain: Domain) -> None:
    """With the action server down as a session began, action_session_start ran (and failed) and no action_listen
    followed it: the message comes straight after it. The hand-off is still the turn's first action (the crash
    trial of 2026-12-06 looped on the fallback here once TED no longer guessed)."""
    policy = SafeguardingPolicy(SafeguardingPolicy.get_default_config(), None, None, _context())  # type: ignore
    parse = {"intent": {"name": "ask_policy", "confidence": 0.99}, "entities": [], "text": "words",
             contract.VERDICT_KEY: HAND_OFF}
    events = [ActionExecuted("action_session_start"), UserUttered("words", parse["intent"], [], parse)]
    first = policy.predict_action_probabilities(DialogueStateTracker.from_events("t", events), domain)
    assert domain.action_names_or_texts[first.max_confidence_index] == contract.HANDOFF_ACTION
    later = policy.predict_action_probabilities(
        DialogueStateTracker.from_events("t", [*events, ActionExecuted("action_default_fallback")]), domain)
    assert later.max_confidence == 0.0


def test_a_yes_while_a_check_in_waits_is_passed_on(domain: Domain) -> None:
    policy = SafeguardingPolicy(SafeguardingPolicy.get_default_config(), None, None, _context())  # type: ignore
    waiting = tracker(QUIET, "affirm", slots={contract.PENDING_CHECK_IN_SLOT: "m-1"})
    prediction = policy.predict_action_probabilities(waiting, domain)
    assert domain.action_names_or_texts[prediction.max_confidence_index] == contract.PASS_ON_ACTION


def test_every_name_in_the_contract_exists_in_the_domain(domain: Domain) -> None:
    """Keys shared with the Rasa side are defined once (bot/core/contract.py); the domain must agree."""
    for intent in (*contract.SAFEGUARDING_INTENTS, contract.PASS_ON_INTENT, contract.NOT_NOW_INTENT):
        assert intent in domain.intents
    for action in (contract.HANDOFF_ACTION, contract.CHECK_IN_ACTION, contract.OTHER_LANGUAGE_ACTION,
                   contract.PASS_ON_ACTION, contract.NOT_NOW_ACTION):
        assert action in domain.action_names_or_texts
    assert contract.PENDING_CHECK_IN_SLOT in {slot.name for slot in domain.slots}


def _context() -> Any:
    from rasa.engine.graph import ExecutionContext

    return ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
