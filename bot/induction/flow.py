"""The induction as a pure state machine: start, answer each step's check, acknowledge, summarise.

Nothing here stores anything or talks to Rasa: each call takes an `InductionProgress` and returns a new one, so
the caller (bot/induction/service.py, or a test) decides when to save it. A wrong answer still moves on: the
feedback shows the right answer and the policy passage again, and the score counts first answers only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Mapping

from bot.induction.plans import InductionPlan, InductionStep, load_plan
from bot.induction.roles import ROLE_LABELS, check_role

#: in_progress: steps left; awaiting_acknowledgement: all answered, not yet confirmed; complete: acknowledged.
STATUSES: tuple[str, ...] = ("in_progress", "awaiting_acknowledgement", "complete")


class StaleProgress(ValueError):
    """Saved progress from an older version of the school's steps: it cannot be carried on, only restarted."""


@dataclass(frozen=True)
class StepAnswer:
    """The first answer given to one step's check."""

    step_id: str
    choice: str
    correct: bool


@dataclass(frozen=True)
class InductionProgress:
    """Where one person is in one school's induction; JSON-safe via to_dict/from_dict for the store."""

    school: str
    role: str
    plan_version: int
    step_ids: tuple[str, ...]  # the plan's steps when it started: a changed plan makes this progress stale
    started_at: datetime
    step_index: int = 0
    answers: tuple[StepAnswer, ...] = ()
    finished_at: datetime | None = None  # when the acknowledgement was given
    acknowledgement: str | None = None  # the exact text acknowledged

    @property
    def total(self) -> int:
        return len(self.step_ids)

    @property
    def score(self) -> int:
        return sum(answer.correct for answer in self.answers)

    @property
    def status(self) -> str:
        if self.finished_at is not None:
            return "complete"
        return "in_progress" if self.step_index < self.total else "awaiting_acknowledgement"

    def to_dict(self) -> dict[str, Any]:
        return {
            "school": self.school, "role": self.role, "plan_version": self.plan_version,
            "step_ids": list(self.step_ids), "started_at": self.started_at.isoformat(),
            "step_index": self.step_index,
            "answers": [{"step_id": a.step_id, "choice": a.choice, "correct": a.correct} for a in self.answers],
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "acknowledgement": self.acknowledgement,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "InductionProgress":
        """The inverse of to_dict; a malformed mapping raises a ValueError (never with its contents)."""
        try:
            progress = cls(
                school=str(raw["school"]), role=check_role(raw["role"]), plan_version=int(raw["plan_version"]),
                step_ids=tuple(str(s) for s in raw["step_ids"]),
                started_at=_aware(datetime.fromisoformat(raw["started_at"])),
                step_index=int(raw.get("step_index", 0)),
                answers=tuple(StepAnswer(str(a["step_id"]), str(a["choice"]), bool(a["correct"]))
                              for a in raw.get("answers") or ()),
                finished_at=_aware(datetime.fromisoformat(raw["finished_at"])) if raw.get("finished_at") else None,
                acknowledgement=raw.get("acknowledgement"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as problem:
            raise ValueError(f"saved induction progress is malformed ({type(problem).__name__})") from None
        if not 0 <= progress.step_index <= progress.total or len(progress.answers) != progress.step_index:
            raise ValueError("saved induction progress is malformed (step index and answers disagree)")
        return progress


@dataclass(frozen=True)
class AnswerFeedback:
    """What to tell someone after they answer a check: right or not, the right option, and the passage again."""

    step: InductionStep
    choice: str
    correct: bool
    finished: bool  # no steps left: the summary and acknowledgement come next

    @property
    def correct_option(self) -> str:
        return self.step.check.correct.text


@dataclass(frozen=True)
class SummaryLine:
    step_id: str
    title: str
    section: str
    correct: bool


@dataclass(frozen=True)
class InductionSummary:
    """The end of an induction: what was covered, the score, and the text to acknowledge."""

    school: str
    school_name: str
    role: str
    role_label: str
    score: int
    total: int
    lines: tuple[SummaryLine, ...]
    acknowledgement: str
    complete: bool


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _now(now: datetime | None) -> datetime:
    return _aware(now) if now is not None else datetime.now(timezone.utc)


def plan_for(progress: InductionProgress, plan: InductionPlan | None = None) -> InductionPlan:
    """The plan `progress` belongs to (loaded from data/induction/ unless given); StaleProgress if it changed."""
    plan = plan if plan is not None else load_plan(progress.school, progress.role)
    if (plan.school, plan.role) != (progress.school, progress.role):
        raise ValueError(f"this plan is for {plan.school}/{plan.role}, not {progress.school}/{progress.role}")
    if not is_current(progress, plan):
        raise StaleProgress(f"this induction was started on version {progress.plan_version} of the {progress.role} "
                            f"steps for school '{progress.school}', which have changed since (now version "
                            f"{plan.version}); start again")
    return plan


def is_current(progress: InductionProgress, plan: InductionPlan | None = None) -> bool:
    """False when the school has changed the steps since this progress started, so it must restart."""
    plan = plan if plan is not None else load_plan(progress.school, progress.role)
    return plan.version == progress.plan_version and plan.step_ids == progress.step_ids


def start(school: str, role: str, *, plan: InductionPlan | None = None,
          now: datetime | None = None) -> InductionProgress:
    """A fresh induction for `role` at `school` (unknown school or role: ValueError naming the known ones)."""
    check_role(role)
    plan = plan if plan is not None else load_plan(school, role)
    if (plan.school, plan.role) != (school, role):
        raise ValueError(f"this plan is for {plan.school}/{plan.role}, not {school}/{role}")
    return InductionProgress(school, role, plan.version, plan.step_ids, _now(now))


def current_step(progress: InductionProgress, plan: InductionPlan | None = None) -> InductionStep | None:
    """The step to show now, or None once every step is answered."""
    plan = plan_for(progress, plan)
    return plan.steps[progress.step_index] if progress.step_index < len(plan) else None


_CHOICE = re.compile(r"^\(?([a-c])[).:]?$")


def match_choice(step: InductionStep, text: str | None) -> str | None:
    """The option key a reply means: 'b', 'B)', '2', or the option's own text; None when it is none of them."""
    if not isinstance(text, str):
        return None
    plain = " ".join(text.strip().lower().split())
    keys = [option.key for option in step.check.options]
    match = _CHOICE.match(plain)
    if match and match[1] in keys:
        return match[1]
    if plain.isdigit() and 1 <= int(plain) <= len(keys):
        return keys[int(plain) - 1]
    for option in step.check.options:
        if plain == " ".join(option.text.lower().split()):
            return option.key
    return None


def answer(progress: InductionProgress, choice: str, *,
           plan: InductionPlan | None = None) -> tuple[InductionProgress, AnswerFeedback]:
    """Record the answer to the current step's check and move on; the feedback says whether it was right and
    carries the step, so a wrong answer can show the passage again."""
    plan = plan_for(progress, plan)
    step = current_step(progress, plan)
    if step is None:
        raise ValueError(f"all {progress.total} steps are answered; acknowledge to finish")
    key = match_choice(step, choice)
    if key is None:
        # The reply itself is not repeated: people type all sorts, names included.
        raise ValueError(f"that reply is not an option for step '{step.id}'; options: "
                         f"{', '.join(o.key for o in step.check.options)}")
    correct = key == step.check.correct.key
    advanced = replace(progress, step_index=progress.step_index + 1,
                       answers=progress.answers + (StepAnswer(step.id, key, correct),))
    return advanced, AnswerFeedback(step, key, correct, advanced.step_index >= len(plan))


def acknowledge(progress: InductionProgress, *, plan: InductionPlan | None = None,
                now: datetime | None = None) -> InductionProgress:
    """Mark the induction complete with the plan's acknowledgement text; only once every step is answered.
    Acknowledging twice returns the progress unchanged (a retried button press)."""
    if progress.status == "complete":
        return progress
    plan = plan_for(progress, plan)
    if progress.status != "awaiting_acknowledgement":
        raise ValueError(f"step {progress.step_index + 1} of {progress.total} is still to do; acknowledge after "
                         f"the last step")
    return replace(progress, finished_at=_now(now), acknowledgement=plan.acknowledgement)


def summary(progress: InductionProgress, *, plan: InductionPlan | None = None) -> InductionSummary:
    """What was covered and the score so far (the whole induction once every step is answered)."""
    plan = plan_for(progress, plan)
    by_id = {step.id: step for step in plan.steps}
    lines = tuple(SummaryLine(a.step_id, by_id[a.step_id].title, by_id[a.step_id].section, a.correct)
                  for a in progress.answers)
    return InductionSummary(plan.school, plan.profile.name, plan.role, ROLE_LABELS[plan.role], progress.score,
                            progress.total, lines, progress.acknowledgement or plan.acknowledgement,
                            progress.status == "complete")

