"""The Rasa actions, run as the action server runs them: a Tracker in, events and messages out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.action_answer_followup import ActionAnswerFollowup
from actions.action_answer_policy_question import ActionAnswerPolicyQuestion
from actions.action_compare_schools import ActionCompareSchools
from actions.action_record_feedback import ActionRecordFeedback
from actions.action_session_start import ActionSessionStart
from actions.action_set_role import ActionSetRole
from actions.action_set_school import ActionSetSchool
from actions.action_who_is import ActionWhoIs
from bot.core import contract


@pytest.fixture(autouse=True)
def action_env(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the action server's services at the tiny schools, a fake embedder and a throwaway database."""
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("POLICYBOT_EMBEDDING_MODEL", "fake")
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'policybot.db'}")
    for cached in (services.schools, services.assistant, services.feedback):
        cached.cache_clear()
    yield
    for cached in (services.schools, services.assistant, services.feedback):
        cached.cache_clear()


def tracker(text: str = "", slots: dict[str, Any] | None = None, intent: str = "ask_policy",
            entities: list[dict[str, Any]] | None = None) -> Tracker:
    return Tracker("test-user", slots or {}, {"text": text, "intent": {"name": intent, "confidence": 1.0},
                                             "entities": entities or []}, [], False, None, None, "action_listen")


def run(action: Action, state: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, state, {}))
    return events, dispatcher


def slot(events: list[dict[str, Any]], name: str) -> Any:
    values = [e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name]
    assert values, f"no SlotSet for {name}"
    return values[-1]


def test_policy_question_is_answered_from_the_school_with_feedback_buttons() -> None:
    """A pupil at Alder gets Alder's rule, cited, with 'was this helpful?' buttons, and the question is kept."""
    events, dispatcher = run(ActionAnswerPolicyQuestion(),
                             tracker("can I use my phone in lessons?", {"school": "alder", "role": "pupil"}))
    message = dispatcher.messages[0]
    assert "allowed with staff permission" in message["text"]
    assert "Alder Primary School" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/feedback_positive", "/feedback_negative"]
    assert slot(events, "last_question") == "can I use my phone in lessons?"
    assert slot(events, "pending_question") is None
    assert isinstance(slot(events, "last_question_id"), int)


def test_question_without_a_school_asks_for_it_and_keeps_the_question() -> None:
    """No school yet: ask with buttons (utter_ask_school) and remember the question for afterwards."""
    events, dispatcher = run(ActionAnswerPolicyQuestion(), tracker("can I bring my phone?"))
    assert dispatcher.messages[0]["response"] == "utter_ask_school"
    assert events == [SlotSet("pending_question", "can I bring my phone?")]


def test_choosing_a_school_by_alias_answers_the_waiting_question() -> None:
    """'alder primary' is Alder; with the role known, the pending question is answered straight away."""
    state = tracker("alder primary", {"role": "pupil", "pending_question": "can I use my phone in lessons?"},
                    intent="inform_school", entities=[{"entity": "school", "value": "alder primary"}])
    events, dispatcher = run(ActionSetSchool(), state)
    assert slot(events, "school") == "alder"
    assert "allowed with staff permission" in dispatcher.messages[-1]["text"]


def test_a_question_that_names_the_school_is_answered_not_only_acknowledged() -> None:
    """The classifier may take a question that names the school for "this is my school": it is answered, the same
    as `policybot ask` answers it, and the school the person already has stays."""
    question = "can pupils at Alder use their phones in lessons?"
    events, dispatcher = run(ActionSetSchool(), tracker(question, {"school": "alder", "role": "pupil"},
                                                        intent="inform_school",
                                                        entities=[{"entity": "school", "value": "alder"}]))
    texts = [m.get("text") or "" for m in dispatcher.messages]
    assert services.assistant().answer("alder", question, "pupil").text in texts
    assert "allowed with staff permission" in texts[0]
    assert not any(t.startswith("Thanks — I'll answer from") for t in texts)
    assert not any(e.get("name") == "school" for e in events if e.get("event") == "slot")


def test_a_question_naming_another_school_in_a_pinned_chat_is_answered_from_it_and_the_chat_keeps_its_own() -> None:
    """In Alder's chat, "what does Birch say about phones at lunchtime?" is answered and cited as Birch's policy;
    the chat stays Alder's (no "this chat is Alder's" reply, no school slot changed)."""
    state = Tracker("test-user", {"school": "alder", "role": "pupil"},
                    {"text": "what does Birch say about students using phones at lunchtime?",
                     "intent": {"name": "inform_school", "confidence": 0.5},
                     "entities": [{"entity": "school", "value": "birch"}],
                     "metadata": {contract.SCHOOL_KEY: "alder"}}, [], False, None, None, "action_listen")
    events, dispatcher = run(ActionSetSchool(), state)
    texts = [m.get("text") or "" for m in dispatcher.messages]
    assert "Students may use their phones at lunchtime in the canteen only." in texts[0]
    assert "Birch" in texts[0]
    assert not any("This chat is" in t for t in texts)
    assert not any(e.get("name") == "school" for e in events if e.get("event") == "slot")


