"""The concern store: safeguarding concern records that are never lost, one committed transaction per hand-off,
read only by the school's DSL readers.

`ConcernStore.record` writes the concern, its "created" audit row and one outbox row per DSL notification
destination in ONE transaction and commits before returning, so the bot only says "passed on" once the record is
durable. A retried message (same `message_id`) never makes a second record. Every read and every change appends a
row to the hash-chained audit (audit.py); nothing of a record's content (the person's words, the conversation
excerpt, a name, a close note) reaches logs, exception messages, audit details or `repr`.

The store is SQLAlchemy 1.4 Core: SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE) by default, PostgreSQL by URL.
Nothing below is SQLite-only SQL: the PRAGMAs and BEGIN IMMEDIATE are applied only on the SQLite dialect. On
PostgreSQL every transaction first locks the one row of `concern_lock`, so writers queue exactly as they do on
SQLite (the audit chain is serial by nature); should a race still end in an IntegrityError (a unique message_id,
reference or audit seq), the whole transaction is rolled back and run again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Sequence, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import settings, sqlstore
from bot.safeguarding.records import audit, notes, outbox
from bot.safeguarding.records.audit import SYSTEM_ACTOR, AuditCheck, AuditEntry
from bot.safeguarding.records.config import SafeguardingConfig
from bot.safeguarding.records.notes import ConcernNote
from bot.safeguarding.records.outbox import OutboxCounts, OutboxItem
from bot.safeguarding.records.schema import (_maybe_utc, _utc, concern_lock, concern_outbox, concern_sequences,
                                             concerns, metadata)
from bot.safeguarding.types import CATEGORIES
from bot.schools import SchoolDirectory

log = logging.getLogger(__name__)

#: The urgency a record carries: the screen's route urgency (a `concern` is its own, least urgent, level).
RECORD_URGENCIES: tuple[str, ...] = ("immediate", "high", "standard", "concern")
#: What was handed off: a child telling about themselves, someone reporting about another, or a lesser worry.
KINDS: tuple[str, ...] = ("disclosure", "report", "concern")
STATUSES: tuple[str, ...] = ("new", "acknowledged", "closed")
#: `open` (new + acknowledged) and `all` are list filters, not statuses.
STATUS_FILTERS: tuple[str, ...] = ("open", "all", *STATUSES)

#: A notification still undelivered this long after its concern was recorded is an alert: the DSL inbox shows it,
#: the outbox worker logs it (counts and references only).
NOTIFICATION_OVERDUE_AFTER = timedelta(minutes=15)

_URGENCY_RANK = {urgency: rank for rank, urgency in enumerate(RECORD_URGENCIES)}
_RETRIES = 8
_T = TypeVar("_T")


class RecordStoreUnavailable(RuntimeError):
    """The concern store cannot be reached or written (down, locked, disk full); the message never has content."""


class ConcernNotFound(LookupError):
    """No concern with that reference at that school (another school's reference is 'not found' too)."""

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class RecordResult:
    """The outcome of `record`: the reference, and False when the message had been recorded before."""

    reference: str
    created: bool


@dataclass(frozen=True)
class ConcernSummary:
    """What a list shows about a concern: no words, excerpt, name or note."""

    reference: str
    school: str
    urgency: str
    category: str
    kind: str
    role: str
    channel: str
    created_at: datetime
    status: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class ConcernRecord:
    """A whole concern as the DSL reads it; `repr` hides the words, excerpt, name and close note."""

    reference: str
    school: str
    urgency: str
    category: str
    kind: str
    role: str
    channel: str
    created_at: datetime
    status: str
    words: str
    excerpt: tuple[str, ...]
    reporter_name: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    close_note: str | None = None
    history: tuple[AuditEntry, ...] = ()
    #: ISO 639-1 code when the message was not in English (an interpreter may be needed), else None.
    language: str | None = None
    #: The DSL's notes and actions, oldest first, and the outcome code given at closing (records/notes.py).
    notes: tuple[ConcernNote, ...] = ()
    outcome: str | None = None

    def __repr__(self) -> str:
        return (f"ConcernRecord(reference={self.reference!r}, school={self.school!r}, urgency={self.urgency!r}, "
                f"category={self.category!r}, kind={self.kind!r}, status={self.status!r}, "
                f"words=<hidden {len(self.words)} chars>, excerpt=<hidden {len(self.excerpt)} turns>, "
                f"reporter_name={'<hidden>' if self.reporter_name else None}, "
                f"close_note={'<hidden>' if self.close_note else None}, notes=<hidden {len(self.notes)}>, "
                f"outcome={self.outcome!r})")

    __str__ = __repr__



def default_database_url() -> str:
    """POLICYBOT_CONCERNS_DATABASE_URL, else artifacts/concerns.db (apart from the feedback database)."""
    return os.environ.get("POLICYBOT_CONCERNS_DATABASE_URL") or f"sqlite:///{settings.artifacts_dir() / 'concerns.db'}"


class ConcernStore:
    """Concern records, their hash-chained audit and the notification outbox, in one database."""

    def __init__(self, url: str | None = None, *, schools: SchoolDirectory | None = None,
                 config: SafeguardingConfig | None = None, clock: Callable[[], datetime] | None = None,
                 lock_timeout_s: float = 15.0) -> None:
        self.url = url or default_database_url()
        parsed = sqlstore.parse_url(self.url, what="concerns database", env_var="POLICYBOT_CONCERNS_DATABASE_URL")
        self._safe_url = sqlstore.safe_url(parsed)
        self.schools = schools if schools is not None else SchoolDirectory.load()
        self.config = config if config is not None else SafeguardingConfig.load(schools=self.schools)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        # postgres_lock_timeout: a writer queued behind concern_lock gives up rather than hang the hand-off.
        self._engine: Engine = sqlstore.open_engine(parsed, lock_timeout_s=lock_timeout_s, what="concerns database",
                                                    postgres_lock_timeout=True)
        self._schema = sqlstore.Once()

    def __repr__(self) -> str:
        return f"ConcernStore({self._safe_url})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for checks and tests; the tables are in records/schema.py)."""
        return self._engine

    # -- plumbing

    def _now(self) -> datetime:
        return _utc(self._clock())

    def _ready(self) -> None:
        """Create the file (0600) and tables on first use, so a store that is down fails per call, not at import."""
        self._schema.run(self._create_schema)

    def _create_schema(self) -> None:
        try:
            sqlstore.create_schema(self._engine, metadata)
            with self._engine.begin() as connection:
                if connection.execute(select(concern_lock.c.id)).first() is None:
                    connection.execute(concern_lock.insert().values(id=1))
        except IntegrityError:
            pass  # another process inserted the lock row first
        except (SQLAlchemyError, OSError) as problem:
            log.error("concern store unavailable while opening: %s", type(problem).__name__)
            raise RecordStoreUnavailable(f"the concern store is unavailable ({type(problem).__name__})") \
                from None

    def _transaction(self, work: Callable[[Connection], _T]) -> _T:
        """Run `work` in one transaction, retrying a lost race (IntegrityError); store failures become
        RecordStoreUnavailable with no content."""
        self._ready()
        for attempt in range(_RETRIES):
            try:
                with self._engine.begin() as connection:
                    connection.execute(select(concern_lock.c.id).where(concern_lock.c.id == 1).with_for_update())
                    return work(connection)
            except IntegrityError:
                # Another writer took the same sequence row, audit seq or message_id first: run it again.
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
            except (SQLAlchemyError, OSError) as problem:
                log.error("concern store unavailable: %s", type(problem).__name__)
                raise RecordStoreUnavailable(f"the concern store is unavailable ({type(problem).__name__})") \
                    from None
        log.error("concern store: a transaction kept conflicting after %d attempts", _RETRIES)
        raise RecordStoreUnavailable("the concern store is unavailable (conflicting writers)")

    def _audit(self, connection: Connection, actor: str, action: str, reference: str | None, school: str | None,
               detail: str = "") -> AuditEntry:
        """Append one hash-chained audit row inside the caller's transaction, stamped by the store's clock."""
        return audit.append(connection, self._now(), actor, action, reference, school, detail)

    def _reader(self, school: str, actor: str) -> str:
        """Check the school and the reader (exact early errors); returns the actor as given, trimmed. DSL readers
        and allegation readers both pass; which concerns each sees is `_may_read`'s."""
        self.schools.get(school)  # ValueError listing the known slugs
        settings = self.config.for_school(school)
        if not (settings.is_reader(actor) or settings.is_allegation_reader(actor)):
            self._denied(school, actor, None, "not a DSL reader for this school")
            raise PermissionError(f"{actor!r} is not a DSL reader for school {school!r}")
        return actor.strip()

    def _denied(self, school: str, actor: str, reference: str | None, why: str) -> None:
        # A refused attempt is part of the record too: the school can see who tried to read what.
        try:
            self._transaction(lambda connection: self._audit(connection, str(actor)[:128], "denied", reference,
                                                             school, why))
        except RecordStoreUnavailable:
            pass  # the refusal stands either way

    def _readable(self, connection: Connection, reference: str, school: str, actor: str) -> Any:
        """The row, if `actor` may read its category; another reader's concern is not found (its existence is
        not confirmed to, say, a DSL who may be the person an allegation is about)."""
        row = _find(connection, reference, school)
        if not self.config.for_school(school).may_read(actor, row.category):
            raise _NotYours(f"no concern {reference} at school '{school}'")
        return row

    def _guarded(self, work: Callable[[Connection], Any], reference: str, school: str, actor: str) -> Any:
        try:
            return self._transaction(work)
        except _NotYours:
            self._denied(school, actor, None, "a concern routed to other readers")
            raise ConcernNotFound(f"no concern {reference} at school '{school}'") from None

    # -- writing a concern

    def record(self, *, message_id: str, school: str, role: str, channel: str, urgency: str, category: str,
               kind: str, words: str, excerpt: Sequence[str] | str = (),
               reporter_name: str | None = None, language: str | None = None) -> RecordResult:
        """Store one handed-off message durably (concern + audit + outbox in one committed transaction)."""
        profile = self.schools.get(school)
        if urgency not in RECORD_URGENCIES:
            raise ValueError(f"unknown urgency {urgency!r}; known: {', '.join(RECORD_URGENCIES)}")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
        if not isinstance(message_id, str) or not message_id.strip():
            raise ValueError("message_id must be a non-empty string (it stops a retried message being recorded twice)")
        if not isinstance(words, str):
            raise ValueError("words must be a string")
        if language is not None and not re.fullmatch(r"[a-z]{2,3}", language):
            raise ValueError(f"language must be an ISO 639 code such as 'pl', got {language!r}")
        language = None if language == "en" else language
        turns = (excerpt,) if isinstance(excerpt, str) else tuple(str(turn) for turn in excerpt)
        # Bounded columns are fitted here, so PostgreSQL never rejects (and so loses) a disclosure over a length.
        key = message_id if len(message_id) <= 255 else "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
        role, channel = (role or "any")[:32], (channel or "unknown")[:64]
        destinations = self.config.for_school(school).destinations(category)

        def work(connection: Connection) -> RecordResult:
            existing = connection.execute(
                select(concerns.c.reference).where(concerns.c.message_id == key)).scalar_one_or_none()
            if existing is not None:
                return RecordResult(existing, False)
            now = self._now()
            number = _next_number(connection, school, now.year)
            reference = f"{profile.reference_prefix}-{now.year}-{number:04d}"
            connection.execute(concerns.insert().values(
                reference=reference, message_id=key, school=school, role=role, channel=channel, urgency=urgency,
                category=category, kind=kind, words=words,
                excerpt=json.dumps(list(turns), ensure_ascii=False), reporter_name=reporter_name or None,
                language=language,
                created_at=now, status="new"))
            self._audit(connection, SYSTEM_ACTOR, "created", reference, school,
                        f"kind={kind} urgency={urgency} category={category} role={role} channel={channel} "
                        f"{f'language={language} ' if language else ''}"
                        f"notifications={len(destinations)}")
            outbox.queue(connection, reference, school, destinations, now)
            return RecordResult(reference, True)

        result = self._transaction(work)
        if result.created:
            log.info("recorded concern %s (school=%s, urgency=%s, %d notification(s) queued)",
                     result.reference, school, urgency, len(destinations))
            if not destinations:
                log.warning("school %s has no DSL notification destinations in the safeguarding settings; "
                            "concern %s is recorded but nobody is notified", school, result.reference)
        else:
            log.info("message already recorded as concern %s; not recorded again", result.reference)
        return result

    # -- reading and changing (DSL readers only; every call is audited)

    def list_concerns(self, school: str, actor: str, status: str = "open", urgency: str | None = None,
                      category: str | None = None) -> list[ConcernSummary]:
        """The school's concerns, most urgent first, newest first within an urgency; audited as 'listed'."""
        actor = self._reader(school, actor)
        if status not in STATUS_FILTERS:
            raise ValueError(f"unknown status {status!r}; known: {', '.join(STATUS_FILTERS)}")
        if urgency is not None and urgency not in RECORD_URGENCIES:
            raise ValueError(f"unknown urgency {urgency!r}; known: {', '.join(RECORD_URGENCIES)}")
        if category is not None and category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
        query = select(*_SUMMARY_COLUMNS).where(concerns.c.school == school)
        if urgency is not None:
            query = query.where(concerns.c.urgency == urgency)
        if category is not None:
            query = query.where(concerns.c.category == category)
        if status == "open":
            query = query.where(concerns.c.status.in_(("new", "acknowledged")))
        elif status != "all":
            query = query.where(concerns.c.status == status)

        settings = self.config.for_school(school)

        def work(connection: Connection) -> list[ConcernSummary]:
            rows = [_summary(row) for row in connection.execute(query) if settings.may_read(actor, row.category)]
            filters = "".join(f" {key}={value}" for key, value in (("urgency", urgency), ("category", category))
                              if value)
            self._audit(connection, actor, "listed", None, school, f"status={status}{filters} count={len(rows)}")
            return rows

        found = self._transaction(work)
        return sorted(found, key=lambda c: (_URGENCY_RANK.get(c.urgency, 99), -c.created_at.timestamp(),
                                            c.reference))

    def show(self, reference: str, school: str, actor: str, export: bool = False) -> ConcernRecord:
        """The whole concern with its history; audited as 'read' (or 'exported' for machine-readable output)."""
        actor = self._reader(school, actor)
        reference = reference.strip().upper()

        def work(connection: Connection) -> ConcernRecord:
            row = self._readable(connection, reference, school, actor)
            self._audit(connection, actor, "exported" if export else "read", reference, school)
            return _record(row, audit.history(connection, reference), notes.of(connection, reference))

        return self._guarded(work, reference, school, actor)

    def acknowledge(self, reference: str, school: str, actor: str) -> ConcernSummary:
        """new -> acknowledged: the DSL has picked it up; audited."""
        return self._change(reference, school, actor, "acknowledged")

    def close(self, reference: str, school: str, actor: str, note: str | None = None,
              outcome: str | None = None) -> ConcernSummary:
        """acknowledged -> closed, with an optional note kept on the record (never in the audit) and an outcome
        code (records/notes.py ACTIONS, shown in the audit); audited."""
        outcome = notes.check_step(outcome, "outcome")
        return self._change(reference, school, actor, "closed", notes.check_text(note, required=False) or None,
                            outcome)

    def add_note(self, reference: str, school: str, actor: str, text: str, step: str | None = None) -> ConcernNote:
        """Add a note, or an action taken (`step`, records/notes.py ACTIONS) with an optional note, to the concern's
        chronology; the audit says that one was added and which action, never the text. An action is for an open
        concern; a note may be added after closing too (information often arrives later)."""
        actor = self._reader(school, actor)
        reference = reference.strip().upper()
        step = notes.check_step(step)
        text = notes.check_text(text, required=step is None)

        def work(connection: Connection) -> ConcernNote:
            row = self._readable(connection, reference, school, actor)
            if step is not None and row.status == "closed":
                raise ValueError(f"{reference} is closed; add a note instead of an action")
            now = self._now()
            added = notes.add(connection, reference, school, now, actor, step, text)
            if step is None:
                self._audit(connection, actor, "noted", reference, school)
            else:
                self._audit(connection, actor, "action_recorded", reference, school,
                            f"action={step}" + (" note=yes" if text else ""))
            return added

        return self._guarded(work, reference, school, actor)

    def log_access(self, school: str | None, actor: str, action: str, detail: str = "") -> None:
        """An audit row for a sign-in event of the web inbox (signed_in, sign_in_failed, locked_out, signed_out),
        so the school sees who reached its records and who tried. `detail` must hold no content."""
        if action not in ("signed_in", "sign_in_failed", "locked_out", "signed_out"):
            raise ValueError(f"unknown access event {action!r}")
        self._transaction(lambda connection: self._audit(connection, str(actor)[:128], action, None, school,
                                                         detail))

    def overdue_notifications(self, school: str | None = None, older_than: timedelta = NOTIFICATION_OVERDUE_AFTER,
                              now: datetime | None = None) -> dict[str, int]:
        """Per school, how many notifications are still undelivered `older_than` after their concern was
        recorded (counts only: the inbox shows them, the outbox worker logs them); one school's when given."""
        cutoff = (_utc(now) if now else self._now()) - older_than
        query = (select(concern_outbox.c.school).where(concern_outbox.c.status == "pending")
                 .where(concern_outbox.c.created_at <= cutoff))
        if school is not None:
            query = query.where(concern_outbox.c.school == school)
        found: dict[str, int] = {}
        for row in self._transaction(lambda connection: connection.execute(query).all()):
            found[row.school] = found.get(row.school, 0) + 1
        return found

    def _change(self, reference: str, school: str, actor: str, target: str, note: str | None = None,
                outcome: str | None = None) -> ConcernSummary:
        actor = self._reader(school, actor)
        reference = reference.strip().upper()
        required, verb, article = (("new", "acknowledge", "a") if target == "acknowledged"
                                   else ("acknowledged", "close", "an"))

        def work(connection: Connection) -> ConcernSummary:
            current = self._readable(connection, reference, school, actor).status
            if current != required:
                hint = "; acknowledge it first" if current == "new" else ""
                raise ValueError(f"cannot {verb} {reference}: its status is '{current}' and only {article} "
                                 f"'{required}' concern can be {target}{hint}")
            now = self._now()
            values: dict[str, Any] = ({"status": target, "acknowledged_by": actor, "acknowledged_at": now}
                                      if target == "acknowledged" else
                                      {"status": target, "closed_by": actor, "closed_at": now,
                                       "close_note": note or None, "outcome": outcome})
            # The status condition makes a concurrent change lose cleanly instead of skipping a step.
            updated = connection.execute(concerns.update()
                                         .where(concerns.c.reference == reference)
                                         .where(concerns.c.status == required).values(**values))
            if updated.rowcount != 1:
                raise ValueError(f"cannot {verb} {reference}: its status changed meanwhile; look at it again")
            detail = f"from={required}" + (f" outcome={outcome}" if outcome else "") + (" note=yes" if note else "")
            self._audit(connection, actor, target, reference, school, detail)
            return _summary(_find(connection, reference, school))

        return self._guarded(work, reference, school, actor)

    # -- audit

    def verify_audit(self) -> AuditCheck:
        """Re-hash the whole chain: an edited, inserted or deleted row breaks it; every concern needs its
        'created' row (catches a deleted tail that took concerns with it only partly)."""
        return self._transaction(audit.verify)

    def audit_entries(self) -> list[AuditEntry]:
        """Every audit row, in order (for checks and tests; the rows hold no disclosure text)."""
        return self._transaction(audit.entries)

    # -- outbox (used by bot.safeguarding.notify)

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 50) -> list[OutboxItem]:
        """Pending notifications due by `now`, each leased until now+lease so a second deliverer skips it."""
        return self._transaction(lambda connection: outbox.claim_due(connection, now, lease, limit))

    def mark_sent(self, item: OutboxItem, at: datetime) -> None:
        """The notification went out: mark it sent and audit 'notified'."""

        def work(connection: Connection) -> None:
            outbox.mark_sent(connection, item, at)
            self._audit(connection, SYSTEM_ACTOR, "notified", item.reference, item.school,
                        f"{outbox.describe_destination(item)} attempt={item.attempts + 1}")

        self._transaction(work)

    def mark_failed(self, item: OutboxItem, error: str, retry_at: datetime) -> None:
        """The notification failed: count the attempt, keep it pending until `retry_at`, audit 'notify_failed'."""

        def work(connection: Connection) -> None:
            outbox.mark_failed(connection, item, error, retry_at)
            self._audit(connection, SYSTEM_ACTOR, "notify_failed", item.reference, item.school,
                        f"{outbox.describe_destination(item)} attempt={item.attempts + 1} error={error} "
                        f"retry_at={_utc(retry_at).isoformat(timespec='seconds')}")

        self._transaction(work)

    def outbox_counts(self, now: datetime | None = None) -> OutboxCounts:
        """Counts only: pending, due now, failing (pending with a failed attempt), sent."""
        now = _utc(now) if now else self._now()
        return self._transaction(lambda connection: outbox.counts(connection, now))


