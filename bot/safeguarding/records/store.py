"""Safeguarding concern records that are never lost: one committed transaction per hand-off, read only by the DSL.

`ConcernStore.record` writes the concern, its "created" audit row and one outbox row per DSL notification
destination in ONE transaction and commits before returning, so the bot only says "passed on" once the record is
durable. A retried message (same `message_id`) never makes a second record.

Every read and every change appends a row to `concern_audit`, a hash chain (`verify_audit` detects edits and
deletions). Nothing of a record's content (the person's words, the conversation excerpt, a name, a close note)
reaches logs, exception messages, audit details or `repr`.

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
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar
from urllib.parse import urlsplit

import yaml
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import settings, sqlstore
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
AUDIT_ACTIONS: tuple[str, ...] = ("created", "listed", "read", "acknowledged", "closed", "notified",
                                  "notify_failed", "exported", "denied")
OUTBOX_CHANNELS: tuple[str, ...] = ("email", "teams")

#: The actor named in audit rows the assistant itself writes.
SYSTEM_ACTOR = "policybot"
#: prev_hash of the first audit row.
GENESIS_HASH = "0" * 64

_URGENCY_RANK = {urgency: rank for rank, urgency in enumerate(RECORD_URGENCIES)}
_RETRIES = 8
_T = TypeVar("_T")

metadata = MetaData()

concerns = Table(
    "concerns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("school", String(64), nullable=False, index=True),
    Column("role", String(32), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("words", Text, nullable=False),
    Column("excerpt", Text, nullable=False),  # JSON list of the previous turns, oldest first
    Column("reporter_name", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("acknowledged_by", String(128), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(128), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("close_note", Text, nullable=True),
)

#: The last number handed out per school and year; the UPDATE row lock serialises allocators on PostgreSQL.
concern_sequences = Table(
    "concern_sequences",
    metadata,
    Column("school", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_number", Integer, nullable=False),
)

#: One row that every transaction locks first (SELECT ... FOR UPDATE): writers queue instead of racing for the
#: next audit seq on PostgreSQL. SQLite needs no row lock (BEGIN IMMEDIATE already serialises writers) and
#: SQLAlchemy renders FOR UPDATE as nothing there.
concern_lock = Table(
    "concern_lock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
)

concern_audit = Table(
    "concern_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # set explicitly: a gap means a deleted row
    Column("at", String(40), nullable=False),  # ISO 8601 UTC text, so the hashed value round-trips exactly
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("reference", String(32), nullable=True, index=True),
    Column("school", String(64), nullable=True),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

concern_outbox = Table(
    "concern_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(32), nullable=False, index=True),
    Column("school", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("destination", Text, nullable=False),  # an address, or a webhook URL (a secret: never logged)
    Column("status", String(16), nullable=False),  # pending | sent
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_error", String(128), nullable=True),  # exception class name only
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("reference", "channel", "destination", name="uq_outbox_destination"),
)


class RecordStoreUnavailable(RuntimeError):
    """The concern store cannot be reached or written (down, locked, disk full); the message never has content."""


class ConcernNotFound(LookupError):
    """No concern with that reference at that school (another school's reference is 'not found' too)."""

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0]) if self.args else ""


# ------------------------------------------------------------------------------------------------- config


def default_config_path() -> Path:
    """POLICYBOT_SAFEGUARDING_CONFIG, else config/safeguarding.yml in the project."""
    return Path(os.environ.get("POLICYBOT_SAFEGUARDING_CONFIG", settings.PROJECT_ROOT / "config" / "safeguarding.yml"))


@dataclass(frozen=True)
class SchoolSafeguarding:
    """One school's deployment settings: who may read its concerns and where the DSL is notified."""

    slug: str
    dsl_readers: tuple[str, ...] = ()
    notify_email: tuple[str, ...] = ()
    teams_webhook: str | None = field(default=None, repr=False)  # the URL carries a secret token

    def is_reader(self, actor: str) -> bool:
        """True when `actor` is one of the school's DSL reader accounts (case-insensitive)."""
        wanted = actor.strip().casefold()
        return bool(wanted) and any(wanted == reader.casefold() for reader in self.dsl_readers)

    def destinations(self) -> tuple[tuple[str, str], ...]:
        """(channel, destination) per notification: one per email address, plus the Teams webhook if set."""
        found = tuple(("email", address) for address in self.notify_email)
        return found + ((("teams", self.teams_webhook),) if self.teams_webhook else ())


