"""The hash-chained audit of every read and change of a concern: each row's hash covers its fields and the previous
row's hash, so an edited, inserted or deleted row breaks the chain (`verify`). A row names who did what to which
reference, never any of a record's content.

Every function works inside the caller's transaction (ConcernStore runs them, one writer at a time).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.safeguarding.records.schema import concern_audit, concerns

AUDIT_ACTIONS: tuple[str, ...] = ("created", "listed", "read", "acknowledged", "closed", "notified",
                                  "notify_failed", "exported", "denied", "noted", "action_recorded",
                                  # The web inbox's sign-ins: who reached the records, and who tried.
                                  "signed_in", "sign_in_failed", "locked_out", "signed_out")

#: The actor named in audit rows the assistant itself writes.
SYSTEM_ACTOR = "policybot"
#: prev_hash of the first audit row.
GENESIS_HASH = "0" * 64


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


def _canonical(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, reference: str | None,
               school: str | None, detail: str) -> str:
    """sha256 over prev_hash + canonical JSON of the row's fields: the link that makes edits detectable."""
    row = {"seq": seq, "at": at, "actor": actor, "action": action, "reference": reference, "school": school,
           "detail": detail}
    return hashlib.sha256((prev_hash + _canonical(row)).encode("utf-8")).hexdigest()


def append(connection: Connection, now: datetime, actor: str, action: str, reference: str | None,
           school: str | None, detail: str = "") -> AuditEntry:
    """Append one hash-chained audit row, stamped `now` (aware UTC)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; known: {', '.join(AUDIT_ACTIONS)}")
    last = connection.execute(select(concern_audit.c.seq, concern_audit.c.hash)
                              .order_by(concern_audit.c.seq.desc()).limit(1)).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS_HASH)
    at = now.isoformat(timespec="microseconds")
    digest = audit_hash(prev_hash, seq, at, actor, action, reference, school, detail)
    connection.execute(concern_audit.insert().values(seq=seq, at=at, actor=actor, action=action,
                                                     reference=reference, school=school, detail=detail,
                                                     prev_hash=prev_hash, hash=digest))
    return AuditEntry(seq, at, actor, action, reference, school, detail, prev_hash, digest)


def verify(connection: Connection) -> AuditCheck:
    """Re-hash the whole chain: an edited, inserted or deleted row breaks it; every concern needs its
    'created' row (catches a deleted tail that took concerns with it only partly)."""
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


def entries(connection: Connection) -> list[AuditEntry]:
    """Every audit row, in order."""
    query = select(concern_audit).order_by(concern_audit.c.seq)
    return [AuditEntry(**row._mapping) for row in connection.execute(query)]


def history(connection: Connection, reference: str) -> tuple[AuditEntry, ...]:
    """One concern's audit rows, in order."""
    rows = connection.execute(select(concern_audit).where(concern_audit.c.reference == reference)
                              .order_by(concern_audit.c.seq))
    return tuple(AuditEntry(**row._mapping) for row in rows)