@pytest.mark.parametrize("said", ["my son goes to alder primary", "i'm at alder", "Alder Primary School"])
def test_naming_the_school_alone_is_still_acknowledged(said: str) -> None:
    events, dispatcher = run(ActionSetSchool(), tracker(said, intent="inform_school",
                                                        entities=[{"entity": "school", "value": "alder"}]))
    assert slot(events, "school") == "alder"
    assert dispatcher.messages[0]["text"] == "Thanks — I'll answer from Alder Primary School's Online Safety Policy."


def test_unknown_school_is_refused_kindly_and_asked_again() -> None:
    """A school we do not serve is not stored; the person is shown the choices again."""
    events, dispatcher = run(ActionSetSchool(), tracker("hogwarts", intent="inform_school",
                                                        entities=[{"entity": "school", "value": "hogwarts"}]))
    assert slot(events, "school") is None
    assert dispatcher.messages[0]["text"].startswith("Sorry, I don't know that school yet.")
    assert dispatcher.messages[1]["response"] == "utter_ask_school"


def test_setting_the_role_answers_the_pending_question_for_that_role() -> None:
    """'I work here' (role staff) answers the waiting phone question with the staff rule."""
    state = tracker("I'm a teacher", {"school": "alder", "pending_question": "can I use my phone in lessons?"},
                    intent="inform_role", entities=[{"entity": "role", "value": "teacher"}])
    events, dispatcher = run(ActionSetRole(), state)
    assert slot(events, "role") == "staff"
    assert "Staff & other adults" in dispatcher.messages[-1]["text"]


def test_followup_about_staff_reuses_the_previous_question() -> None:
    """After a pupil's phone question, 'what about staff?' answers the same question for staff."""
    state = tracker("what about staff?", {"school": "alder", "role": "pupil",
                                          "last_question": "can I use my phone in lessons?"},
                    intent="followup", entities=[{"entity": "role", "value": "staff"}])
    events, dispatcher = run(ActionAnswerFollowup(), state)
    assert "Staff & other adults — use of mobile phones in lessons" in dispatcher.messages[0]["text"]
    assert slot(events, "last_question") == "can I use my phone in lessons?"


def test_session_start_takes_school_and_role_from_channel_metadata() -> None:
    """Metadata {"school": "birch", "role": "student"} fills the slots before the first message."""
    state = tracker(slots={"session_started_metadata": {"school": "birch", "role": "student"}})
    events, _ = run(ActionSessionStart(), state)
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    assert slot(events, "school") == "birch" and slot(events, "role") == "pupil"


def test_session_start_ignores_an_unknown_school_in_metadata() -> None:
    """A slug we do not know is not stored, so the assistant asks instead of answering from nowhere."""
    events, _ = run(ActionSessionStart(), tracker(slots={"session_started_metadata": {"school": "nowhere"}}))
    assert not [e for e in events if e.get("name") == "school"]


def test_negative_feedback_is_recorded_and_names_who_to_ask() -> None:
    """👎 marks the last question unhelpful for the report and points to the school's contact."""
    events, _ = run(ActionAnswerPolicyQuestion(), tracker("can I use my phone in lessons?",
                                                          {"school": "alder", "role": "pupil"}))
    question_id = slot(events, "last_question_id")
    _, dispatcher = run(ActionRecordFeedback(), tracker("/feedback_negative", {"school": "alder",
                                                        "last_question_id": question_id},
                                                        intent="feedback_negative"))
    assert "Jane Hollis (Online Safety Lead)" in dispatcher.messages[0]["text"]
    assert [(g.question, g.reason) for g in services.feedback().gaps("alder")] == [
        ("can I use my phone in lessons?", "not helpful")]


def test_who_is_the_dsl_comes_from_the_profile() -> None:
    """'who is the DSL?' at Birch names Birch's DSL."""
    _, dispatcher = run(ActionWhoIs(), tracker("who is the dsl", {"school": "birch"}, intent="who_is",
                                               entities=[{"entity": "post", "value": "dsl"}]))
    assert dispatcher.messages[0]["text"].startswith("The Designated Safeguarding Lead at Birch is Tom Reed.")


