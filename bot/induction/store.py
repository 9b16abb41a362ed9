"""Induction progress and completion records: progress per (school, person) so an induction survives across chat
sessions, and one completion record per person per plan version for the induction lead's report.

People are keyed by a SHA-256 of their chat user id (the Rasa sender id), never the id itself. A name or staff id
is kept only when the person gives one, only on the completion record, and never reaches logs, exception messages
or `repr`. SQLAlchemy Core: SQLite by default (file created 0600; WAL, synchronous=FULL, BEGIN IMMEDIATE, as the
concern store does), PostgreSQL by URL (nothing below is SQLite-only SQL).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import settings, sqlstore
from bot.induction.flow import InductionProgress
from bot.schools import SchoolDirectory

log = logging.getLogger(__name__)

MAX_PERSON_CHARS = 100
_RETRIES = 5
_T = TypeVar("_T")

metadata = MetaData()

progress_rows = Table(
    "induction_progress",
    metadata,
    Column("school", String(64), primary_key=True),
    Column("user_key", String(64), primary_key=True),  # sha256 of the chat user id
    Column("role", String(32), nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("state", Text, nullable=False),  # InductionProgress.to_dict() as JSON
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

completion_rows = Table(
    "induction_completions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("school", String(64), nullable=False, index=True),
    Column("user_key", String(64), nullable=False),
    Column("plan_version", Integer, nullable=False),
    Column("role", String(32), nullable=False),
    Column("person", String(MAX_PERSON_CHARS), nullable=True),  # a name or staff id, only if given
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("steps_completed", Integer, nullable=False),
    Column("steps_total", Integer, nullable=False),
    Column("score", Integer, nullable=False),
    Column("step_ids", Text, nullable=False),  # JSON list, in the order they were done
    Column("acknowledgement", Text, nullable=False),  # the exact text confirmed
    # A retried "I have read and understood" never makes a second record for the same plan version.
    UniqueConstraint("school", "user_key", "plan_version", name="uq_induction_completion_once"),
)


class InductionStoreUnavailable(RuntimeError):
    """The database could not be reached or written; the message names the error class only."""


@dataclass(frozen=True)
class CompletionRecord:
    """One finished induction, as the induction lead's report lists it."""

    id: int
    school: str
    role: str
    plan_version: int
    person: str | None
    started_at: datetime
    completed_at: datetime
    steps_completed: int
    steps_total: int
    score: int
    step_ids: tuple[str, ...]
    acknowledgement: str

    def __repr__(self) -> str:  # the person's name or staff id stays out of logs and tracebacks
        return (f"CompletionRecord(id={self.id}, school={self.school!r}, role={self.role!r}, "
                f"plan_version={self.plan_version}, completed_at={self.completed_at.isoformat()}, "
                f"score={self.score}/{self.steps_total}, person={'<given>' if self.person else None})")


@dataclass(frozen=True)
class CompletionResult:
    """The record, and whether this call created it (False: it already existed, e.g. a retried button press)."""

    record: CompletionRecord
    created: bool


def default_database_url() -> str:
    """POLICYBOT_INDUCTION_DATABASE_URL, else artifacts/induction.db (apart from the other databases)."""
    return (os.environ.get("POLICYBOT_INDUCTION_DATABASE_URL")
            or f"sqlite:///{settings.artifacts_dir() / 'induction.db'}")


