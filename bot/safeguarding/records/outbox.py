"""The notification outbox: one row per DSL destination, queued in the same transaction as the concern, then claimed,
marked sent or failed (with a retry time) by bot.safeguarding.notify through ConcernStore.

A destination may be a Teams webhook URL with a secret token in it, so it never reaches a repr, a log or an audit
row. Every function works inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.safeguarding.records.schema import _utc, concern_outbox, concerns

OUTBOX_CHANNELS: tuple[str, ...] = ("email", "teams")


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


def queue(connection: Connection, reference: str, school: str, destinations: Iterable[tuple[str, str]],
          now: datetime) -> None:
    """One pending notification per (channel, destination), due at once."""
    for channel, destination in destinations:
        connection.execute(concern_outbox.insert().values(
            reference=reference, school=school, channel=channel, destination=destination,
            status="pending", attempts=0, next_attempt_at=now, created_at=now))


def claim_due(connection: Connection, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
    """Pending notifications due by `now`, each leased until now+lease so a second deliverer skips it."""
    now = _utc(now)
    query = (select(concern_outbox.c.id, concern_outbox.c.reference, concern_outbox.c.school,
                    concern_outbox.c.channel, concern_outbox.c.destination, concern_outbox.c.attempts,
                    concerns.c.urgency, concerns.c.created_at)
             .join(concerns, concerns.c.reference == concern_outbox.c.reference)
             .where(concern_outbox.c.status == "pending")
             .where(concern_outbox.c.next_attempt_at <= now)
             .order_by(concern_outbox.c.next_attempt_at, concern_outbox.c.id).limit(limit))
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


def mark_sent(connection: Connection, item: OutboxItem, at: datetime) -> None:
    """The notification went out: sent, with the attempt counted."""
    connection.execute(concern_outbox.update().where(concern_outbox.c.id == item.id)
                       .values(status="sent", sent_at=_utc(at), attempts=item.attempts + 1, last_error=None))


def mark_failed(connection: Connection, item: OutboxItem, error: str, retry_at: datetime) -> None:
    """The notification failed: the attempt counted, still pending until `retry_at`; `error` is a class name."""
    connection.execute(concern_outbox.update().where(concern_outbox.c.id == item.id)
                       .values(attempts=item.attempts + 1, next_attempt_at=_utc(retry_at), last_error=error))


def counts(connection: Connection, now: datetime) -> OutboxCounts:
    """Counts only: pending, due by `now`, failing (pending with a failed attempt), sent."""
    box = concern_outbox.c

    def count(*conditions: Any) -> int:
        return int(connection.execute(select(func.count()).select_from(concern_outbox).where(*conditions))
                   .scalar_one())

    return OutboxCounts(pending=count(box.status == "pending"),
                        due=count(box.status == "pending", box.next_attempt_at <= now),
                        failing=count(box.status == "pending", box.attempts > 0),
                        sent=count(box.status == "sent"))


def describe_destination(item: OutboxItem) -> str:
    """For audit details: an email address is named; a webhook URL is a secret, so only 'teams webhook'."""
    return f"email to {item.destination}" if item.channel == "email" else "teams webhook"
