"""The one-call-per-event API the Rasa actions use (bot/induction/service.py), on the tiny alder plan: starting
with or without a role, answering through to the record, pausing and resuming across sessions, old buttons,
changed steps and a store that is down."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.induction import render
from bot.induction.service import InductionService, Turn
from bot.induction.store import InductionStore
from bot.schools import SchoolDirectory
from test_induction_plans import ALDER_INDUCTION, induction_data, write_induction  # noqa: F401 - fixture

USER = "rest:sender-1"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def make_service(tmp_path: Path, schools: SchoolDirectory) -> InductionService:
    """A service over the tiny schools; a second call gives a fresh process's view of the same database."""
    store = InductionStore(f"sqlite:///{tmp_path / 'db' / 'induction.db'}", schools=schools)
    return InductionService(store, clock=lambda: NOW)


@pytest.fixture
def service(tmp_path: Path, schools: SchoolDirectory, induction_data: Path) -> InductionService:  # noqa: F811
    return make_service(tmp_path, schools)


def texts(turn: Turn) -> list[str]:
    return [message.text for message in turn.messages]


def test_without_a_role_it_asks_with_buttons(service: InductionService) -> None:
    turn = service.begin("alder", USER, "I'm new")
    assert (turn.status, turn.active, turn.progress) == ("need_role", True, None)
    assert turn.messages == (render.role_question("Alder Primary School"),)


def test_with_role_words_it_welcomes_and_shows_the_first_step(service: InductionService) -> None:
    turn = service.begin("alder", USER, "what do I need to know as a new TA?")
    assert (turn.status, turn.progress.role, turn.progress.step_index) == ("step", "support_staff", 0)
    intro, step, check = texts(turn)
    assert intro.startswith("Welcome to your induction at Alder Primary School. I'll take you through 2 key")
    assert step.startswith("Step 1 of 2: Pupils' phones\n")
    assert check == "Quick check: When do pupils hand in their phones?"
    assert service.store.load_progress("alder", USER) == turn.progress  # saved straight away


def test_a_whole_induction_ends_in_one_record_and_an_optional_name(service: InductionService) -> None:
    service.begin("alder", USER, "teacher")
    wrong = service.answer("alder", USER, "b", step_id="phones")
    assert wrong.status == "step" and texts(wrong)[0].startswith("Not quite: the answer is “At the start of the day”")
    service.answer("alder", USER, "In a locked drawer")  # typed rather than pressed
    last = service.answer("alder", USER, "b", step_id="passwords")
    assert last.status == "awaiting_acknowledgement"
    assert texts(last)[1].startswith("That's all 3 steps of your induction at Alder Primary School. You got 2 of 3")
    assert last.messages[2].buttons == (("I have read and understood", "/induction_acknowledge"),)

    done = service.acknowledge("alder", USER)
    assert (done.status, done.active) == ("need_person", True)
    assert texts(done)[0].startswith("Thank you. Your induction is recorded (teacher, 2 March 2026, 2 of 3 checks")
    assert done.messages[1] == render.person_question()
    assert service.add_person("alder", USER, "EMP-042").messages == (render.person_added_message(),)
    [record] = service.store.completions("alder")
    assert (record.role, record.person, record.score, record.steps_total) == ("teacher", "EMP-042", 2, 3)

    again = service.acknowledge("alder", USER)  # a second press: nothing new is recorded
    assert again.status == "complete" and texts(again) == [
        "You've already completed the induction at Alder Primary School (on 2 March 2026)."]
    assert service.begin("alder", USER, "teacher").status == "complete"
    assert service.begin("alder", USER).status == "complete"  # no role given: the completed one counts
    assert service.begin("alder", USER, "governor").status == "step"  # another role is another induction
    assert len(service.store.completions("alder")) == 1


def test_a_name_given_with_the_acknowledgement_goes_on_the_record(service: InductionService) -> None:
    service.begin("alder", USER, "governor")
    service.answer("alder", USER, "b")
    turn = service.acknowledge("alder", USER, person="Sam Smith")
    assert turn.status == "complete" and len(turn.messages) == 1
    assert service.store.latest_completion("alder", USER).person == "Sam Smith"
    assert service.add_person("alder", USER, "  ").messages == ()  # Skip


