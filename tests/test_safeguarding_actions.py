"""The safeguarding actions as the action server runs them: a disclosure is recorded, then the reply gives its
reference; retries never duplicate; a dead store still gets the safe reply; the report form files a record."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.action_dsl_handoff import ActionDslHandoff
from actions.action_pause_concern_report import ActionPauseConcernReport
from actions.action_set_school import ActionSetSchool
from actions.action_submit_concern import ActionSubmitConcern
from actions.validate_concern_form import ValidateConcernForm
from bot.core import contract
from bot.safeguarding.records import ConcernStore
from bot.safeguarding.types import ScreenResult

CANARY = "zebra-canary-7731"
DISCLOSURE = f"my stepdad hits me when mum is out {CANARY}"
CACHED = (services.schools, services.assistant, services.feedback, services.concern_store, services.desk,
          services.outbox_worker)


@pytest.fixture(autouse=True)
def action_env(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Tiny schools, a throwaway concern store, and readers/notification settings for them."""
    config = tmp_path / "safeguarding.yml"
    config.write_text("schools:\n  alder:\n    dsl_readers: [alder-dsl]\n    notify_email: [dsl@alder.example]\n"
                      "  birch:\n    dsl_readers: [birch-dsl]\n", encoding="utf-8")
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("POLICYBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'policybot.db'}")
    monkeypatch.setenv("POLICYBOT_CONCERNS_DATABASE_URL", f"sqlite:///{tmp_path / 'concerns.db'}")
    monkeypatch.setenv("POLICYBOT_SAFEGUARDING_CONFIG", str(config))
    monkeypatch.setenv("POLICYBOT_SMTP_PORT", "9")  # nothing listens: notifications stay pending, records stay
    for cached in CACHED:
        cached.cache_clear()
    yield
    if services.outbox_worker.cache_info().currsize:
        services.outbox_worker().stop()
    for cached in CACHED:
        cached.cache_clear()


def disclosure_tracker(text: str = DISCLOSURE, slots: dict[str, Any] | None = None, message_id: str = "m-1",
                       urgency: str = "high", category: str = "physical_abuse",
                       active_loop: str | None = None) -> Tracker:
    label = "concern" if urgency == "concern" else "disclosure"
    verdict = ScreenResult(label, "standard" if label == "concern" else urgency, category, 1.0, signpost=True)
    message = {"text": text, "intent": {"name": "safeguarding_disclosure", "confidence": 1.0}, "entities": [],
               contract.VERDICT_KEY: verdict.to_dict(), "message_id": message_id, "input_channel": "rest"}
    events = [{"event": "user", "text": "can I use my phone at lunch?", "timestamp": 1.0},
              {"event": "bot", "text": "Pupils may use phones at lunchtime.", "timestamp": 2.0},
              {"event": "user", "text": text, "timestamp": 3.0, "message_id": message_id,
               "parse_data": message, "input_channel": "rest"}]
    return Tracker("pupil-1", {"school": "alder", "role": "pupil", **(slots or {})}, message, events, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


def run(action: Action, state: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, state, {}))
    return events, dispatcher


def said(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or m.get("response") or "" for m in dispatcher.messages)


def slot(events: list[dict[str, Any]], name: str) -> Any:
    values = [e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name]
    assert values, f"no SlotSet for {name}"
    return values[-1]


def stored(reference: str, school: str = "alder"):
    return ConcernStore().show(reference, school, f"{school}-dsl")


def test_disclosure_is_recorded_and_the_reply_gives_its_reference() -> None:
    """The record (words verbatim, excerpt, urgency) exists when the reply naming its reference is sent."""
    events, dispatcher = run(ActionDslHandoff(), disclosure_tracker())
    reference = slot(events, "last_concern_reference")
    assert reference and reference.startswith("APS-")
    record = stored(reference)
    assert record.words == DISCLOSURE
    assert (record.urgency, record.category, record.kind, record.role, record.channel) == (
        "high", "physical_abuse", "disclosure", "pupil", "rest")
    assert "person: can I use my phone at lunch?" in record.excerpt
    text = said(dispatcher)
    assert reference in text
    assert "not your fault" in text and "0800 1111" in text


def test_a_retried_message_is_not_recorded_twice() -> None:
    """The same message id (a client retry) gives the same reference and one record."""
    first, _ = run(ActionDslHandoff(), disclosure_tracker(message_id="retry-1"))
    second, dispatcher = run(ActionDslHandoff(), disclosure_tracker(message_id="retry-1"))
    assert slot(first, "last_concern_reference") == slot(second, "last_concern_reference")
    assert len(ConcernStore().list_concerns("alder", "alder-dsl", status="all")) == 1
    assert slot(second, "last_concern_reference") in said(dispatcher)