@dataclass(frozen=True)
class SafeguardingConfig:
    """The per-school safeguarding settings from config/safeguarding.yml."""

    schools: Mapping[str, SchoolSafeguarding]

    def for_school(self, slug: str) -> SchoolSafeguarding:
        """The school's settings; a school the file leaves out has no readers and no destinations."""
        return self.schools.get(slug) or SchoolSafeguarding(slug)

    @classmethod
    def load(cls, path: Path | None = None, schools: SchoolDirectory | None = None) -> "SafeguardingConfig":
        """Read and check the file; a school it names must exist in `schools` (checked when given)."""
        path = path or default_config_path()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"safeguarding settings file not found: {path}") from None
        except yaml.YAMLError as problem:
            mark = getattr(problem, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ValueError(f"{path} is not valid YAML{where}: {getattr(problem, 'problem', problem)}") from None
        if not isinstance(data, Mapping) or not isinstance(data.get("schools"), Mapping):
            raise ValueError(f"{path} must contain a 'schools:' mapping of slug -> settings")
        parsed = {str(slug): _school_settings(str(slug), raw, path) for slug, raw in data["schools"].items()}
        if schools is not None:
            unknown = sorted(slug for slug in parsed if slug not in schools)
            if unknown:
                raise ValueError(f"{path} names unknown school(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(schools.slugs)}")
        return cls(parsed)


def _string_list(raw: Any, key: str, slug: str, path: Path) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) and item.strip() for item in items):
        raise ValueError(f"{path}: school '{slug}': {key} must be a list of non-empty strings")
    return tuple(item.strip() for item in items)


def _school_settings(slug: str, raw: Any, path: Path) -> SchoolSafeguarding:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: school '{slug}' must be a mapping of dsl_readers, notify_email, teams_webhook")
    unknown = sorted(set(raw) - {"dsl_readers", "notify_email", "teams_webhook"})
    if unknown:
        raise ValueError(f"{path}: school '{slug}' has unknown setting(s) {', '.join(map(str, unknown))}; "
                         "known: dsl_readers, notify_email, teams_webhook")
    emails = _string_list(raw.get("notify_email"), "notify_email", slug, path)
    for address in emails:
        if address.count("@") != 1 or any(c.isspace() for c in address):
            raise ValueError(f"{path}: school '{slug}': notify_email {address!r} is not an email address")
    webhook = raw.get("teams_webhook")
    if webhook is not None:
        # The URL is a secret, so the error names the problem, not the value.
        if not isinstance(webhook, str) or urlsplit(webhook).scheme not in ("http", "https") \
                or not urlsplit(webhook).netloc:
            raise ValueError(f"{path}: school '{slug}': teams_webhook must be null or an http(s) URL")
    return SchoolSafeguarding(slug, _string_list(raw.get("dsl_readers"), "dsl_readers", slug, path), emails,
                              webhook or None)


# ------------------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class RecordResult:
    """The outcome of `record`: the reference, and False when the message had been recorded before."""

    reference: str
    created: bool


@dataclass(frozen=True)
class AuditEntry:
    """One audit row (never holds disclosure text)."""

    seq: int
    at: str
    actor: str
    action: str
    reference: str | None
    school: str | None
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditCheck:
    """The result of `verify_audit`: ok, the rows checked, the first bad seq (None if ok or no row to blame)."""

    ok: bool
    rows: int
    first_bad_seq: int | None
    problem: str | None = None
    head_hash: str = GENESIS_HASH


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

    def __repr__(self) -> str:
        return (f"ConcernRecord(reference={self.reference!r}, school={self.school!r}, urgency={self.urgency!r}, "
                f"category={self.category!r}, kind={self.kind!r}, status={self.status!r}, "
                f"words=<hidden {len(self.words)} chars>, excerpt=<hidden {len(self.excerpt)} turns>, "
                f"reporter_name={'<hidden>' if self.reporter_name else None}, "
                f"close_note={'<hidden>' if self.close_note else None})")

    __str__ = __repr__


@dataclass(frozen=True)
class OutboxItem:
    """One notification claimed for delivery; the destination (maybe a webhook secret) stays out of `repr`."""

    id: int
    reference: str
    school: str
    channel: str
    destination: str = field(repr=False)
    attempts: int
    urgency: str
    concern_created_at: datetime


@dataclass(frozen=True)
class OutboxCounts:
    """How many notifications are pending (of which due now and failing) and sent: counts only."""

    pending: int
    due: int
    failing: int
    sent: int


# ------------------------------------------------------------------------------------------------- store