def _next_number(connection: Connection, school: str, year: int) -> int:
    """The next number for school+year, allocated inside the caller's transaction (rolled back with it)."""
    seq = concern_sequences.c
    bumped = connection.execute(concern_sequences.update().where(seq.school == school).where(seq.year == year)
                                .values(last_number=seq.last_number + 1))
    if bumped.rowcount == 0:
        # First concern of the year; a concurrent first insert loses with IntegrityError and is retried.
        connection.execute(concern_sequences.insert().values(school=school, year=year, last_number=1))
        return 1
    return int(connection.execute(select(seq.last_number).where(seq.school == school).where(seq.year == year))
               .scalar_one())


_SUMMARY_COLUMNS = (concerns.c.reference, concerns.c.school, concerns.c.urgency, concerns.c.category,
                    concerns.c.kind, concerns.c.role, concerns.c.channel, concerns.c.created_at, concerns.c.status,
                    concerns.c.acknowledged_by, concerns.c.acknowledged_at, concerns.c.closed_by,
                    concerns.c.closed_at)


def _summary(row: Any) -> ConcernSummary:
    return ConcernSummary(row.reference, row.school, row.urgency, row.category, row.kind, row.role, row.channel,
                          _utc(row.created_at), row.status, row.acknowledged_by, _maybe_utc(row.acknowledged_at),
                          row.closed_by, _maybe_utc(row.closed_at))