def test_a_dead_store_still_gets_the_safe_reply_and_claims_nothing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """No record possible: trusted adult, Childline, 999 — and no reference, no 'passed on'."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("POLICYBOT_CONCERNS_DATABASE_URL", f"sqlite:///{blocker / 'concerns.db'}")
    services.concern_store.cache_clear()
    services.desk.cache_clear()
    events, dispatcher = run(ActionDslHandoff(), disclosure_tracker())
    text = said(dispatcher)
    assert slot(events, "last_concern_reference") is None
    assert "0800 1111" in text and "999" in text
    assert "reference" not in text.lower()
    assert "passed" not in text.lower()


def test_a_disclosure_before_the_school_is_known_is_handed_off_once_it_is() -> None:
    """Safe words at once and a school question; choosing the school records the original message."""
    state = disclosure_tracker(slots={"school": None}, message_id="early-1")
    events, dispatcher = run(ActionDslHandoff(), state)
    assert "0800 1111" in said(dispatcher)
    assert dispatcher.messages[-1]["response"] == "utter_ask_school_for_disclosure"
    assert slot(events, "pending_disclosure") == "early-1"

    pick = Tracker("pupil-1", {"role": "pupil", "pending_disclosure": "early-1"},
                   {"text": "alder", "intent": {"name": "inform_school", "confidence": 1.0},
                    "entities": [{"entity": "school", "value": "alder"}]},
                   state.events, False, None, {}, "action_listen")
    events, dispatcher = run(ActionSetSchool(), pick)
    reference = slot(events, "last_concern_reference")
    assert stored(reference).words == DISCLOSURE
    assert reference in said(dispatcher)
    assert slot(events, "pending_disclosure") is None


def test_a_disclosure_interrupts_the_report_form() -> None:
    """Mid-form, the disclosure is handed off and the form is closed."""
    events, _ = run(ActionDslHandoff(), disclosure_tracker(active_loop="concern_form"))
    assert ActiveLoop(None) in events


def test_immediate_danger_puts_999_first() -> None:
    _, dispatcher = run(ActionDslHandoff(), disclosure_tracker(urgency="immediate", category="self_harm"))
    assert "999" in dispatcher.messages[0]["text"]


def test_no_disclosure_text_reaches_the_logs(caplog: pytest.LogCaptureFixture, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded, failed store, and report: the canary never appears in any log record."""
    caplog.set_level(logging.DEBUG)
    run(ActionDslHandoff(), disclosure_tracker(message_id="log-1"))
    blocker = tmp_path / "blocked"
    blocker.write_text("x")
    monkeypatch.setenv("POLICYBOT_CONCERNS_DATABASE_URL", f"sqlite:///{blocker / 'c.db'}")
    services.concern_store.cache_clear()
    services.desk.cache_clear()
    run(ActionDslHandoff(), disclosure_tracker(message_id="log-2"))
    assert caplog.records, "the failed store was logged"
    assert all(CANARY not in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------------------------------------------- report form

def form_tracker(slots: dict[str, Any], text: str = "", intent: str = "inform") -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [],
               "message_id": "form-last"}
    return Tracker("pupil-2", {"school": "alder", "role": "pupil", **slots}, message,
                   [{"event": "user", "text": text, "timestamp": 9.0, "message_id": "form-last"}], False, None,
                   {"name": "concern_form"}, "action_listen")


def test_form_asks_for_the_school_first_and_stops_asking_after_danger_now() -> None:
    form = ValidateConcernForm()
    every = ["concern_what", "concern_who", "concern_when", "concern_danger", "concern_name"]
    no_school = asyncio.run(form.required_slots(every, CollectingDispatcher(), form_tracker({"school": None}), {}))
    assert no_school == ["school", *every]
    danger = asyncio.run(form.required_slots(every, CollectingDispatcher(),
                                             form_tracker({"concern_danger": True}), {}))
    assert danger == every[:4]


@pytest.mark.parametrize("answer, expected", [("skip", "not given"), ("I'd rather not say", "not given"),
                                              ("two boys in year 8", "two boys in year 8")])