def test_a_who_question_that_is_not_who_is_the_x_is_answered_from_the_policy() -> None:
    """The classifier says who_is, but "whose job is it ...?" names no post: the policy answers, as on the CLI."""
    question = "whose job is it to check the filtering works?"
    _, dispatcher = run(ActionWhoIs(), tracker(question, {"school": "alder", "role": "staff"}, intent="who_is"))
    assert dispatcher.messages[0]["text"] == services.assistant().answer("alder", question, "staff").text


def test_a_question_naming_a_post_without_asking_who_holds_it_is_answered_from_the_policy() -> None:
    """The classifier says who_is and the extractor finds a post, but "who does the DSL report to?" does not ask
    who the DSL is: naming the DSL would answer another question. The reply is the CLI's."""
    question = "who does the dsl report to?"
    _, dispatcher = run(ActionWhoIs(), tracker(question, {"school": "birch", "role": "staff"}, intent="who_is",
                                               entities=[{"entity": "post", "value": "dsl"}]))
    assert dispatcher.messages[0]["text"] == services.assistant().answer("birch", question, "staff").text
    assert not dispatcher.messages[0]["text"].startswith("The Designated Safeguarding Lead at Birch is")


def test_school_comparison_is_only_for_trust_staff() -> None:
    """Without the trust flag the person gets their own school's answer, as `policybot ask` gives it; with it,
    each school answers in its own words."""
    _, own = run(ActionCompareSchools(), tracker("how do our schools differ on phones?",
                                                 {"school": "alder", "role": "staff"}, intent="compare_schools"))
    assert own.messages[0]["text"] == services.assistant().answer(
        "alder", "how do our schools differ on phones?", "staff").text
    _, compared = run(ActionCompareSchools(), tracker("how do our schools differ on phones?",
                                                      {"school": "alder", "trust_staff": True},
                                                      intent="compare_schools"))
    assert [m["text"].split("\n")[0] for m in compared.messages] == ["**Alder Primary School**", "**Birch Academy**"]


def test_a_typed_yes_after_an_answer_counts_as_helpful() -> None:
    """'yes' (affirm) right after an answer is thanks, not a complaint, and leaves no gap in the report."""
    events, _ = run(ActionAnswerPolicyQuestion(), tracker("can I use my phone in lessons?",
                                                          {"school": "alder", "role": "pupil"}))
    _, dispatcher = run(ActionRecordFeedback(), tracker("yes", {"school": "alder", "last_question_id":
                                                                slot(events, "last_question_id")}, intent="affirm"))
    assert dispatcher.messages[0]["text"] == "Great, thanks for letting me know!"
    assert services.feedback().gaps("alder") == []


def test_out_of_scope_says_the_policy_does_not_cover_it_and_who_to_ask() -> None:
    """Homework help at Alder: the composer's own abstention naming Alder's contact, no passage quoted, and the
    question kept for the gaps report; the same words `policybot ask` uses when it abstains."""
    from actions.action_decline_out_of_scope import ActionDeclineOutOfScope

    events, dispatcher = run(ActionDeclineOutOfScope(), tracker("can you do my maths homework", {
        "school": "alder", "role": "pupil"}, intent="out_of_scope"))
    text = dispatcher.messages[0]["text"]
    assert "doesn't cover that" in text and "Jane Hollis (Online Safety Lead)" in text
    assert text == services.assistant().decline("alder", "can you do my maths homework", "pupil").text
    assert slot(events, "last_answer_abstained") is True
    assert [g.question for g in services.feedback().gaps("alder")] == ["can you do my maths homework"]


def test_out_of_scope_before_a_school_is_known_gets_the_general_redirect() -> None:
    from actions.action_decline_out_of_scope import ActionDeclineOutOfScope

    events, dispatcher = run(ActionDeclineOutOfScope(), tracker("what's the weather", intent="out_of_scope"))
    assert [m["response"] for m in dispatcher.messages] == ["utter_out_of_scope"]
    assert events == []


def test_a_question_the_classifier_did_not_recognise_gets_the_policy_answer_and_the_safety_numbers() -> None:
    """nlu_fallback on a real question: what `policybot ask` says, then the signposting the fallback always has."""
    from actions.action_default_fallback import ActionDefaultFallback

    events, dispatcher = run(ActionDefaultFallback(), tracker("phone usage during lessons rules", {
        "school": "alder", "role": "pupil"}, intent="nlu_fallback"))
    expected = services.assistant().answer("alder", "phone usage during lessons rules", "pupil")
    assert dispatcher.messages[0]["text"] == expected.text
    assert "0800 1111" in dispatcher.messages[1]["text"]
    assert slot(events, "last_question") == "phone usage during lessons rules"
