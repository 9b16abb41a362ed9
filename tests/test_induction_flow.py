"""The induction state machine (bot/induction/flow.py) and its messages (render.py), on the tiny alder plan:
a complete run, wrong answers showing the passage again, the score, acknowledgement, staleness, and the exact
text and button payloads the Rasa actions will send."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from bot.induction import flow, render
from bot.induction.flow import InductionProgress, StaleProgress
from bot.induction.plans import InductionPlan, load_plan
from bot.schools import SchoolDirectory
from test_induction_plans import induction_data  # noqa: F401 - fixture

STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
FINISHED = datetime(2026, 3, 2, 9, 20, tzinfo=timezone.utc)
CITE_PASSWORDS = "— Alder Primary School, Online Safety Policy, section '2. Passwords' (March 2021)"


@pytest.fixture
def plan(schools: SchoolDirectory, induction_data: Path) -> InductionPlan:  # noqa: F811
    """Alder's teacher plan: phones (right answer a), drawer (b), passwords (b)."""
    return load_plan("alder", "teacher", schools=schools)


def run(plan: InductionPlan, *choices: str) -> tuple[InductionProgress, list[flow.AnswerFeedback]]:
    progress, feedbacks = flow.start("alder", "teacher", plan=plan, now=STARTED), []
    for choice in choices:
        progress, feedback = flow.answer(progress, choice, plan=plan)
        feedbacks.append(feedback)
    return progress, feedbacks


# ------------------------------------------------------------------------------------------- the state machine


def test_a_fresh_induction_starts_at_the_first_step(plan: InductionPlan) -> None:
    progress = flow.start("alder", "teacher", plan=plan, now=STARTED)
    assert (progress.school, progress.role, progress.plan_version, progress.step_ids) == (
        "alder", "teacher", 1, ("phones", "drawer", "passwords"))
    assert (progress.step_index, progress.score, progress.total, progress.status) == (0, 0, 3, "in_progress")
    assert progress.started_at == STARTED and progress.finished_at is None
    assert flow.current_step(progress, plan).id == "phones"


def test_a_complete_run_scores_first_answers_and_needs_the_acknowledgement(plan: InductionPlan) -> None:
    progress, feedbacks = run(plan, "a", "c", "b")
    assert [f.correct for f in feedbacks] == [True, False, True]
    assert [f.finished for f in feedbacks] == [False, False, True]
    assert (progress.score, progress.total, progress.status) == (2, 3, "awaiting_acknowledgement")
    assert flow.current_step(progress, plan) is None
    assert [(a.step_id, a.choice, a.correct) for a in progress.answers] == [
        ("phones", "a", True), ("drawer", "c", False), ("passwords", "b", True)]

    done = flow.acknowledge(progress, plan=plan, now=FINISHED)
    assert (done.status, done.finished_at, done.acknowledgement) == ("complete", FINISHED, plan.acknowledgement)
    assert flow.acknowledge(done, plan=plan, now=STARTED) == done  # a retried button press changes nothing

    result = flow.summary(done, plan=plan)
    assert (result.school_name, result.role_label, result.score, result.total, result.complete) == (
        "Alder Primary School", "Teacher", 2, 3, True)
    assert [(line.step_id, line.title, line.correct) for line in result.lines] == [
        ("phones", "Pupils' phones", True), ("drawer", "A locked drawer", False),
        ("passwords", "Passwords at Alder Primary School", True)]


def test_a_wrong_answer_carries_the_step_so_the_passage_can_be_shown_again(plan: InductionPlan) -> None:
    _, [feedback] = run(plan, "b")
    assert (feedback.correct, feedback.choice, feedback.correct_option) == (False, "b", "At the start of the day")
    assert feedback.step.quote == "Pupils must hand their mobile phones to the class teacher at the start of the school day."
    assert render.feedback_message(feedback, plan.profile).text == (
        "Not quite: the answer is “At the start of the day”. Here is what the policy says again:\n\n"
        "“Pupils must hand their mobile phones to the class teacher at the start of the school day.”\n"
        "— Alder Primary School, Online Safety Policy, section '1.1 Pupils' use of phones' (March 2021)")
    _, [right] = run(plan, "a")
    assert render.feedback_message(right, plan.profile).text == "✅ Right: At the start of the day."


