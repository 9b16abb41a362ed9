"""Storage limitation (UK GDPR): delete what the assistant keeps about people once it is older than its limit.

Four kinds, each with its own limit in days (bot/settings.py `retention_days`, POLICYBOT_RETAIN_<KIND>_DAYS):

- conversations: Rasa's SQL tracker store (endpoints.yml `tracker_store`). A conversation whose last event is
  older than the limit goes whole; in a conversation still in use, the old events before its latest session start
  go too (Rasa loads only the latest session, so nothing it reads is lost, and a Teams user's long-lived
  conversation does not keep their words forever);
- questions: the feedback store's policy questions (bot/qa/feedback.py);
- logs: files under logs/, by modification time;
- mail: notifications the local mail catcher saved under artifacts/mail/, by modification time.

Concern records are the school's safeguarding records: nothing here opens the concern store, and its database
files are refused even if they sit in a folder that is swept. Results are counts only, never content. On SQLite
the deleted rows are overwritten, not just unlinked (bot/sqlstore.py `secure_delete`).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Engine

from bot import settings
from bot.core.yamlfile import read_yaml
from bot.sqlstore import parse_url, secure_delete, sqlite_file, truncate_wal

KINDS: tuple[str, ...] = tuple(settings.RETENTION_DEFAULT_DAYS)
#: Seconds a delete waits for Rasa or the action server to finish writing before it gives up (it runs again
#: tomorrow).
LOCK_TIMEOUT_S = 30.0
#: A SQLite database's companion files, which hold its pages too.
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class RetentionLimits:
    """Days each kind is kept; something is due once it is older than that (strictly)."""

    conversations: int = settings.RETENTION_DEFAULT_DAYS["conversations"]
    questions: int = settings.RETENTION_DEFAULT_DAYS["questions"]
    logs: int = settings.RETENTION_DEFAULT_DAYS["logs"]
    mail: int = settings.RETENTION_DEFAULT_DAYS["mail"]

    def __post_init__(self) -> None:
        for kind in KINDS:
            days = getattr(self, kind)
            if isinstance(days, bool) or not isinstance(days, int) or days < 1:
                raise ValueError(f"the {kind} retention limit must be a whole number of days, at least 1")

    @classmethod
    def from_settings(cls) -> "RetentionLimits":
        return cls(**{kind: settings.retention_days(kind) for kind in KINDS})

    def cutoff(self, kind: str, now: datetime) -> datetime:
        return now - timedelta(days=getattr(self, kind))


@dataclass(frozen=True)
class RetentionTargets:
    """Where each kind is kept. `tracker_url` None: the tracker store keeps nothing on disk (Rasa's in-memory one)."""

    tracker_url: URL | None
    feedback_url: URL
    logs_dir: Path
    mail_dir: Path
    #: Files never deleted whatever folder they are in: the concern store's database.
    protected: frozenset[Path] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, endpoints: Path | None = None) -> "RetentionTargets":
        """The project's own places: endpoints.yml's tracker store, POLICYBOT_DATABASE_URL, logs/, artifacts/mail/."""
        from bot.qa.feedback import default_database_url as feedback_url
        from bot.safeguarding.records import default_database_url as concerns_url

        endpoints = endpoints or settings.PROJECT_ROOT / "endpoints.yml"
        return cls(tracker_url=tracker_store_url(endpoints),
                   feedback_url=parse_url(feedback_url(), what="feedback database", env_var="POLICYBOT_DATABASE_URL"),
                   logs_dir=settings.logs_dir(), mail_dir=settings.mail_dir(),
                   protected=database_files(concerns_url()))


@dataclass(frozen=True)
class Swept:
    """What one kind's sweep deleted (or with a dry run, would delete): counts only."""

    kind: str
    days: int
    count: int
    #: Conversations only: the events deleted, from whole conversations and from old sessions of live ones.
    events: int = 0

    def line(self, dry_run: bool) -> str:
        verb = "would be deleted" if dry_run else "deleted"
        if self.kind == "conversations":
            what = f"{self.events} event(s) {verb}, {self.count} whole conversation(s) among them"
        else:
            noun = {"questions": "question(s)", "logs": "log file(s)", "mail": "caught mail(s)"}[self.kind]
            what = f"{self.count} {noun} {verb}"
        return f"{self.kind}: {what} (older than {self.days} days)"


def database_files(url: str) -> frozenset[Path]:
    """A SQLite URL's database file and its companions (resolved); none for other databases."""
    path = sqlite_file(parse_url(url, what="concerns database", env_var="POLICYBOT_CONCERNS_DATABASE_URL"))
    if path is None:
        return frozenset()
    path = path.resolve()
    return frozenset(path.with_name(path.name + suffix) for suffix in _SQLITE_COMPANIONS)


