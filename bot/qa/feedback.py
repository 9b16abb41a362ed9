"""What the policy could not answer, and what people said did not help: kept per school, question text only.

The policy owner reads it with `policybot report unanswered --school SLUG` to see gaps in the policy. No sender
ids, names or channel details are stored: only the school, the question as asked, and the outcome.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot import settings
from bot.sqlstore import create_schema, open_engine, secure_delete, truncate_wal

logger = logging.getLogger(__name__)

metadata = MetaData()
#: Seconds a write waits for another writer before failing (the answer is still sent: see note_question).
LOCK_TIMEOUT_S = 5.0

questions = Table(
    "policy_questions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("school", String(64), nullable=False, index=True),
    Column("question", Text, nullable=False),
    Column("abstained", Boolean, nullable=False),
    Column("helpful", Boolean, nullable=True),  # None until the person presses a feedback button
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def default_database_url() -> str:
    """POLICYBOT_DATABASE_URL, else a SQLite file under artifacts/ (embedded default)."""
    url = os.environ.get("POLICYBOT_DATABASE_URL")
    if url:
        return url
    path = settings.artifacts_dir() / "policybot.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class Gap:
    """One question the policy did not answer well: abstained, or marked unhelpful."""

    question: str
    reason: str  # "not covered" | "not helpful"
    asked_at: datetime


class FeedbackStore:
    """Records policy questions and their feedback; lists the gaps for a school."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_database_url()
        # Pupils' questions are kept here, so like the concern store: errors never quote them (hidden SQL
        # parameters), the SQLite file is 0600, and WAL lets the action server write while the report reads.
        self._engine = open_engine(self.url, lock_timeout_s=LOCK_TIMEOUT_S, what="feedback database",
                                   env_var="POLICYBOT_DATABASE_URL")
        create_schema(self._engine, metadata)

    def record_question(self, school: str, question: str, abstained: bool) -> int:
        """Store an answered (or abstained) question; returns its id for later feedback."""
        with self._engine.begin() as connection:
            result = connection.execute(questions.insert().values(
                school=school, question=question, abstained=abstained, helpful=None,
                created_at=datetime.now(timezone.utc)))
            return int(result.inserted_primary_key[0])

    def note_question(self, school: str, question: str, abstained: bool) -> int | None:
        """record_question for the answer actions: a database that is down or locked costs the gaps report one
        question, never the person their answer. None when it could not be stored."""
        try:
            return self.record_question(school, question, abstained)
        except SQLAlchemyError as problem:
            logger.warning("feedback database: a question was not stored (%s)", type(problem).__name__)
            return None

    def record_feedback(self, question_id: int, helpful: bool) -> bool:
        """Mark a stored question helpful or not; False if the id is unknown."""
        with self._engine.begin() as connection:
            result = connection.execute(
                questions.update().where(questions.c.id == question_id).values(helpful=helpful))
            return result.rowcount == 1

    def gaps(self, school: str) -> list[Gap]:
        """Abstained and thumbs-down questions for one school, oldest first."""
        query = (select(questions.c.question, questions.c.abstained, questions.c.helpful, questions.c.created_at)
                 .where(questions.c.school == school)
                 .where((questions.c.abstained.is_(True)) | (questions.c.helpful.is_(False)))
                 .order_by(questions.c.id))
        with self._engine.connect() as connection:
            return [Gap(row.question, "not covered" if row.abstained else "not helpful", row.created_at)
                    for row in connection.execute(query)]

    def forget_before(self, cutoff: datetime, dry_run: bool = False) -> int:
        """Delete the questions asked before `cutoff` (storage limitation: `policybot retention`); with `dry_run`
        only count them. Returns how many. The deleted words are overwritten in the file, not just unlinked."""
        old = questions.c.created_at < cutoff
        with self._engine.begin() as connection:
            if dry_run:
                return int(connection.execute(select(func.count()).select_from(questions).where(old)).scalar_one())
            secure_delete(connection)
            deleted = connection.execute(questions.delete().where(old)).rowcount
        truncate_wal(self._engine)
        return int(deleted)