@pytest.mark.parametrize("reply, key", [("a", "a"), ("B", "b"), ("c)", "c"), ("(b)", "b"), ("2", "b"),
                                        (" in a LOCKED  drawer ", "b"), ("In the pupils' bags", "c")])
def test_replies_are_matched_to_option_keys(plan: InductionPlan, reply: str, key: str) -> None:
    assert flow.match_choice(plan.steps[1], reply) == key


@pytest.mark.parametrize("reply", ["d", "4", "0", "drawer", "", None, "yes"])
def test_other_replies_match_no_option(plan: InductionPlan, reply: str | None) -> None:
    assert flow.match_choice(plan.steps[1], reply) is None


def test_an_unknown_reply_is_an_exact_error_that_does_not_repeat_it(plan: InductionPlan) -> None:
    progress = flow.start("alder", "teacher", plan=plan)
    with pytest.raises(ValueError, match=r"^that reply is not an option for step 'phones'; options: a, b$") as caught:
        flow.answer(progress, "my name is Sam Smith", plan=plan)
    assert "Sam" not in str(caught.value)


def test_the_order_of_events_is_enforced(plan: InductionPlan) -> None:
    progress, _ = run(plan, "a")
    with pytest.raises(ValueError, match=r"^step 2 of 3 is still to do; acknowledge after the last step$"):
        flow.acknowledge(progress, plan=plan)
    finished, _ = run(plan, "a", "b", "b")
    with pytest.raises(ValueError, match=r"^all 3 steps are answered; acknowledge to finish$"):
        flow.answer(finished, "a", plan=plan)


def test_start_checks_the_role_and_the_plan(plan: InductionPlan) -> None:
    with pytest.raises(ValueError, match=r"^unknown induction role 'staff'; known: teacher"):
        flow.start("alder", "staff", plan=plan)
    with pytest.raises(ValueError, match=r"^this plan is for alder/teacher, not alder/governor$"):
        flow.start("alder", "governor", plan=plan)


def test_progress_from_a_changed_plan_is_stale(plan: InductionPlan) -> None:
    progress, _ = run(plan, "a")
    bumped = replace(plan, version=2)
    assert flow.is_current(progress, plan) and not flow.is_current(progress, bumped)
    with pytest.raises(StaleProgress, match=r"^this induction was started on version 1 of the teacher steps for "
                                            r"school 'alder', which have changed since \(now version 2\); start again$"):
        flow.answer(progress, "b", plan=bumped)
    # The same version with different steps (an edit without a version bump) is stale too.
    assert not flow.is_current(progress, replace(plan, steps=plan.steps[:2]))


def test_progress_round_trips_through_a_dict(plan: InductionPlan) -> None:
    progress, _ = run(plan, "a", "c", "b")
    done = flow.acknowledge(progress, plan=plan, now=FINISHED)
    for value in (flow.start("alder", "teacher", plan=plan, now=STARTED), progress, done):
        raw = json.loads(json.dumps(value.to_dict()))
        assert InductionProgress.from_dict(raw) == value


@pytest.mark.parametrize("change", [{"role": "pupil"}, {"step_index": 5}, {"started_at": "yesterday"},
                                    {"answers": [{"step_id": "phones"}]}])
def test_malformed_saved_progress_is_refused_without_its_contents(plan: InductionPlan, change: dict) -> None:
    raw = {**run(plan, "a")[0].to_dict(), **change}
    with pytest.raises(ValueError, match=r"^saved induction progress is malformed"):
        InductionProgress.from_dict(raw)


# ------------------------------------------------------------------------------------------- messages