class _NotYours(Exception):
    """Inside a transaction: the concern is routed to other readers (turned into ConcernNotFound outside it)."""


def _find(connection: Connection, reference: str, school: str) -> Any:
    """The row for `reference` at `school`; another school's reference is not found (never leaked)."""
    row = connection.execute(select(concerns).where(concerns.c.reference == reference)
                             .where(concerns.c.school == school)).first()
    if row is None:
        raise ConcernNotFound(f"no concern {reference} at school '{school}'")
    return row


def _record(row: Any, history: Iterable[AuditEntry], chronology: Iterable[ConcernNote] = ()) -> ConcernRecord:
    return ConcernRecord(
        reference=row.reference, school=row.school, urgency=row.urgency, category=row.category, kind=row.kind,
        role=row.role, channel=row.channel, created_at=_utc(row.created_at), status=row.status, words=row.words,
        excerpt=tuple(json.loads(row.excerpt or "[]")), reporter_name=row.reporter_name,
        acknowledged_by=row.acknowledged_by, acknowledged_at=_maybe_utc(row.acknowledged_at),
        closed_by=row.closed_by, closed_at=_maybe_utc(row.closed_at), close_note=row.close_note,
        history=tuple(history), language=row.language, notes=tuple(chronology), outcome=row.outcome)

