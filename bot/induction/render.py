"""The induction's messages as text plus buttons, ready for `dispatcher.utter_message(text=..., buttons=...)`.

Buttons are (title, payload) pairs. Payloads are Rasa's `/intent{"entity":"value"}` form, so a press needs no NLU:
  /induction_answer{"induction_choice":"b","induction_step":"passwords"}   a check answer (option a, b or c)
  /induction_role{"induction_role":"teacher"}    a role (teacher, support_staff, volunteer, governor, contractor)
  /induction_continue, /induction_pause, /induction_restart, /induction_acknowledge, /induction_skip_person
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from bot.induction.flow import AnswerFeedback, InductionProgress, current_step, plan_for, summary
from bot.induction.plans import InductionPlan, InductionStep
from bot.induction.roles import ROLE_LABELS, ROLES
from bot.schools import SchoolProfile, format_partial_date

Button = tuple[str, str]

ANSWER_INTENT, CHOICE_ENTITY, STEP_ENTITY = "induction_answer", "induction_choice", "induction_step"
ROLE_INTENT, ROLE_ENTITY = "induction_role", "induction_role"
CONTINUE = "/induction_continue"
PAUSE = "/induction_pause"
RESTART = "/induction_restart"
ACKNOWLEDGE = "/induction_acknowledge"
SKIP_PERSON = "/induction_skip_person"


@dataclass(frozen=True)
class Message:
    """One chat bubble: text and optional buttons."""

    text: str
    buttons: tuple[Button, ...] = ()

    def rasa_buttons(self) -> list[dict[str, str]]:
        """The buttons as rasa_sdk expects them: [{"title": ..., "payload": ...}]."""
        return [{"title": title, "payload": payload} for title, payload in self.buttons]


def _payload(intent: str, entities: dict[str, str]) -> str:
    return f"/{intent}{json.dumps(entities, separators=(',', ':'))}"


def answer_payload(key: str, step_id: str) -> str:
    """'/induction_answer{"induction_choice":"b","induction_step":"passwords"}'. The step id lets a press on an
    old, scrolled-up button be told apart from an answer to the step on screen now."""
    return _payload(ANSWER_INTENT, {CHOICE_ENTITY: key, STEP_ENTITY: step_id})


def role_payload(role: str) -> str:
    """'/induction_role{"induction_role":"support_staff"}'."""
    return _payload(ROLE_INTENT, {ROLE_ENTITY: role})


def _day(moment: datetime | date) -> str:
    """'24 November 2026', as the policies write dates."""
    return f"{moment.day} {moment.strftime('%B %Y')}"


def citation(profile: SchoolProfile, step: InductionStep) -> str:
    """"— Kingsmeadow School, Online Safety Policy, section 'Teaching and support staff' (February 2019)"."""
    return f"— {profile.name}, {profile.policy_title}, section '{step.section}' ({profile.policy_date_text})"


def passage(profile: SchoolProfile, step: InductionStep) -> str:
    """The quote in quotation marks with its citation under it."""
    return f"“{step.quote}”\n{citation(profile, step)}"


def review_note(profile: SchoolProfile, today: date | None = None) -> str:
    """A caveat when the policy is past its review date, so nobody takes an old rule as certainly current."""
    if not profile.review_overdue(today) or not profile.next_review:
        return ""
    return (f"Note: this policy was due for review by {format_partial_date(profile.next_review)}, so check with "
            f"the school that it is still current.")


def role_question(school_name: str | None = None) -> Message:
    """Which role? One button per canonical role."""
    where = f" at {school_name}" if school_name else ""
    return Message(f"What will your role be{where}?", tuple((ROLE_LABELS[r], role_payload(r)) for r in ROLES))


def intro(plan: InductionPlan, today: date | None = None) -> Message:
    """What the induction is, how long, and that questions and pausing are fine."""
    profile = plan.profile
    text = (f"Welcome to your induction at {profile.name}. I'll take you through {len(plan)} key online-safety "
            f"duties for your role ({plan.role_label.lower()}) from the school's {profile.policy_title} "
            f"({profile.policy_date_text}), one short step at a time, with a quick check after each. You can ask "
            f"me a question at any point, or say “pause” and carry on later.")
    note = review_note(profile, today)
    return Message(f"{text}\n\n{note}" if note else text)


def step_messages(progress: InductionProgress, plan: InductionPlan | None = None) -> tuple[Message, Message]:
    """The current step (title, lead-in, quote, citation) and its check question with one button per option."""
    plan = plan_for(progress, plan)
    step = current_step(progress, plan)
    if step is None:
        raise ValueError(f"all {progress.total} steps are answered; show the summary instead")
    return (Message(f"Step {progress.step_index + 1} of {len(plan)}: {step.title}\n{step.lead_in}\n\n"
                    f"{passage(plan.profile, step)}"),
            check_message(step))


def check_message(step: InductionStep, again: bool = False) -> Message:
    """The step's check question; `again` when the last reply was not one of the options."""
    lead = "Please pick one of these. " if again else "Quick check: "
    return Message(f"{lead}{step.check.question}",
                   tuple((option.text, answer_payload(option.key, step.id)) for option in step.check.options))