def test_optional_answers_can_be_skipped(answer: str, expected: str) -> None:
    result = ValidateConcernForm().validate_concern_who(answer, CollectingDispatcher(), form_tracker({}, answer), {})
    assert result == {"concern_who": expected}


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("yes he is here now", True),
                                             ("no", False)])
def test_danger_now_takes_yes_or_no(value: Any, expected: bool) -> None:
    state = form_tracker({}, value if isinstance(value, str) else "")
    result = ValidateConcernForm().validate_concern_danger(value, CollectingDispatcher(), state, {})
    assert result == {"concern_danger": expected}


def test_danger_now_asks_again_when_unclear() -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateConcernForm().validate_concern_danger("maybe later", dispatcher, form_tracker({}, "maybe"), {})
    assert result == {"concern_danger": None}
    assert "yes or a no" in said(dispatcher)


def test_a_finished_report_is_recorded_then_confirmed_with_its_reference() -> None:
    answers = {"concern_what": f"a boy in my class shows rude videos on his phone {CANARY}",
               "concern_who": "not given", "concern_when": "at lunch today", "concern_danger": False,
               "concern_name": "not given"}
    events, dispatcher = run(ActionSubmitConcern(), form_tracker(answers, "skip"))
    reference = slot(events, "last_concern_reference")
    record = stored(reference)
    assert record.kind == "report" and record.urgency == "standard"
    assert answers["concern_what"] in record.words and "at lunch today" in record.words
    assert record.reporter_name is None
    assert reference in said(dispatcher)
    assert slot(events, "concern_what") is None, "the form's answers are cleared for the next report"


def test_a_report_with_danger_now_is_immediate_and_says_999_first() -> None:
    answers = {"concern_what": "my friend says she is going to hurt herself tonight", "concern_danger": True}
    events, dispatcher = run(ActionSubmitConcern(), form_tracker(answers, "yes"))
    assert stored(slot(events, "last_concern_reference")).urgency == "immediate"
    assert "999" in dispatcher.messages[0]["text"]


def test_stop_pauses_the_form_and_keeps_the_answers() -> None:
    events, dispatcher = run(ActionPauseConcernReport(), form_tracker({"concern_what": "something"}, "stop"))
    assert ActiveLoop(None) in events
    assert not any(e.get("name") == "concern_what" for e in events if e.get("event") == "slot")
    assert dispatcher.messages[0]["response"] == "utter_concern_report_paused"


def concern_question_tracker(label: str, top_intent: str, share: float, urgency: str = "standard") -> Tracker:
    """A message the screen hands off (`label`) whose classifier ranking, kept under the safeguarding intent, puts
    `top_intent` first at `share`."""
    state = disclosure_tracker(text="can I use my phone in lessons?", message_id=f"cq-{label}-{top_intent}-{share}",
                               urgency="concern" if label == "concern" else urgency, category="online_safety")
    state.latest_message["intent_ranking"] = [{"name": "safeguarding_disclosure", "confidence": 1.0},
                                              {"name": top_intent, "confidence": share},
                                              {"name": "chitchat", "confidence": 1.0 - share}]
    return state


def test_a_concern_that_asks_a_policy_question_is_passed_on_then_answered() -> None:
    """Recorded and acknowledged first; then the policy's answer, and none of it kept for the gaps report."""
    events, dispatcher = run(ActionDslHandoff(), concern_question_tracker("concern", "ask_policy", 0.9))
    reference = slot(events, "last_concern_reference")
    texts = [m.get("text") or "" for m in dispatcher.messages]
    expected = services.assistant().answer("alder", "can I use my phone in lessons?", "pupil")
    assert not expected.abstained
    acknowledged = next(i for i, t in enumerate(texts) if reference in t)
    assert acknowledged < len(texts) - 2
    assert texts[-2:] == ["You also asked about the rules, so here is what the policy says:", expected.text]
    with services.feedback()._engine.connect() as connection:  # noqa: SLF001 - what is on disk is the point
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM policy_questions").scalar() == 0


@pytest.mark.parametrize("label, top_intent, share, urgency", [
    ("disclosure", "ask_policy", 0.9, "high"),       # a disclosure's reply stays on the person
    ("disclosure", "ask_policy", 0.9, "immediate"),
    ("concern", "chitchat", 0.9, "standard"),         # not read as a policy question
    ("concern", "ask_policy", 0.4, "standard"),       # not sure enough that it is one
])
def test_a_hand_off_adds_no_policy_answer_unless_a_concern_asks_a_question(label: str, top_intent: str,
                                                                          share: float, urgency: str) -> None:
    events, dispatcher = run(ActionDslHandoff(), concern_question_tracker(label, top_intent, share, urgency))
    assert slot(events, "last_concern_reference") in said(dispatcher)
    assert "You also asked about the rules" not in said(dispatcher)