def default_database_url() -> str:
    """POLICYBOT_CONCERNS_DATABASE_URL, else artifacts/concerns.db (apart from the feedback database)."""
    return os.environ.get("POLICYBOT_CONCERNS_DATABASE_URL") or f"sqlite:///{settings.artifacts_dir() / 'concerns.db'}"


def _utc(value: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive datetimes, which this store always wrote as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _canonical(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, reference: str | None,
               school: str | None, detail: str) -> str:
    """sha256 over prev_hash + canonical JSON of the row's fields: the link that makes edits detectable."""
    row = {"seq": seq, "at": at, "actor": actor, "action": action, "reference": reference, "school": school,
           "detail": detail}
    return hashlib.sha256((prev_hash + _canonical(row)).encode("utf-8")).hexdigest()


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
        """The SQLAlchemy engine (for checks and tests; the tables are module-level in this file)."""
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
        """Append one hash-chained audit row inside the caller's transaction."""
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"unknown audit action {action!r}; known: {', '.join(AUDIT_ACTIONS)}")
        last = connection.execute(select(concern_audit.c.seq, concern_audit.c.hash)
                                  .order_by(concern_audit.c.seq.desc()).limit(1)).first()
        seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS_HASH)
        at = self._now().isoformat(timespec="microseconds")
        digest = audit_hash(prev_hash, seq, at, actor, action, reference, school, detail)
        connection.execute(concern_audit.insert().values(seq=seq, at=at, actor=actor, action=action,
                                                         reference=reference, school=school, detail=detail,
                                                         prev_hash=prev_hash, hash=digest))
        return AuditEntry(seq, at, actor, action, reference, school, detail, prev_hash, digest)

    def _reader(self, school: str, actor: str) -> str:
        """Check the school and the reader (exact early errors); returns the actor as given, trimmed."""
        self.schools.get(school)  # ValueError listing the known slugs
        if not self.config.for_school(school).is_reader(actor):
            # A refused attempt is part of the record too: the DSL can see who tried to read what.
            try:
                self._transaction(lambda connection: self._audit(connection, str(actor)[:128], "denied", None,
                                                                 school, "not a DSL reader for this school"))
            except RecordStoreUnavailable:
                pass  # the refusal stands either way
            raise PermissionError(f"{actor!r} is not a DSL reader for school {school!r}")
        return actor.strip()

    # -- writing a concern

    def record(self, *, message_id: str, school: str, role: str, channel: str, urgency: str, category: str,
               kind: str, words: str, excerpt: Sequence[str] | str = (),
               reporter_name: str | None = None) -> RecordResult:
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
        turns = (excerpt,) if isinstance(excerpt, str) else tuple(str(turn) for turn in excerpt)
        # Bounded columns are fitted here, so PostgreSQL never rejects (and so loses) a disclosure over a length.
        key = message_id if len(message_id) <= 255 else "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
        role, channel = (role or "any")[:32], (channel or "unknown")[:64]
        destinations = self.config.for_school(school).destinations()

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
                created_at=now, status="new"))
            self._audit(connection, SYSTEM_ACTOR, "created", reference, school,
                        f"kind={kind} urgency={urgency} category={category} role={role} channel={channel} "
                        f"notifications={len(destinations)}")
            for channel_name, destination in destinations:
                connection.execute(concern_outbox.insert().values(
                    reference=reference, school=school, channel=channel_name, destination=destination,
                    status="pending", attempts=0, next_attempt_at=now, created_at=now))
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

    def list_concerns(self, school: str, actor: str, status: str = "open") -> list[ConcernSummary]:
        """The school's concerns, most urgent first, newest first within an urgency; audited as 'listed'."""
        actor = self._reader(school, actor)
        if status not in STATUS_FILTERS:
            raise ValueError(f"unknown status {status!r}; known: {', '.join(STATUS_FILTERS)}")
        query = select(*_SUMMARY_COLUMNS).where(concerns.c.school == school)
        if status == "open":
            query = query.where(concerns.c.status.in_(("new", "acknowledged")))
        elif status != "all":
            query = query.where(concerns.c.status == status)

        def work(connection: Connection) -> list[ConcernSummary]:
            rows = [_summary(row) for row in connection.execute(query)]
            self._audit(connection, actor, "listed", None, school, f"status={status} count={len(rows)}")
            return rows

        found = self._transaction(work)
        return sorted(found, key=lambda c: (_URGENCY_RANK.get(c.urgency, 99), -c.created_at.timestamp(),
                                            c.reference))

    def show(self, reference: str, school: str, actor: str, export: bool = False) -> ConcernRecord:
        """The whole concern with its history; audited as 'read' (or 'exported' for machine-readable output)."""
        actor = self._reader(school, actor)
        reference = reference.strip().upper()

        def work(connection: Connection) -> ConcernRecord:
            row = _find(connection, reference, school)
            self._audit(connection, actor, "exported" if export else "read", reference, school)
            return _record(row, _history(connection, reference))

        return self._transaction(work)

    def acknowledge(self, reference: str, school: str, actor: str) -> ConcernSummary:
        """new -> acknowledged: the DSL has picked it up; audited."""
        return self._change(reference, school, actor, "acknowledged")

    def close(self, reference: str, school: str, actor: str, note: str | None = None) -> ConcernSummary:
        """acknowledged -> closed, with an optional note kept on the record (never in the audit); audited."""
        return self._change(reference, school, actor, "closed", note)

    def _change(self, reference: str, school: str, actor: str, target: str, note: str | None = None) -> ConcernSummary:
        actor = self._reader(school, actor)
        reference = reference.strip().upper()
        required, verb, article = (("new", "acknowledge", "a") if target == "acknowledged"
                                   else ("acknowledged", "close", "an"))

        def work(connection: Connection) -> ConcernSummary:
            current = _find(connection, reference, school).status
            if current != required:
                hint = "; acknowledge it first" if current == "new" else ""
                raise ValueError(f"cannot {verb} {reference}: its status is '{current}' and only {article} "
                                 f"'{required}' concern can be {target}{hint}")
            now = self._now()
            values: dict[str, Any] = ({"status": target, "acknowledged_by": actor, "acknowledged_at": now}
                                      if target == "acknowledged" else
                                      {"status": target, "closed_by": actor, "closed_at": now,
                                       "close_note": note or None})
            # The status condition makes a concurrent change lose cleanly instead of skipping a step.
            updated = connection.execute(concerns.update()
                                         .where(concerns.c.reference == reference)
                                         .where(concerns.c.status == required).values(**values))
            if updated.rowcount != 1:
                raise ValueError(f"cannot {verb} {reference}: its status changed meanwhile; look at it again")
            detail = f"from={required}" + (" note=yes" if note else "")
            self._audit(connection, actor, target, reference, school, detail)
            return _summary(_find(connection, reference, school))

        return self._transaction(work)

    # -- audit

    def verify_audit(self) -> AuditCheck:
        """Re-hash the whole chain: an edited, inserted or deleted row breaks it; every concern needs its
        'created' row (catches a deleted tail that took concerns with it only partly)."""

        def work(connection: Connection) -> AuditCheck:
            prev, expected, rows = GENESIS_HASH, 1, 0
            for row in connection.execute(select(concern_audit).order_by(concern_audit.c.seq)):
                rows += 1
                if row.seq != expected:
                    return AuditCheck(False, rows, row.seq, f"row {expected} is missing (next row is {row.seq})", prev)
                if row.prev_hash != prev:
                    return AuditCheck(False, rows, row.seq, f"row {row.seq} does not follow row {row.seq - 1}", prev)
                digest = audit_hash(row.prev_hash, row.seq, row.at, row.actor, row.action, row.reference,
                                    row.school, row.detail)
                if digest != row.hash:
                    return AuditCheck(False, rows, row.seq, f"row {row.seq} was changed after it was written", prev)
                prev, expected = row.hash, expected + 1
            created = set(connection.execute(select(concern_audit.c.reference)
                                             .where(concern_audit.c.action == "created")).scalars())
            for reference in connection.execute(select(concerns.c.reference).order_by(concerns.c.id)).scalars():
                if reference not in created:
                    return AuditCheck(False, rows, None, f"concern {reference} has no 'created' audit row", prev)
            return AuditCheck(True, rows, None, None, prev)

        return self._transaction(work)

    def audit_entries(self) -> list[AuditEntry]:
        """Every audit row, in order (for checks and tests; the rows hold no disclosure text)."""
        query = select(concern_audit).order_by(concern_audit.c.seq)
        return self._transaction(lambda connection: [AuditEntry(**row._mapping) for row in connection.execute(query)])

    # -- outbox (used by bot.safeguarding.notify)

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 50) -> list[OutboxItem]:
        """Pending notifications due by `now`, each leased until now+lease so a second deliverer skips it."""
        now = _utc(now)
        query = (select(concern_outbox.c.id, concern_outbox.c.reference, concern_outbox.c.school,
                        concern_outbox.c.channel, concern_outbox.c.destination, concern_outbox.c.attempts,
                        concerns.c.urgency, concerns.c.created_at)
                 .join(concerns, concerns.c.reference == concern_outbox.c.reference)
                 .where(concern_outbox.c.status == "pending")
                 .where(concern_outbox.c.next_attempt_at <= now)
                 .order_by(concern_outbox.c.next_attempt_at, concern_outbox.c.id).limit(limit))

        def work(connection: Connection) -> list[OutboxItem]:
            claimed = []
            for row in connection.execute(query).all():
                taken = connection.execute(concern_outbox.update()
                                           .where(concern_outbox.c.id == row.id)
                                           .where(concern_outbox.c.status == "pending")
                                           .where(concern_outbox.c.next_attempt_at <= now)
                                           .values(next_attempt_at=now + lease))
                if taken.rowcount == 1:
                    claimed.append(OutboxItem(row.id, row.reference, row.school, row.channel, row.destination,
                                              row.attempts, row.urgency, _utc(row.created_at)))
            return claimed

        return self._transaction(work)

    def mark_sent(self, item: OutboxItem, at: datetime) -> None:
        """The notification went out: mark it sent and audit 'notified'."""

        def work(connection: Connection) -> None:
            connection.execute(concern_outbox.update().where(concern_outbox.c.id == item.id)
                               .values(status="sent", sent_at=_utc(at), attempts=item.attempts + 1, last_error=None))
            self._audit(connection, SYSTEM_ACTOR, "notified", item.reference, item.school,
                        f"{_describe_destination(item)} attempt={item.attempts + 1}")

        self._transaction(work)

    def mark_failed(self, item: OutboxItem, error: str, retry_at: datetime) -> None:
        """The notification failed: count the attempt, keep it pending until `retry_at`, audit 'notify_failed'."""

        def work(connection: Connection) -> None:
            connection.execute(concern_outbox.update().where(concern_outbox.c.id == item.id)
                               .values(attempts=item.attempts + 1, next_attempt_at=_utc(retry_at), last_error=error))
            self._audit(connection, SYSTEM_ACTOR, "notify_failed", item.reference, item.school,
                        f"{_describe_destination(item)} attempt={item.attempts + 1} error={error} "
                        f"retry_at={_utc(retry_at).isoformat(timespec='seconds')}")

        self._transaction(work)

    def outbox_counts(self, now: datetime | None = None) -> OutboxCounts:
        """Counts only: pending, due now, failing (pending with a failed attempt), sent."""
        now = _utc(now) if now else self._now()
        box = concern_outbox.c

        def count(connection: Connection, *conditions: Any) -> int:
            return int(connection.execute(select(func.count()).select_from(concern_outbox).where(*conditions))
                       .scalar_one())

        return self._transaction(lambda connection: OutboxCounts(
            pending=count(connection, box.status == "pending"),
            due=count(connection, box.status == "pending", box.next_attempt_at <= now),
            failing=count(connection, box.status == "pending", box.attempts > 0),
            sent=count(connection, box.status == "sent")))


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