def test_a_step_is_a_passage_bubble_then_a_check_with_answer_buttons(plan: InductionPlan) -> None:
    progress, _ = run(plan, "a", "b")
    passage, check = render.step_messages(progress, plan)
    assert passage.text == (
        "Step 3 of 3: Passwords at Alder Primary School\n"
        "Keep your password private; Mary Oak is the DSL.\n\n"
        "“Passwords must be kept private and changed every term.”\n" + CITE_PASSWORDS)
    assert passage.buttons == ()
    assert check.text == "Quick check: How often are passwords changed?"
    assert check.buttons == (
        ("Every year", '/induction_answer{"induction_choice":"a","induction_step":"passwords"}'),
        ("Every term", '/induction_answer{"induction_choice":"b","induction_step":"passwords"}'))
    assert check.rasa_buttons()[1] == {"title": "Every term",
                                       "payload": '/induction_answer{"induction_choice":"b","induction_step":"passwords"}'}
    assert render.check_message(plan.steps[2], again=True).text.startswith("Please pick one of these. How often")


def test_payload_entities_are_json_rasa_can_parse() -> None:
    payload = render.answer_payload("c", "dsl")
    intent, entities = payload[1:payload.index("{")], json.loads(payload[payload.index("{"):])
    assert (intent, entities) == ("induction_answer", {"induction_choice": "c", "induction_step": "dsl"})
    assert render.role_payload("support_staff") == '/induction_role{"induction_role":"support_staff"}'


def test_the_role_question_offers_every_role() -> None:
    message = render.role_question("Alder Primary School")
    assert message.text == "What will your role be at Alder Primary School?"
    assert [title for title, _ in message.buttons] == ["Teacher", "Teaching assistant or support staff", "Volunteer",
                                                       "Governor", "Contractor or visitor"]
    assert message.buttons[4][1] == '/induction_role{"induction_role":"contractor"}'


def test_the_intro_warns_when_the_policy_is_past_its_review_date(plan: InductionPlan) -> None:
    before, after = render.intro(plan, date(2021, 6, 1)).text, render.intro(plan, date(2026, 1, 1)).text
    assert before.startswith("Welcome to your induction at Alder Primary School. I'll take you through 3 key "
                             "online-safety duties for your role (teacher) from the school's Online Safety Policy "
                             "(March 2021)")
    assert "Note:" not in before
    assert after.endswith("Note: this policy was due for review by March 2022, so check with the school that it is "
                          "still current.")


def test_the_summary_lists_the_steps_and_asks_for_the_acknowledgement(plan: InductionPlan) -> None:
    progress, _ = run(plan, "a", "c", "b")
    summary, confirm = render.summary_messages(progress, plan)
    assert summary.text == (
        "That's all 3 steps of your induction at Alder Primary School. You got 2 of 3 checks right first time.\n\n"
        "You covered:\n"
        "1. Pupils' phones ✅\n"
        "2. A locked drawer: worth another look (section '1.1 Pupils' use of phones')\n"
        "3. Passwords at Alder Primary School ✅")
    assert confirm.text == f"To finish, please confirm:\n“{plan.acknowledgement}”"
    assert confirm.buttons == (("I have read and understood", "/induction_acknowledge"),)


def test_completion_says_recorded_only_when_it_was(plan: InductionPlan) -> None:
    progress, _ = run(plan, "a", "c", "b")
    done = flow.acknowledge(progress, plan=plan, now=FINISHED)
    assert render.completion_message(done, recorded=True).text == (
        "Thank you. Your induction is recorded (teacher, 2 March 2026, 2 of 3 checks right first time), and your "
        "induction lead can see it.")
    unsaved = render.completion_message(done, recorded=False).text
    assert "couldn't save" in unsaved and "recorded" not in unsaved


def test_carry_on_resume_and_pause_messages(plan: InductionPlan) -> None:
    progress, _ = run(plan, "a")
    assert render.carry_on_message(progress) == render.Message(
        "Shall we carry on with your induction? You're on step 2 of 3.",
        (("Carry on", "/induction_continue"), ("Pause for now", "/induction_pause")))
    assert render.resume_message(progress, "Alder Primary School") == render.Message(
        "You have an induction in progress at Alder Primary School (teacher, step 2 of 3). Carry on where you left "
        "off?", (("Carry on", "/induction_continue"), ("Start again", "/induction_restart")))
    assert render.paused_message(progress).text == (
        "Paused at step 2 of 3. Your progress is saved: say “start my induction” any time to carry on.")