def user_key(user_id: str) -> str:
    """The key a person is stored under: a SHA-256 of their chat user id, so the id itself is never kept."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValueError("user_id must be a non-empty string (the chat's sender id)")
    return hashlib.sha256(f"policybot-induction:{user_id}".encode("utf-8")).hexdigest()


def clean_person(person: str | None) -> str | None:
    """A name or staff id as typed, with control characters dropped and spaces collapsed; None when blank."""
    if person is None:
        return None
    if not isinstance(person, str):
        raise ValueError("a name or staff id must be text")
    text = " ".join("".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in person).split())
    if len(text) > MAX_PERSON_CHARS:
        raise ValueError(f"a name or staff id can be at most {MAX_PERSON_CHARS} characters")
    return text or None


def _utc(value: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive datetimes, which this store always wrote as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class InductionStore:
    """Saved induction progress and completion records, in one database."""

    def __init__(self, url: str | None = None, *, schools: SchoolDirectory | None = None,
                 clock: Callable[[], datetime] | None = None, lock_timeout_s: float = 15.0) -> None:
        self.url = url or default_database_url()
        parsed = sqlstore.parse_url(self.url, what="induction database", env_var="POLICYBOT_INDUCTION_DATABASE_URL")
        self._safe_url = sqlstore.safe_url(parsed)
        self.schools = schools if schools is not None else SchoolDirectory.load()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._engine: Engine = sqlstore.open_engine(parsed, lock_timeout_s=lock_timeout_s, what="induction database")
        self._schema = sqlstore.Once()

    def __repr__(self) -> str:
        return f"InductionStore({self._safe_url})"

    # -- plumbing

    def _ready(self) -> None:
        """Create the file (0600) and tables on first use, so a store that is down fails per call, not at import."""
        self._schema.run(self._create_schema)

    def _create_schema(self) -> None:
        try:
            sqlstore.create_schema(self._engine, metadata)
        except (SQLAlchemyError, OSError) as problem:
            log.error("induction store unavailable while opening: %s", type(problem).__name__)
            raise InductionStoreUnavailable(
                f"the induction store is unavailable ({type(problem).__name__})") from None

    def _transaction(self, work: Callable[[Connection], _T]) -> _T:
        """Run `work` in one transaction; a lost insert race (IntegrityError) runs it again."""
        self._ready()
        for _ in range(_RETRIES):
            try:
                with self._engine.begin() as connection:
                    return work(connection)
            except IntegrityError:
                continue  # another writer inserted the same row first; the next run sees it
            except (SQLAlchemyError, OSError) as problem:
                log.error("induction store unavailable: %s", type(problem).__name__)
                raise InductionStoreUnavailable(
                    f"the induction store is unavailable ({type(problem).__name__})") from None
        raise InductionStoreUnavailable("the induction store is unavailable (conflicting writers)")

    # -- progress

    def save_progress(self, user_id: str, progress: InductionProgress) -> None:
        """Keep `progress` as this person's induction at its school, replacing what was saved before."""
        self.schools.get(progress.school)
        key = user_key(user_id)
        state = json.dumps(progress.to_dict(), ensure_ascii=False)
        rows = progress_rows.c

        def work(connection: Connection) -> None:
            values = {"role": progress.role, "plan_version": progress.plan_version, "state": state,
                      "updated_at": _utc(self._clock())}
            changed = connection.execute(progress_rows.update()
                                         .where(rows.school == progress.school).where(rows.user_key == key)
                                         .values(**values))
            if changed.rowcount == 0:
                connection.execute(progress_rows.insert().values(school=progress.school, user_key=key, **values))

        self._transaction(work)

    def load_progress(self, school: str, user_id: str) -> InductionProgress | None:
        """This person's saved induction at `school`, or None. Unreadable saved state is dropped, not raised:
        the person simply starts again."""
        self.schools.get(school)
        key = user_key(user_id)
        rows = progress_rows.c
        state = self._transaction(lambda connection: connection.execute(
            select(rows.state).where(rows.school == school).where(rows.user_key == key)).scalar_one_or_none())
        if state is None:
            return None
        try:
            return InductionProgress.from_dict(json.loads(state))
        except ValueError:
            log.warning("saved induction progress for school %s could not be read; it is discarded", school)
            self.clear_progress(school, user_id)
            return None

    def clear_progress(self, school: str, user_id: str) -> bool:
        """Forget this person's saved induction at `school`; False if there was none."""
        self.schools.get(school)
        key = user_key(user_id)
        rows = progress_rows.c
        return self._transaction(lambda connection: connection.execute(
            progress_rows.delete().where(rows.school == school).where(rows.user_key == key)).rowcount > 0)

    # -- completions

    def record_completion(self, user_id: str, progress: InductionProgress,
                          person: str | None = None) -> CompletionResult:
        """Write the completion record for an acknowledged induction and drop its saved progress, in one
        transaction. Once per (school, person, plan version): a retry returns the first record, created=False."""
        self.schools.get(progress.school)
        if progress.status != "complete" or progress.finished_at is None or progress.acknowledgement is None:
            raise ValueError(f"the induction is not complete ({progress.status.replace('_', ' ')}); record it "
                             f"after the acknowledgement")
        key, name = user_key(user_id), clean_person(person)
        done = completion_rows.c

        def work(connection: Connection) -> CompletionResult:
            connection.execute(progress_rows.delete().where(progress_rows.c.school == progress.school)
                               .where(progress_rows.c.user_key == key))
            existing = connection.execute(select(completion_rows)
                                          .where(done.school == progress.school).where(done.user_key == key)
                                          .where(done.plan_version == progress.plan_version)).first()
            if existing is not None:
                return CompletionResult(_completion(existing), False)
            connection.execute(completion_rows.insert().values(
                school=progress.school, user_key=key, plan_version=progress.plan_version, role=progress.role,
                person=name, started_at=_utc(progress.started_at), completed_at=_utc(progress.finished_at),
                steps_completed=len(progress.answers), steps_total=progress.total, score=progress.score,
                step_ids=json.dumps([a.step_id for a in progress.answers]),
                acknowledgement=progress.acknowledgement))
            row = connection.execute(select(completion_rows)
                                     .where(done.school == progress.school).where(done.user_key == key)
                                     .where(done.plan_version == progress.plan_version)).one()
            return CompletionResult(_completion(row), True)

        result = self._transaction(work)
        if result.created:
            log.info("induction completion recorded (school=%s, role=%s, plan version %d, score %d/%d)",
                     progress.school, progress.role, progress.plan_version, progress.score, progress.total)
        return result

    def set_person(self, school: str, user_id: str, person: str | None) -> bool:
        """Add (or replace) the name or staff id on this person's latest completion at `school`; False if they
        have none."""
        self.schools.get(school)
        key, name = user_key(user_id), clean_person(person)
        done = completion_rows.c

        def work(connection: Connection) -> bool:
            latest = connection.execute(select(done.id).where(done.school == school).where(done.user_key == key)
                                        .order_by(done.completed_at.desc(), done.id.desc()).limit(1)).scalar()
            if latest is None:
                return False
            connection.execute(completion_rows.update().where(done.id == latest).values(person=name))
            return True

        return self._transaction(work)

    def latest_completion(self, school: str, user_id: str) -> CompletionRecord | None:
        """This person's most recent completion at `school`, if any."""
        self.schools.get(school)
        key = user_key(user_id)
        done = completion_rows.c
        row = self._transaction(lambda connection: connection.execute(
            select(completion_rows).where(done.school == school).where(done.user_key == key)
            .order_by(done.completed_at.desc(), done.id.desc()).limit(1)).first())
        return _completion(row) if row is not None else None

    def completions(self, school: str) -> list[CompletionRecord]:
        """Every completion at `school`, oldest first (unknown school: ValueError naming the known ones)."""
        self.schools.get(school)
        done = completion_rows.c
        rows = self._transaction(lambda connection: connection.execute(
            select(completion_rows).where(done.school == school).order_by(done.completed_at, done.id)).all())
        return [_completion(row) for row in rows]


def _completion(row: Any) -> CompletionRecord:
    return CompletionRecord(
        id=row.id, school=row.school, role=row.role, plan_version=row.plan_version, person=row.person,
        started_at=_utc(row.started_at), completed_at=_utc(row.completed_at), steps_completed=row.steps_completed,
        steps_total=row.steps_total, score=row.score, step_ids=tuple(json.loads(row.step_ids)),
        acknowledgement=row.acknowledgement)
