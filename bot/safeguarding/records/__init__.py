"""Safeguarding concern records that are never lost: one committed transaction per hand-off, read only by the DSL.

- config.py  who may read each school's concerns and where its DSL is notified (config/safeguarding.yml)
- schema.py  the tables (SQLAlchemy Core)
- store.py   ConcernStore: record, list, show, acknowledge, close; one transaction each, retried on a lost race
- audit.py   the hash-chained audit of every read and change, and its check
- notes.py   the DSL's notes and actions on a concern, and the outcome vocabulary
- outbox.py  the notification outbox the notifier claims, marks sent or failed, and counts

Import from the package: the names below are its interface.
"""

from bot.safeguarding.records.audit import (AUDIT_ACTIONS, GENESIS_HASH, SYSTEM_ACTOR, AuditCheck, AuditEntry,
                                            audit_hash)
from bot.safeguarding.records.config import SafeguardingConfig, SchoolSafeguarding, default_config_path
from bot.safeguarding.records.notes import ACTIONS, MAX_NOTE_CHARS, ConcernNote
from bot.safeguarding.records.outbox import OUTBOX_CHANNELS, OutboxCounts, OutboxItem
from bot.safeguarding.records.schema import (concern_audit, concern_lock, concern_notes, concern_outbox,
                                             concern_sequences, concerns, metadata)
from bot.safeguarding.records.store import (KINDS, NOTIFICATION_OVERDUE_AFTER, RECORD_URGENCIES, STATUS_FILTERS, STATUSES, ConcernNotFound,
                                            ConcernRecord, ConcernStore, ConcernSummary, RecordResult,
                                            RecordStoreUnavailable, default_database_url)

__all__ = [
    "ACTIONS", "AUDIT_ACTIONS", "GENESIS_HASH", "KINDS", "MAX_NOTE_CHARS", "NOTIFICATION_OVERDUE_AFTER", "OUTBOX_CHANNELS", "RECORD_URGENCIES",
    "STATUS_FILTERS", "STATUSES", "SYSTEM_ACTOR", "audit_hash", "AuditCheck", "AuditEntry", "concern_audit",
    "concern_lock", "concern_notes", "concern_outbox", "concern_sequences", "ConcernNote", "ConcernNotFound",
    "ConcernRecord", "concerns", "ConcernStore", "ConcernSummary", "default_config_path", "default_database_url",
    "metadata", "OutboxCounts", "OutboxItem", "RecordResult", "RecordStoreUnavailable", "SafeguardingConfig",
    "SchoolSafeguarding",
]