def tracker_store_url(endpoints: Path, root: Path | None = None) -> URL | None:
    """The SQLAlchemy URL of the SQL tracker store `endpoints` configures (a relative SQLite path is relative to
    `root`, where Rasa is started: the repository); None when it configures none (conversations in memory)."""
    config = read_yaml(endpoints, "endpoints file") or {}
    store = config.get("tracker_store") if isinstance(config, dict) else None
    if not isinstance(store, dict):
        return None
    kind = str(store.get("type", ""))
    if kind.lower() != "sql" and not kind.endswith("SQLTrackerStore"):
        raise ValueError(f"{endpoints}: tracker_store type {kind!r} is not a SQL tracker store; policybot retention "
                         f"deletes conversations from SQL tracker stores only")
    values: dict[str, Any] = {key: os.path.expandvars(str(value)) for key, value in store.items() if value is not None}
    dialect = values.get("dialect", "sqlite")
    database = values.get("db", "rasa.db")  # Rasa's own default
    if dialect == "sqlite":
        path = Path(database)
        if not path.is_absolute():
            path = (root or settings.PROJECT_ROOT) / path
        return URL.create("sqlite", database=str(path))
    # Rasa reads the host from `url` (as in config/endpoints-cluster.yml); `host` is accepted too.
    return URL.create(dialect, username=values.get("username"), password=values.get("password"),
                      host=values.get("url") or values.get("host"),
                      port=int(values["port"]) if values.get("port") else None, database=database)


def _open(url: URL) -> Engine | None:
    """An engine for an existing database (None for a SQLite file that is not there: nothing kept, nothing made)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return None
    connect_args = {"timeout": LOCK_TIMEOUT_S} if path is not None else {}
    # hide_parameters: an error never quotes a row.
    return create_engine(url, future=True, hide_parameters=True, connect_args=connect_args)


def sweep_conversations(url: URL | None, cutoff: datetime, dry_run: bool = False) -> tuple[int, int]:
    """(whole conversations, events) deleted from Rasa's `events` table; see the module docstring for the rule."""
    engine = _open(url) if url is not None else None
    if engine is None:
        return 0, 0
    try:
        if not inspect(engine).has_table("events"):
            return 0, 0
        stale = "SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"
        due = (f"timestamp < :cutoff AND (sender_id IN ({stale}) OR timestamp < (SELECT MAX(s.timestamp) FROM "
               f"events AS s WHERE s.sender_id = events.sender_id AND s.type_name = 'session_started'))")
        bound = {"cutoff": cutoff.timestamp()}
        with engine.begin() as connection:
            whole = connection.execute(text(f"SELECT COUNT(*) FROM ({stale}) AS stale"), bound).scalar_one()
            if dry_run:
                events = connection.execute(text(f"SELECT COUNT(*) FROM events WHERE {due}"), bound).scalar_one()
            else:
                secure_delete(connection)
                events = connection.execute(text(f"DELETE FROM events WHERE {due}"), bound).rowcount
        if not dry_run:
            truncate_wal(engine)
        return int(whole), int(events)
    finally:
        engine.dispose()


def sweep_questions(url: URL, cutoff: datetime, dry_run: bool = False) -> int:
    """Feedback questions asked before `cutoff` (none when the feedback database does not exist yet)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return 0
    from bot.qa.feedback import FeedbackStore

    return FeedbackStore(url.render_as_string(hide_password=False)).forget_before(cutoff, dry_run)


def sweep_files(directory: Path, cutoff: datetime, dry_run: bool = False,
                protected: frozenset[Path] = frozenset()) -> int:
    """Regular files under `directory` last modified before `cutoff`. Symbolic links are neither followed nor
    deleted (one could point anywhere), and `protected` files never go."""
    if not directory.is_dir():
        return 0
    limit = cutoff.timestamp()
    count = 0
    for folder, _dirs, names in os.walk(directory, followlinks=False):
        for name in sorted(names):
            path = Path(folder) / name
            try:
                info = path.lstat()
            except FileNotFoundError:  # gone since the listing
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_mtime >= limit or path.resolve() in protected:
                continue
            count += 1
            if not dry_run:
                path.unlink(missing_ok=True)
    return count


def apply_kind(kind: str, targets: RetentionTargets, limits: RetentionLimits, now: datetime,
               dry_run: bool = False) -> Swept:
    """Sweep one kind; with `dry_run` count what is due and delete nothing."""
    cutoff, days = limits.cutoff(kind, now), getattr(limits, kind)
    if kind == "conversations":
        whole, events = sweep_conversations(targets.tracker_url, cutoff, dry_run)
        return Swept(kind, days, whole, events)
    if kind == "questions":
        return Swept(kind, days, sweep_questions(targets.feedback_url, cutoff, dry_run))
    if kind in ("logs", "mail"):
        folder = targets.logs_dir if kind == "logs" else targets.mail_dir
        return Swept(kind, days, sweep_files(folder, cutoff, dry_run, targets.protected))
    raise ValueError(f"unknown retention kind {kind!r}; known: {', '.join(KINDS)}")


def apply_retention(targets: RetentionTargets, limits: RetentionLimits, now: datetime | None = None,
                    dry_run: bool = False) -> list[Swept]:
    """Sweep every kind once, in KINDS order."""
    now = now or datetime.now(timezone.utc)
    return [apply_kind(kind, targets, limits, now, dry_run) for kind in KINDS]