def _find(connection: Connection, reference: str, school: str) -> Any:
    """The row for `reference` at `school`; another school's reference is not found (never leaked)."""
    row = connection.execute(select(concerns).where(concerns.c.reference == reference)
                             .where(concerns.c.school == school)).first()
    if row is None:
        raise ConcernNotFound(f"no concern {reference} at school '{school}'")
    return row


def _history(connection: Connection, reference: str) -> tuple[AuditEntry, ...]:
    rows = connection.execute(select(concern_audit).where(concern_audit.c.reference == reference)
                              .order_by(concern_audit.c.seq))
    return tuple(AuditEntry(**row._mapping) for row in rows)


def _record(row: Any, history: Iterable[AuditEntry]) -> ConcernRecord:
    return ConcernRecord(
        reference=row.reference, school=row.school, urgency=row.urgency, category=row.category, kind=row.kind,
        role=row.role, channel=row.channel, created_at=_utc(row.created_at), status=row.status, words=row.words,
        excerpt=tuple(json.loads(row.excerpt or "[]")), reporter_name=row.reporter_name,
        acknowledged_by=row.acknowledged_by, acknowledged_at=_maybe_utc(row.acknowledged_at),
        closed_by=row.closed_by, closed_at=_maybe_utc(row.closed_at), close_note=row.close_note,
        history=tuple(history))


def _describe_destination(item: OutboxItem) -> str:
    """For audit details: an email address is named; a webhook URL is a secret, so only 'teams webhook'."""
    return f"email to {item.destination}" if item.channel == "email" else "teams webhook"
