"""The concern store's tables (SQLAlchemy Core, one `metadata`), and how their datetimes come back."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint

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
    # The language the message was written in (ISO 639-1) when it was not English, so the DSL can arrange an
    # interpreter; added after the first release, hence nullable (English and older records have none).
    Column("language", String(16), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("acknowledged_by", String(128), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(128), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("close_note", Text, nullable=True),
    # What the DSL decided when closing (records/notes.py OUTCOMES); added with the web inbox, hence nullable.
    Column("outcome", String(32), nullable=True),
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

#: The DSL's working record of a concern: notes and actions taken (referred, reported, ...), in order. The text is
#: record content (it may name people), so, like the words, it never reaches the audit, a log or a URL.
concern_notes = Table(
    "concern_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(32), nullable=False, index=True),
    Column("school", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("step", String(32), nullable=True),  # an ACTIONS code, or None for a plain note
    Column("text", Text, nullable=False),
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


def _utc(value: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive datetimes, which this store always wrote as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)