def test_a_sensitive_question_is_answered_then_gently_offers_someone_to_talk_to() -> None:
    """The screen marked it a question on a sensitive topic: the policy answer comes first, then an open door."""
    from actions.action_answer_policy_question import ActionAnswerPolicyQuestion

    message = {"text": "can I use my phone in lessons?", "intent": {"name": "ask_policy", "confidence": 0.9},
               "entities": [], "safeguarding": {"label": "question", "urgency": "none", "category": "bullying"}}
    state = Tracker("pupil-3", {"school": "alder", "role": "pupil"}, message, [], False, None, {}, "action_listen")
    _, dispatcher = run(ActionAnswerPolicyQuestion(), state)
    assert "Alder Primary School" in dispatcher.messages[0]["text"]
    offer = dispatcher.messages[-1]["text"]
    assert "0800 1111" in offer and "?" not in offer
    assert "reference" not in said(dispatcher).lower()


def test_the_gaps_report_keeps_no_words_of_a_question_the_screen_saw_risk_in() -> None:
    """A sensitive question may be a child's near-disclosure: the feedback store notes that one was asked, not its
    words (an ordinary question's words are kept, for the policy owner's gaps report)."""
    from actions.action_answer_policy_question import ActionAnswerPolicyQuestion
    from actions.answering import WORDS_NOT_KEPT

    for text, verdict in (("what happens if someone hurts themselves at home canary-q-55", {
            "label": "question", "urgency": "none", "category": "self_harm"}),
            ("can I use my phone in lessons?", {"label": "question", "urgency": "none", "category": "other"})):
        message = {"text": text, "intent": {"name": "ask_policy", "confidence": 0.9}, "entities": [],
                   "safeguarding": verdict}
        run(ActionAnswerPolicyQuestion(), Tracker("pupil-4", {"school": "alder", "role": "pupil"}, message, [],
                                                  False, None, {}, "action_listen"))
    with services.feedback()._engine.connect() as connection:  # noqa: SLF001 - what is on disk is the point
        stored = [row.question for row in connection.exec_driver_sql("SELECT question FROM policy_questions ORDER BY id")]
    assert stored == [WORDS_NOT_KEPT, "can I use my phone in lessons?"]


# ------------------------------------------------------------------------------------------------ check-in, languages


def check_in_tracker(text: str, slots: dict[str, Any] | None = None, message_id: str = "ci-1",
                     verdict: ScreenResult | None = None, active_loop: str | None = None) -> Tracker:
    verdict = verdict or ScreenResult("question", "none", "bullying", 0.6,
                                      ("model:hand_off=0.20", "band:check_in", "if_told:high"), check_in=True,
                                      signpost=True)
    message = {"text": text, "intent": {"name": contract.CHECK_IN_INTENT, "confidence": 1.0}, "entities": [],
               contract.VERDICT_KEY: verdict.to_dict(), "message_id": message_id, "input_channel": "rest"}
    events = [{"event": "user", "text": text, "timestamp": 3.0, "message_id": message_id, "parse_data": message,
               "input_channel": "rest"}]
    return Tracker("pupil-9", {"school": "alder", "role": "pupil", **(slots or {})}, message, events, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


def answer_tracker(previous: Tracker, intent: str, text: str, slots: dict[str, Any]) -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [], "message_id": "a-1"}
    return Tracker(previous.sender_id, {**previous.slots, **slots}, message,
                   [*previous.events, {"event": "user", "text": text, "timestamp": 9.0, "parse_data": message}],
                   False, None, {}, "action_listen")


def test_the_check_in_asks_if_they_are_safe_offers_the_dsl_and_signposts() -> None:
    """Thanks, are you safe (999), the offer with its two buttons, Childline; no record, nothing claimed; the
    message waits for the answer; a form it interrupts is closed."""
    from actions.action_safeguarding_check_in import ActionSafeguardingCheckIn

    events, dispatcher = run(ActionSafeguardingCheckIn(), check_in_tracker("things are hard", active_loop="x"))
    text = said(dispatcher)
    assert "Are you safe right now?" in text and "999" in text and "0800 1111" in text and "Mary Oak" in text
    offer = next(m for m in dispatcher.messages if m.get("buttons"))
    assert [b["title"] for b in offer["buttons"]] == ["Yes, tell someone", "No, I was asking a question"]
    assert [b["payload"] for b in offer["buttons"]] == ["/safeguarding_pass_on", "/safeguarding_not_now"]
    assert slot(events, contract.PENDING_CHECK_IN_SLOT) == "ci-1"
    assert ActiveLoop(None) in events
    assert "reference" not in text.lower() and ConcernStore().list_concerns("alder", "alder-dsl",
                                                                            status="all") == []


