"""The safeguarding desk: record a handed-off message durably, then (and only then) compose the reply saying so.

Rasa actions call this; it holds the one ordering rule that matters most: `record` must have committed before any
reply claims the message was passed on. If the store is unavailable the person still gets the safe reply
(trusted adult, Childline, 999) and nothing claims it was recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, Sequence

from bot.safeguarding.handoff import Handoff, compose_handoff
from bot.safeguarding.records import ConcernStore, RecordResult, RecordStoreUnavailable
from bot.safeguarding.types import ScreenResult
from bot.schools import SchoolDirectory

logger = logging.getLogger(__name__)


class Notifier(Protocol):
    """Anything that can be told 'a new outbox entry is waiting' (the outbox worker)."""

    def kick(self) -> None: ...


@dataclass(frozen=True)
class HandoffOutcome:
    """The reply to send, and what was stored (reference None when the store was unavailable)."""

    handoff: Handoff
    reference: str | None
    created: bool


@dataclass(frozen=True)
class Disclosure:
    """One message to hand off, as the conversation layer saw it. `words` is the person's own text, verbatim."""

    message_id: str
    school: str
    role: str | None
    channel: str
    result: ScreenResult
    words: str
    excerpt: Sequence[str] = ()
    kind: str = "disclosure"  # disclosure | concern | report
    reporter_name: str | None = None
    #: ISO 639-1 code of the message's language ("en" when English).
    language: str = "en"


class SafeguardingDesk:
    """Records disclosures and concerns, nudges the notifier, and composes the hand-off reply."""

    def __init__(self, store: ConcernStore, schools: SchoolDirectory, notifier: Notifier | None = None) -> None:
        self.store = store
        self.schools = schools
        self.notifier = notifier

    def hand_off(self, disclosure: Disclosure) -> HandoffOutcome:
        """Commit the record (idempotent on message_id), then compose the reply that gives its reference."""
        profile = self.schools.get(disclosure.school)
        result = disclosure.result
        record: RecordResult | None = None
        try:
            record = self.store.record(
                message_id=disclosure.message_id, school=profile.slug, role=disclosure.role or "any",
                channel=disclosure.channel, urgency=result.route_urgency if result.hand_off else "standard",
                category=result.category, kind=disclosure.kind, words=disclosure.words,
                excerpt=tuple(disclosure.excerpt), reporter_name=disclosure.reporter_name,
                language=disclosure.language)
        except RecordStoreUnavailable:
            # Only the fact is logged: never the words, never who.
            logger.error("concern store unavailable; the safe reply was sent without a reference (school %s)",
                         profile.slug)
        if record is not None and self.notifier is not None:
            try:
                self.notifier.kick()
            except Exception as error:  # noqa: BLE001 - the record is safe; the worker retries on its own schedule
                logger.warning("could not wake the outbox worker (%s); it will deliver on its next pass",
                               type(error).__name__)
        screen = result if result.hand_off else ScreenResult("disclosure", "standard", result.category, 1.0)
        routes = self.store.config.for_school(profile.slug).routes_allegations
        reply = compose_handoff(profile, disclosure.role, screen, record.reference if record else None,
                                recorded=record is not None, allegation_route=routes)
        return HandoffOutcome(handoff=reply, reference=record.reference if record else None,
                              created=bool(record and record.created))
