"""The DSL's notes and actions on a concern, and the outcome vocabulary: what a Designated Safeguarding Lead records
after reading a concern (KCSIE part 1 and Working Together: a written record of concerns, decisions and actions).

The codes are stored; the labels are what the inbox and the CLI show. Every function works inside the caller's
transaction (ConcernStore runs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.safeguarding.records.schema import _utc, concern_notes

#: Steps a DSL takes on a concern, in the words UK practice uses. Each may be recorded as an action while the
#: concern is open, and one is the outcome given when it is closed.
ACTIONS: dict[str, str] = {
    "referred_csc": "Referred to children's social care",
    "police": "Reported to the police",
    "lado": "Referred to the LADO (allegation about an adult)",
    "early_help": "Early help offered",
    "parents_informed": "Parents or carers informed",
    "monitoring": "Monitoring in school",
    "no_further_action": "No further action",
}
#: The longest note the inbox or the CLI accepts (a chronology entry, not a report).
MAX_NOTE_CHARS = 4000


@dataclass(frozen=True)
class ConcernNote:
    """One note or action; `repr` hides the text (it may name people)."""

    at: datetime
    actor: str
    step: str | None
    text: str

    @property
    def label(self) -> str:
        return ACTIONS.get(self.step, self.step) if self.step else "Note"

    def __repr__(self) -> str:
        return f"ConcernNote(at={self.at.isoformat()!r}, actor={self.actor!r}, step={self.step!r}, text=<hidden>)"

    __str__ = __repr__


def check_step(step: str | None, what: str = "action") -> str | None:
    """The code, or None; an unknown code is an exact error listing the known ones."""
    if step is None or step == "":
        return None
    if step not in ACTIONS:
        raise ValueError(f"unknown {what} {step!r}; known: {', '.join(ACTIONS)}")
    return step


def check_text(text: str | None, required: bool) -> str:
    """Trimmed note text; required for a plain note, optional beside an action."""
    cleaned = (text or "").strip()
    if required and not cleaned:
        raise ValueError("a note needs some text")
    if len(cleaned) > MAX_NOTE_CHARS:
        raise ValueError(f"a note is at most {MAX_NOTE_CHARS} characters (this one has {len(cleaned)})")
    return cleaned


def add(connection: Connection, reference: str, school: str, now: datetime, actor: str, step: str | None,
        text: str) -> ConcernNote:
    connection.execute(concern_notes.insert().values(reference=reference, school=school, at=now, actor=actor,
                                                     step=step, text=text))
    return ConcernNote(now, actor, step, text)


def of(connection: Connection, reference: str) -> tuple[ConcernNote, ...]:
    """One concern's notes and actions, oldest first."""
    rows = connection.execute(select(concern_notes).where(concern_notes.c.reference == reference)
                              .order_by(concern_notes.c.id))
    return tuple(ConcernNote(_utc(row.at), row.actor, row.step, row.text) for row in rows)