def test_yes_after_a_check_in_hands_off_the_original_words() -> None:
    """"Yes, tell someone" records the waiting message itself, at the urgency the screen gave it if told."""
    from actions.action_safeguarding_pass_on import ActionSafeguardingPassOn

    first = check_in_tracker(f"i dont want to be at home {CANARY}")
    events, dispatcher = run(ActionSafeguardingPassOn(),
                             answer_tracker(first, contract.PASS_ON_INTENT, "/safeguarding_pass_on",
                                            {contract.PENDING_CHECK_IN_SLOT: "ci-1"}))
    reference = slot(events, "last_concern_reference")
    record = stored(reference)
    assert record.words == f"i dont want to be at home {CANARY}"
    assert (record.kind, record.urgency, record.category) == ("disclosure", "high", "bullying")
    assert reference in said(dispatcher) and slot(events, contract.PENDING_CHECK_IN_SLOT) is None


def test_no_after_a_check_in_answers_the_question_it_was() -> None:
    from actions.action_safeguarding_not_now import ActionSafeguardingNotNow

    first = check_in_tracker("must pupils hand in their mobile phones?")
    events, dispatcher = run(ActionSafeguardingNotNow(),
                             answer_tracker(first, contract.NOT_NOW_INTENT, "/safeguarding_not_now",
                                            {contract.PENDING_CHECK_IN_SLOT: "ci-1"}))
    text = said(dispatcher)
    assert text.startswith("That's fine.") and "0800 1111" in text
    assert "class teacher" in text, "the policy answer to the waiting question follows"
    assert slot(events, contract.PENDING_CHECK_IN_SLOT) is None
    assert ConcernStore().list_concerns("alder", "alder-dsl", status="all") == []


@pytest.mark.parametrize("action", ["pass_on", "not_now"])
def test_an_answer_with_nothing_waiting_says_how_to_tell_someone(action: str) -> None:
    from actions.action_safeguarding_not_now import ActionSafeguardingNotNow
    from actions.action_safeguarding_pass_on import ActionSafeguardingPassOn

    runner = ActionSafeguardingPassOn() if action == "pass_on" else ActionSafeguardingNotNow()
    _, dispatcher = run(runner, answer_tracker(check_in_tracker("hi"), "affirm", "yes", {}))
    assert "write it here" in said(dispatcher) and "999" in said(dispatcher)


@pytest.fixture
def languages(data_dir: Path) -> None:
    """The language templates in the tiny data folder (as a deployment's data folder has them)."""
    import shutil

    from actions.languages import language_packs
    from bot import settings

    shutil.copytree(settings.PROJECT_ROOT / "data" / "safeguarding" / "languages",
                    data_dir / "safeguarding" / "languages")
    language_packs.cache_clear()
    yield
    language_packs.cache_clear()


@pytest.mark.usefixtures("languages")
def test_a_message_in_polish_gets_the_polish_template_with_the_offer() -> None:
    """Never silence or 'didn't get that': thanks, 999, Childline and the offer, in Polish with English below."""
    from actions.action_other_language import ActionOtherLanguage

    verdict = ScreenResult("other", "none", "other", 1.0, ("language:pl", "script:Latn"), signpost=True,
                           language="pl")
    events, dispatcher = run(ActionOtherLanguage(), check_in_tracker("dzień dobry", verdict=verdict))
    text = said(dispatcher)
    assert "zadzwoń pod numer 999" in text and "0800 1111" in text and "If you are in danger" in text
    assert [b["payload"] for b in dispatcher.messages[-1]["buttons"]] == ["/safeguarding_pass_on",
                                                                         "/safeguarding_not_now"]
    assert slot(events, contract.PENDING_CHECK_IN_SLOT) == "ci-1"


