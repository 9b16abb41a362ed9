"""The action server's shared services, built on first use (never at import) and kept for the process."""

from __future__ import annotations

from functools import lru_cache

from bot.qa.answer import PolicyAssistant
from bot.qa.feedback import FeedbackStore
from bot.induction.service import InductionService
from bot.qa.retrieval import Retriever
from bot.safeguarding.desk import SafeguardingDesk
from bot.safeguarding.notify import OutboxDelivery, OutboxWorker
from bot.safeguarding.records import ConcernStore
from bot.schools import SchoolDirectory

HELPFUL_BUTTONS = [
    {"title": "👍 Yes, that helped", "payload": "/feedback_positive"},
    {"title": "👎 Not really", "payload": "/feedback_negative"},
]


@lru_cache(maxsize=1)
def schools() -> SchoolDirectory:
    return SchoolDirectory.load()


@lru_cache(maxsize=1)
def assistant() -> PolicyAssistant:
    return PolicyAssistant.learned(Retriever(schools()))


@lru_cache(maxsize=1)
def feedback() -> FeedbackStore:
    return FeedbackStore()


def known_school(value: object) -> str | None:
    """The slug if `value` names a school we know (slug or alias), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    directory = schools()
    if text in directory:
        return text
    for profile in directory:
        if text in profile.aliases or text == profile.name.lower() or text == profile.short_name.lower():
            return profile.slug
    return None


@lru_cache(maxsize=1)
def outbox_worker() -> OutboxWorker:
    """The background thread that emails / posts DSL notifications; started with the first hand-off."""
    worker = OutboxWorker(OutboxDelivery(concern_store()))
    worker.start()
    return worker


@lru_cache(maxsize=1)
def concern_store() -> ConcernStore:
    return ConcernStore()


@lru_cache(maxsize=1)
def desk() -> SafeguardingDesk:
    return SafeguardingDesk(concern_store(), schools(), outbox_worker())


@lru_cache(maxsize=1)
def induction() -> InductionService:
    """Induction steps, progress and completion records (POLICYBOT_INDUCTION_DATABASE_URL, default SQLite)."""
    return InductionService(schools=schools())