def feedback_message(feedback: AnswerFeedback, profile: SchoolProfile) -> Message:
    """Right: a short yes. Wrong: the right answer and the policy passage again."""
    if feedback.correct:
        return Message(f"✅ Right: {feedback.correct_option}.")
    return Message(f"Not quite: the answer is “{feedback.correct_option}”. Here is what the policy says again:\n\n"
                   f"{passage(profile, feedback.step)}")


def summary_messages(progress: InductionProgress, plan: InductionPlan | None = None) -> tuple[Message, Message]:
    """What was covered with the score, then the acknowledgement to confirm (one button)."""
    plan = plan_for(progress, plan)
    result = summary(progress, plan=plan)
    lines = [f"That's all {result.total} steps of your induction at {result.school_name}. You got "
             f"{result.score} of {result.total} checks right first time.", "", "You covered:"]
    for number, line in enumerate(result.lines, 1):
        after = " ✅" if line.correct else f": worth another look (section '{line.section}')"
        lines.append(f"{number}. {line.title}{after}")
    return (Message("\n".join(lines)),
            Message(f"To finish, please confirm:\n“{result.acknowledgement}”",
                    (("I have read and understood", ACKNOWLEDGE),)))


def completion_message(progress: InductionProgress, recorded: bool) -> Message:
    """After the acknowledgement: say it is recorded only when the record was really written."""
    if not recorded:
        return Message("Thank you for confirming. I couldn't save the completion record just now, so please tell "
                       "your induction lead that you have finished.")
    when = _day(progress.finished_at) if progress.finished_at else "today"
    return Message(f"Thank you. Your induction is recorded ({ROLE_LABELS[progress.role].lower()}, {when}, "
                   f"{progress.score} of {progress.total} checks right first time), and your induction lead can "
                   f"see it.")


def person_question() -> Message:
    """The optional name or staff id for the completion record."""
    return Message("If you'd like your name or staff ID on the record, type it now. Otherwise press Skip.",
                   (("Skip", SKIP_PERSON),))


def person_added_message() -> Message:
    return Message("Thanks, that's added to your completion record.")


def carry_on_message(progress: InductionProgress) -> Message:
    """After a free question mid-way: back to the induction, or pause."""
    return Message(f"Shall we carry on with your induction? You're on step "
                   f"{min(progress.step_index + 1, progress.total)} of {progress.total}.",
                   (("Carry on", CONTINUE), ("Pause for now", PAUSE)))


def resume_message(progress: InductionProgress, school_name: str) -> Message:
    """Someone with saved progress asks to start: carry on where they left off, or start again."""
    where = (f"step {progress.step_index + 1} of {progress.total}" if progress.status == "in_progress"
             else "all steps done, confirmation to go")
    return Message(f"You have an induction in progress at {school_name} "
                   f"({ROLE_LABELS[progress.role].lower()}, {where}). Carry on where you left off?",
                   (("Carry on", CONTINUE), ("Start again", RESTART)))


def paused_message(progress: InductionProgress) -> Message:
    return Message(f"Paused at step {min(progress.step_index + 1, progress.total)} of {progress.total}. Your "
                   f"progress is saved: say “start my induction” any time to carry on.")


def stale_message(school_name: str) -> Message:
    return Message(f"{school_name} has updated its induction steps since you started, so we'll start again from "
                   f"the beginning.")


def not_started_message() -> Message:
    return Message("You don't have an induction in progress. Say “start my induction” to begin.")


def already_complete_message(school_name: str, completed_on: date) -> Message:
    return Message(f"You've already completed the induction at {school_name} (on {_day(completed_on)}).",
                   (("Do it again", RESTART),))


def unsaved_message() -> Message:
    """The store is down: say so plainly rather than pretend progress was kept."""
    return Message("Sorry, I can't save induction progress just now, so I can't carry on with it. Please try again "
                   "later; your policy questions still work.")