@pytest.mark.usefixtures("languages")
def test_harm_words_in_polish_are_recorded_then_acknowledged_in_polish() -> None:
    verdict = ScreenResult("concern", "standard", "physical_abuse", 1.0,
                           ("language:pl", "script:Latn", "harm_term:pl:hit"), signpost=True, language="pl")
    state = check_in_tracker(f"ojczym mnie bije {CANARY}", verdict=verdict, message_id="pl-1")
    events, dispatcher = run(ActionDslHandoff(), state)
    reference = slot(events, "last_concern_reference")
    record = stored(reference)
    assert record.words == f"ojczym mnie bije {CANARY}" and record.kind == "concern" and record.language == "pl"
    text = said(dispatcher)
    assert reference in text and "Mary Oak" in text and "to nie jest Twoja wina" in text
    assert "999" not in dispatcher.messages[0]["text"], "not danger now: thanks first"


@pytest.mark.usefixtures("languages")
def test_danger_now_in_polish_says_999_first_in_both_languages() -> None:
    verdict = ScreenResult("disclosure", "immediate", "danger", 1.0, ("language:pl", "harm_term:pl:weapon"),
                           signpost=True, language="pl")
    events, dispatcher = run(ActionDslHandoff(), check_in_tracker("on ma nóż", verdict=verdict, message_id="pl-2"))
    assert slot(events, "last_concern_reference")
    first = dispatcher.messages[0]["text"]
    assert "zadzwoń pod numer 999" in first and "call 999" in first


def test_the_fallback_never_says_didnt_get_that_without_the_safety_numbers() -> None:
    from actions.action_default_fallback import ActionDefaultFallback

    message = {"text": "zzz qqq", "intent": {"name": "nlu_fallback", "confidence": 0.3}, "entities": []}
    state = Tracker("p", {"school": "alder", "role": "pupil"}, message, [], False, None, {}, "action_listen")
    _, dispatcher = run(ActionDefaultFallback(), state)
    assert dispatcher.messages[0]["response"] == "utter_default"
    assert "0800 1111" in dispatcher.messages[1]["text"] and "999" in dispatcher.messages[1]["text"]


# ------------------------------------------------------------------------------------------------ the pinned school


def pin_tracker(metadata: dict[str, Any] | None, intent: str = "ask_policy", school_entity: str | None = None,
                slots: dict[str, Any] | None = None) -> Tracker:
    entities = [{"entity": "school", "value": school_entity}] if school_entity else []
    message = {"text": "words", "intent": {"name": intent, "confidence": 0.9}, "entities": entities,
               "metadata": metadata or {}}
    return Tracker("p", {"role": "pupil", **(slots or {})}, message, [], False, None, {}, "action_listen")


@pytest.mark.parametrize("metadata, intent, entity, slots, expected", [
    ({"school": "alder"}, "ask_policy", "birch", {"school": None}, "alder"),     # the channel pins it
    ({"school": "alder"}, "inform_school", "birch", {"school": "alder"}, None),  # naming another: no change
    ({}, "ask_policy", "birch", {"school": "alder"}, None),                      # a question about another school
    ({}, "inform_school", "birch", {"school": None}, "birch"),                   # saying which school they are at
    ({"school": "nowhere"}, "ask_policy", None, {"school": "alder"}, None),      # unknown channel school: ignored
])
def test_the_school_slot_follows_the_channel_and_never_a_question(metadata: dict[str, Any], intent: str,
                                                                  entity: str | None, slots: dict[str, Any],
                                                                  expected: str | None) -> None:
    from actions.action_pin_school import ActionPinSchool

    events, _ = run(ActionPinSchool(), pin_tracker(metadata, intent, entity, slots))
    assert ([e["value"] for e in events if e.get("event") == "slot"] or [None])[-1] == expected


def test_saying_another_school_on_a_pinned_chat_keeps_the_pin_and_says_why() -> None:
    state = pin_tracker({"school": "alder"}, "inform_school", "birch", {"school": "alder"})
    events, dispatcher = run(ActionSetSchool(), state)
    assert slot(events, "school") == "alder"
    assert "This chat is Alder Primary School's" in said(dispatcher) and "Birch Academy's" in said(dispatcher)


def test_a_disclosure_after_asking_about_another_school_goes_to_ones_own() -> None:
    """The question named Birch, but the person is at Alder: the record is Alder's."""
    events, _ = run(ActionDslHandoff(), disclosure_tracker(slots={"school": "alder"}, message_id="pin-1"))
    reference = slot(events, "last_concern_reference")
    assert reference.startswith("APS-") and stored(reference).words == DISCLOSURE
    assert ConcernStore().list_concerns("birch", "birch-dsl", status="all") == []