def test_progress_is_kept_across_sessions_and_resumed_where_it_stopped(tmp_path: Path, schools: SchoolDirectory,
                                                                       service: InductionService) -> None:
    service.begin("alder", USER, "teacher")
    service.answer("alder", USER, "a")
    assert texts(service.pause("alder", USER)) == [
        "Paused at step 2 of 3. Your progress is saved: say “start my induction” any time to carry on."]

    later = make_service(tmp_path, schools)  # a new session, a new process
    offer = later.begin("alder", USER)
    assert offer.status == "resume_offer" and offer.messages[0].buttons == (
        ("Carry on", "/induction_continue"), ("Start again", "/induction_restart"))
    resumed = later.resume("alder", USER)
    assert resumed.status == "step" and texts(resumed)[0].startswith("Step 2 of 3: A locked drawer")
    fresh = later.restart("alder", USER)
    assert fresh.progress.step_index == 0 and fresh.progress.role == "teacher"


def test_a_free_question_mid_way_ends_with_shall_we_carry_on(service: InductionService) -> None:
    assert service.carry_on_prompt("alder", USER) == Turn((), "not_started")  # no induction: nothing to add
    service.begin("alder", USER, "teacher")
    turn = service.carry_on_prompt("alder", USER)
    assert turn.status == "step" and turn.messages[0].buttons == (
        ("Carry on", "/induction_continue"), ("Pause for now", "/induction_pause"))


def test_an_old_button_reshows_the_current_step_instead_of_answering_it(service: InductionService) -> None:
    service.begin("alder", USER, "teacher")
    service.answer("alder", USER, "a", step_id="phones")
    turn = service.answer("alder", USER, "a", step_id="phones")  # pressed again, scrolled up
    assert turn.status == "step" and texts(turn)[0].startswith("Step 2 of 3: A locked drawer")
    assert service.store.load_progress("alder", USER).step_index == 1


def test_a_reply_that_is_not_an_option_asks_again(service: InductionService) -> None:
    service.begin("alder", USER, "teacher")
    turn = service.answer("alder", USER, "what about my own phone?")
    assert turn.status == "invalid_choice"
    assert texts(turn) == ["Please pick one of these. When do pupils hand in their phones?"]
    assert service.store.load_progress("alder", USER).step_index == 0


def test_changed_steps_restart_the_induction_with_a_note(service: InductionService, induction_data: Path) -> None:
    service.begin("alder", USER, "teacher")
    service.answer("alder", USER, "a")
    write_induction(induction_data, ALDER_INDUCTION.replace("version: 1", "version: 2"))
    turn = service.resume("alder", USER)
    assert turn.status == "step" and turn.progress.plan_version == 2 and turn.progress.step_index == 0
    assert texts(turn)[0] == ("Alder Primary School has updated its induction steps since you started, so we'll "
                              "start again from the beginning.")


def test_nothing_in_progress_says_how_to_start(service: InductionService) -> None:
    for call in (service.resume, service.pause, service.acknowledge):
        turn = call("alder", USER)
        assert (turn.status, texts(turn)) == ("not_started", [render.not_started_message().text])


def test_a_store_that_is_down_gives_an_honest_turn(tmp_path: Path, schools: SchoolDirectory,
                                                   induction_data: Path) -> None:  # noqa: F811
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    service = InductionService(InductionStore(f"sqlite:///{blocker / 'induction.db'}", schools=schools))
    turn = service.begin("alder", USER, "teacher")
    assert (turn.status, turn.active, turn.messages) == ("unavailable", False, (render.unsaved_message(),))


def test_an_unknown_school_is_an_exact_error(service: InductionService) -> None:
    with pytest.raises(ValueError, match=r"^unknown school 'aldr'; known: alder, birch$"):
        service.begin("aldr", USER, "teacher")


def test_doing_it_again_keeps_the_first_record(tmp_path: Path, schools: SchoolDirectory,
                                               induction_data: Path) -> None:  # noqa: F811
    first = make_service(tmp_path, schools)
    first.begin("alder", USER, "governor")
    first.answer("alder", USER, "a")
    first.acknowledge("alder", USER)
    later = InductionService(first.store, clock=lambda: datetime(2026, 9, 1, tzinfo=timezone.utc))
    assert later.restart("alder", USER).status == "step"
    later.answer("alder", USER, "b")
    turn = later.acknowledge("alder", USER)
    assert (turn.status, texts(turn)) == (
        "complete", ["You've already completed the induction at Alder Primary School (on 2 March 2026)."])
    [record] = later.store.completions("alder")
    assert record.score == 0  # the first completion's record, not rewritten
    assert later.store.load_progress("alder", USER) is None
