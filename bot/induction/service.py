"""One call per chat event: what a thin Rasa action hands to the induction, and the messages it sends back.

Each method loads the person's saved progress (keyed by school and chat user id), moves the state machine in
bot/induction/flow.py, saves the result, and returns a `Turn`: the messages to send, a status the action can turn
into slots (`Turn.active` -> `induction_active`), and the progress. A store that is down gives status
"unavailable" and a plain apology instead of an exception, so the chat never claims progress was kept.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from bot.induction import flow, render
from bot.induction.flow import InductionProgress
from bot.induction.plans import InductionPlan, load_plan
from bot.induction.render import Message
from bot.induction.roles import ROLES, parse_role
from bot.induction.store import InductionStore, InductionStoreUnavailable, clean_person
from bot.schools import SchoolDirectory

#: need_role: ask the role (buttons); resume_offer: saved progress, carry on or start again; step: a step and its
#: check are showing; invalid_choice: the reply was not an option, the check is asked again;
#: awaiting_acknowledgement: summary shown, waiting for "I have read and understood"; need_person: recorded,
#: optional name or staff id invited; complete: nothing left to do; paused; not_started; unavailable: store down.
TURN_STATUSES: tuple[str, ...] = ("need_role", "resume_offer", "step", "invalid_choice", "awaiting_acknowledgement",
                                  "need_person", "complete", "paused", "not_started", "unavailable")
#: Statuses in which the person is mid-induction, so a free question should end with "shall we carry on?".
ACTIVE_STATUSES = frozenset({"need_role", "resume_offer", "step", "invalid_choice", "awaiting_acknowledgement",
                             "need_person"})


@dataclass(frozen=True)
class Turn:
    """The outcome of one induction event: messages to send, in order, and where the person now is."""

    messages: tuple[Message, ...]
    status: str
    progress: InductionProgress | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def _store_guard(method: Callable[..., Turn]) -> Callable[..., Turn]:
    """A store failure becomes an 'unavailable' turn with an honest message, never an exception in the action."""

    @functools.wraps(method)
    def run(self: "InductionService", *args: object, **kwargs: object) -> Turn:
        try:
            return method(self, *args, **kwargs)
        except InductionStoreUnavailable:
            return Turn((render.unsaved_message(),), "unavailable")

    return run


class InductionService:
    """The induction for the Rasa actions: begin, answer, pause, carry on, acknowledge, add a name."""

    def __init__(self, store: InductionStore | None = None, *, schools: SchoolDirectory | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.schools = schools if schools is not None else (store.schools if store else SchoolDirectory.load())
        self.store = store if store is not None else InductionStore(schools=self.schools)
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def plan(self, school: str, role: str) -> InductionPlan:
        return load_plan(school, role, schools=self.schools)

    # -- starting

    @_store_guard
    def begin(self, school: str, user_id: str, role: str | None = None) -> Turn:
        """"Start my induction": resume offer if there is saved progress, the role question if the role is
        unknown, else the welcome and the first step. `role` may be free words ('a new TA')."""
        name = self.schools.get(school).name
        wanted = role if role in ROLES else parse_role(role)
        saved = self.store.load_progress(school, user_id)
        prefix: tuple[Message, ...] = ()
        if saved is not None and saved.status != "complete":
            if not flow.is_current(saved, self.plan(school, saved.role)):
                self.store.clear_progress(school, user_id)
                prefix, wanted = (render.stale_message(name),), wanted or saved.role
            elif wanted is None or wanted == saved.role:
                return Turn((render.resume_message(saved, name),), "resume_offer", saved)
        if saved is None and not prefix:
            done = self.store.latest_completion(school, user_id)
            if (done is not None and wanted in (None, done.role)
                    and done.plan_version == self.plan(school, done.role).version):
                return Turn((render.already_complete_message(name, done.completed_at.date()),), "complete")
        if wanted is None:
            return Turn(prefix + (render.role_question(name),), "need_role")
        return self._start(school, user_id, wanted, prefix)

    @_store_guard
    def restart(self, school: str, user_id: str, role: str | None = None) -> Turn:
        """"Start again" or "Do it again": drop saved progress and begin afresh, as the role given, else the saved
        role, else the role of the last completion."""
        saved = self.store.load_progress(school, user_id)
        self.store.clear_progress(school, user_id)
        wanted = role if role in ROLES else parse_role(role)
        if wanted is None and saved is not None:
            wanted = saved.role
        if wanted is None:  # "Do it again" after a completion: the role it was done as
            done = self.store.latest_completion(school, user_id)
            wanted = done.role if done is not None else None
        if wanted is None:
            return Turn((render.role_question(self.schools.get(school).name),), "need_role")
        return self._start(school, user_id, wanted, ())

    def _start(self, school: str, user_id: str, role: str, prefix: tuple[Message, ...]) -> Turn:
        plan = self.plan(school, role)
        progress = flow.start(school, role, plan=plan, now=self._clock())
        self.store.save_progress(user_id, progress)
        today = self._clock().date()
        return Turn(prefix + (render.intro(plan, today),) + render.step_messages(progress, plan), "step", progress)

    # -- during

    @_store_guard
    def resume(self, school: str, user_id: str) -> Turn:
        """"Carry on": the current step again, or the summary if every step is answered."""
        current = self._current(school, user_id)
        return current if isinstance(current, Turn) else self._show(current, ())

    @_store_guard
    def answer(self, school: str, user_id: str, reply: str | None, step_id: str | None = None) -> Turn:
        """A check answer (a button's option key, or typed 'b', '2' or the option text). With `step_id` (from the
        button payload) a press on an old button re-shows the current step instead of answering it."""
        current = self._current(school, user_id)
        if isinstance(current, Turn):
            return current
        plan = self.plan(school, current.role)
        step = flow.current_step(current, plan)
        if step is None or (step_id is not None and step_id != step.id):
            return self._show(current, ())
        if flow.match_choice(step, reply) is None:
            return Turn((render.check_message(step, again=True),), "invalid_choice", current)
        progress, feedback = flow.answer(current, reply or "", plan=plan)
        self.store.save_progress(user_id, progress)
        return self._show(progress, (render.feedback_message(feedback, plan.profile),))

    @_store_guard
    def carry_on_prompt(self, school: str, user_id: str) -> Turn:
        """After a free question mid-way: "shall we carry on?"; no message at all when no induction is under way."""
        if self.store.load_progress(school, user_id) is None:
            return Turn((), "not_started")
        current = self._current(school, user_id)
        if isinstance(current, Turn):
            return current
        status = "step" if current.status == "in_progress" else "awaiting_acknowledgement"
        return Turn((render.carry_on_message(current),), status, current)

    @_store_guard
    def pause(self, school: str, user_id: str) -> Turn:
        """"Pause": progress is already saved after every answer, so this only says so."""
        current = self._current(school, user_id)
        if isinstance(current, Turn):
            return current
        return Turn((render.paused_message(current),), "paused", current)

    # -- finishing

    @_store_guard
    def acknowledge(self, school: str, user_id: str, person: str | None = None) -> Turn:
        """"I have read and understood": complete the induction and write the completion record (once per person
        per plan version). Without `person`, the optional name or staff id is invited next."""
        name = clean_person(person)
        current = self._current(school, user_id)
        if isinstance(current, Turn):
            return current
        if current.status == "in_progress":
            return self._show(current, ())
        progress = flow.acknowledge(current, plan=self.plan(school, current.role), now=self._clock())
        try:
            result = self.store.record_completion(user_id, progress, name)
        except InductionStoreUnavailable:
            return Turn((render.completion_message(progress, recorded=False),), "unavailable", progress)
        if not result.created:  # this version was completed before (e.g. "Do it again"): the first record stands
            return Turn((render.already_complete_message(self.schools.get(school).name,
                                                         result.record.completed_at.date()),), "complete", progress)
        if name is None:
            return Turn((render.completion_message(progress, recorded=True), render.person_question()),
                        "need_person", progress)
        return Turn((render.completion_message(progress, recorded=True),), "complete", progress)

    @_store_guard
    def add_person(self, school: str, user_id: str, person: str | None) -> Turn:
        """The optional name or staff id, typed after the completion (None or blank: skipped, no message)."""
        name = clean_person(person)
        if name is None or not self.store.set_person(school, user_id, name):
            return Turn((), "complete")
        return Turn((render.person_added_message(),), "complete")

    # -- helpers

    def _current(self, school: str, user_id: str) -> InductionProgress | Turn:
        """The saved progress to carry on; otherwise the Turn to send instead: already complete, nothing started,
        or (when the school changed its steps since) a fresh start with the same role."""
        name = self.schools.get(school).name
        progress = self.store.load_progress(school, user_id)
        if progress is None:
            done = self.store.latest_completion(school, user_id)
            if done is not None:
                return Turn((render.already_complete_message(name, done.completed_at.date()),), "complete")
            return Turn((render.not_started_message(),), "not_started")
        if flow.is_current(progress, self.plan(school, progress.role)):
            return progress
        self.store.clear_progress(school, user_id)
        return self._start(school, user_id, progress.role, (render.stale_message(name),))

    def _show(self, progress: InductionProgress, prefix: tuple[Message, ...]) -> Turn:
        plan = self.plan(progress.school, progress.role)
        if progress.status == "in_progress":
            return Turn(prefix + render.step_messages(progress, plan), "step", progress)
        return Turn(prefix + render.summary_messages(progress, plan), "awaiting_acknowledgement", progress)
