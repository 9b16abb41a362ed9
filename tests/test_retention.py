"""`policybot retention` (bot/retention/): what is older than its limit goes, what is just inside it stays, dry
runs delete nothing, concern records are never touched, and the output is counts only.

Real files under tmp_path: Rasa's own encrypted tracker store, the feedback store, logs and caught mail, with times
one minute either side of each limit."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import URL

from bot import cli
from bot.qa.feedback import FeedbackStore, questions
from bot.retention.sweep import (RetentionLimits, RetentionTargets, apply_retention, sweep_conversations,
                                 sweep_files, sweep_questions, tracker_store_url)
from components.tracker_store import EncryptedSQLTrackerStore
from test_concern_records import CANARY as RECORD_CANARY
from test_concern_records import Clock, make_store, record
from test_concern_records import concerns_env  # noqa: F401 - fixture

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
CANARY = "pangolin-canary-7306 he hurts me"
DOMAIN = Domain.from_dict({"intents": ["safeguarding_disclosure"]})


def days_ago(days: int, shift: timedelta = timedelta(0), now: datetime = NOW) -> datetime:
    return now - timedelta(days=days) + shift


# ------------------------------------------------------------------------------------------ conversations


def tracker_store(path: Path) -> EncryptedSQLTrackerStore:
    return EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))


def session(start: datetime, text: str) -> list[Event]:
    """One Rasa session as the tracker store keeps it: started, then one message."""
    at = start.timestamp()
    return [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at),
            ActionExecuted("action_listen", timestamp=at + 1),
            UserUttered(text, {"name": "safeguarding_disclosure", "confidence": 1.0}, timestamp=at + 2)]


def save(store: EncryptedSQLTrackerStore, sender: str, *sessions: list[Event]) -> None:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for events in sessions:
        for event in events:
            tracker.update(event)
    asyncio.run(store.save(tracker))


def event_counts(path: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id").all()
    engine.dispose()
    return dict(rows)


@pytest.fixture
def conversations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four conversations around the 30-day limit (the last message of each is 2 s after its session starts)."""
    monkeypatch.setenv("POLICYBOT_TRACKER_KEY", Fernet.generate_key().decode())
    path = tmp_path / "rasa" / "conversations.db"
    path.parent.mkdir()
    store = tracker_store(path)
    save(store, "ended-just-outside", session(days_ago(30, -MINUTE - timedelta(seconds=2)), CANARY))
    save(store, "ended-just-inside", session(days_ago(30, MINUTE), CANARY))
    # Still in use: an old session (its words go) and today's (Rasa reads only the latest; it stays whole).
    save(store, "still-in-use", session(days_ago(45), CANARY), session(days_ago(0, -timedelta(hours=1)), "hello"))
    save(store, "today", session(days_ago(0, -timedelta(hours=2)), "hello"))
    return path


def test_old_conversations_go_whole_and_old_sessions_of_live_ones_go(conversations: Path) -> None:
    url = URL.create("sqlite", database=str(conversations))
    assert sweep_conversations(url, days_ago(30)) == (1, 8)  # one whole conversation (4) + one old session (4)
    assert event_counts(conversations) == {"ended-just-inside": 4, "still-in-use": 4, "today": 4}
    store = tracker_store(conversations)
    live = asyncio.run(store.retrieve_full_tracker("still-in-use"))
    assert live is not None and live.latest_message is not None and live.latest_message.text == "hello"
    assert asyncio.run(store.retrieve("ended-just-outside")) is None
    kept = asyncio.run(store.retrieve("ended-just-inside"))
    assert kept is not None and kept.latest_message is not None and kept.latest_message.text == CANARY


def test_a_dry_run_counts_the_same_conversations_and_deletes_nothing(conversations: Path) -> None:
    before = conversations.read_bytes()
    url = URL.create("sqlite", database=str(conversations))
    assert sweep_conversations(url, days_ago(30), dry_run=True) == (1, 8)
    assert conversations.read_bytes() == before


def test_no_tracker_store_file_means_nothing_to_delete_and_nothing_is_made(tmp_path: Path) -> None:
    missing = tmp_path / "rasa" / "conversations.db"
    assert sweep_conversations(URL.create("sqlite", database=str(missing)), NOW) == (0, 0)
    assert sweep_conversations(None, NOW) == (0, 0)
    assert not missing.exists()


def test_the_tracker_store_is_read_from_endpoints_yml(tmp_path: Path) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: components.tracker_store.EncryptedSQLTrackerStore\n"
                         "  dialect: sqlite\n  db: artifacts/rasa/conversations.db\n", encoding="utf-8")
    url = tracker_store_url(endpoints, root=tmp_path)
    assert url is not None and url.database == str(tmp_path / "artifacts/rasa/conversations.db")
    endpoints.write_text("action_endpoint:\n  url: http://127.0.0.1:5055/webhook\n", encoding="utf-8")
    assert tracker_store_url(endpoints) is None
    endpoints.write_text("tracker_store:\n  type: redis\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tracker_store type 'redis' is not a SQL tracker store; policybot "
                                         r"retention deletes conversations from SQL tracker stores only$"):
        tracker_store_url(endpoints)



def test_the_cluster_tracker_store_is_read_with_its_host_and_password_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import settings

    monkeypatch.setenv("POLICYBOT_PG_PORT", "5433")
    monkeypatch.setenv("POLICYBOT_PG_PASSWORD", "s3cret")
    url = tracker_store_url(settings.PROJECT_ROOT / "config" / "endpoints-cluster.yml")
    assert url is not None and (url.drivername, url.host, url.port, url.database, url.username, url.password) == (
        "postgresql", "127.0.0.1", 5433, "policybot_conversations", "policybot", "s3cret")

# ------------------------------------------------------------------------------------------ questions


def feedback_store(tmp_path: Path) -> tuple[FeedbackStore, URL]:
    url = URL.create("sqlite", database=str(tmp_path / "policybot.db"))
    store = FeedbackStore(url.render_as_string(hide_password=False))
    outside = store.record_question("alder", f"just outside {CANARY}", abstained=True)
    inside = store.record_question("alder", "just inside: can I use my phone?", abstained=True)
    engine = create_engine(url)
    with engine.begin() as connection:
        for question_id, asked in ((outside, days_ago(30, -MINUTE)), (inside, days_ago(30, MINUTE))):
            connection.execute(questions.update().where(questions.c.id == question_id).values(created_at=asked))
    engine.dispose()
    return store, url


def test_questions_older_than_the_limit_go_and_their_words_leave_the_file(tmp_path: Path) -> None:
    store, url = feedback_store(tmp_path)
    assert sweep_questions(url, days_ago(30)) == 1
    assert [gap.question for gap in store.gaps("alder")] == ["just inside: can I use my phone?"]
    for path in tmp_path.glob("policybot.db*"):  # the database and its write-ahead log
        assert b"pangolin-canary-7306" not in path.read_bytes(), path.name


def test_a_dry_run_counts_questions_and_deletes_none(tmp_path: Path) -> None:
    store, url = feedback_store(tmp_path)
    assert sweep_questions(url, days_ago(30), dry_run=True) == 1
    assert len(store.gaps("alder")) == 2


# ------------------------------------------------------------------------------------------ files


def touch(path: Path, modified: datetime, text: str = "line\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


def test_files_older_than_the_limit_go_and_links_are_left_alone(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    old = touch(logs / "rasa.log.1", days_ago(30, -MINUTE))
    nested = touch(logs / "old" / "actions.log", days_ago(31))
    kept = touch(logs / "actions.log", days_ago(30, MINUTE))
    outside = touch(tmp_path / "elsewhere.txt", days_ago(400))
    (logs / "link.log").symlink_to(outside)
    assert sweep_files(logs, days_ago(30)) == 2
    assert not old.exists() and not nested.exists()
    assert kept.exists() and outside.exists() and (logs / "link.log").is_symlink()


def test_a_dry_run_counts_files_and_deletes_none(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    touch(mail / "a.eml", days_ago(14, -MINUTE))
    touch(mail / "b.eml", days_ago(14, MINUTE))
    assert sweep_files(mail, days_ago(14), dry_run=True) == 1
    assert sorted(p.name for p in mail.iterdir()) == ["a.eml", "b.eml"]
    assert sweep_files(tmp_path / "no-such-folder", NOW) == 0


def test_protected_files_are_never_deleted(tmp_path: Path) -> None:
    records = touch(tmp_path / "logs" / "concerns.db", days_ago(400))
    assert sweep_files(tmp_path / "logs", NOW, protected=frozenset({records.resolve()})) == 0
    assert records.exists()


# ------------------------------------------------------------------------------------------ all kinds, the command


def test_each_kind_uses_its_own_limit(tmp_path: Path, conversations: Path) -> None:
    feedback_store(tmp_path)
    touch(tmp_path / "logs" / "rasa.log", days_ago(8))
    touch(tmp_path / "mail" / "a.eml", days_ago(8))
    targets = RetentionTargets(URL.create("sqlite", database=str(conversations)),
                               URL.create("sqlite", database=str(tmp_path / "policybot.db")),
                               tmp_path / "logs", tmp_path / "mail")
    limits = RetentionLimits(conversations=60, questions=31, logs=7, mail=9)
    swept = apply_retention(targets, limits, NOW)
    assert [(s.kind, s.days, s.count, s.events) for s in swept] == [
        ("conversations", 60, 0, 0), ("questions", 31, 0, 0), ("logs", 7, 1, 0), ("mail", 9, 0, 0)]
    assert swept[0].line(dry_run=False) == ("conversations: 0 event(s) deleted, 0 whole conversation(s) among them "
                                            "(older than 60 days)")
    assert swept[2].line(dry_run=True) == "logs: 1 log file(s) would be deleted (older than 7 days)"


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_RETAIN_MAIL_DAYS", "3")
    monkeypatch.delenv("POLICYBOT_RETAIN_LOGS_DAYS", raising=False)
    assert RetentionLimits.from_settings() == RetentionLimits(conversations=30, questions=30, logs=30, mail=3)
    monkeypatch.setenv("POLICYBOT_RETAIN_LOGS_DAYS", "0")
    with pytest.raises(ValueError, match=r"^POLICYBOT_RETAIN_LOGS_DAYS must be a whole number of days, at least 1 "
                                         r"\(got '0'\)$"):
        RetentionLimits.from_settings()
    with pytest.raises(ValueError, match=r"^the mail retention limit must be a whole number of days, at least 1$"):
        RetentionLimits(mail=0)


@pytest.fixture
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, concerns_env: Path  # noqa: F811
                 ) -> dict[str, Path]:
    """A whole installation under tmp_path, with something due and something not of every kind, dated from the
    real clock (the command reads it), and concern records from months ago."""
    now = datetime.now(timezone.utc)
    monkeypatch.setenv("POLICYBOT_TRACKER_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("POLICYBOT_LOGS_DIR", str(tmp_path / "logs"))
    feedback = tmp_path / "artifacts" / "policybot.db"
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", f"sqlite:///{feedback}")
    for kind in ("CONVERSATIONS", "QUESTIONS", "LOGS", "MAIL"):
        monkeypatch.delenv(f"POLICYBOT_RETAIN_{kind}_DAYS", raising=False)
    tracker = tmp_path / "artifacts" / "rasa" / "conversations.db"
    tracker.parent.mkdir(parents=True)
    store = tracker_store(tracker)
    save(store, "old", session(days_ago(31, now=now), CANARY))
    save(store, "new", session(days_ago(1, now=now), "hello"))
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: components.tracker_store.EncryptedSQLTrackerStore\n"
                         f"  dialect: sqlite\n  db: {tracker}\n", encoding="utf-8")
    FeedbackStore().record_question("alder", f"new {CANARY}", abstained=True)
    touch(tmp_path / "logs" / "rasa.log", days_ago(31, now=now))
    touch(tmp_path / "logs" / "actions.log", days_ago(1, now=now))
    touch(tmp_path / "artifacts" / "mail" / "old.eml", days_ago(15, now=now), f"Subject: {CANARY}\n")
    touch(tmp_path / "artifacts" / "mail" / "new.eml", days_ago(13, now=now))
    # Concern records from March, far past every limit, and the store's file dated as old.
    concerns = make_store(concerns_env, Clock())
    record(concerns, "m-1")
    record(concerns, "m-2", urgency="immediate")
    os.utime(concerns_env, (days_ago(400, now=now).timestamp(),) * 2)
    return {"endpoints": endpoints, "tracker": tracker, "concerns": concerns_env, "root": tmp_path}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["retention", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` and a hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def concern_files(installation: dict[str, Path]) -> dict[str, tuple[str, float]]:
    folder = installation["concerns"].parent
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime) for p in folder.iterdir()}


def test_the_command_deletes_what_is_due_and_never_a_concern_record(installation: dict[str, Path]) -> None:
    before = concern_files(installation)
    code, out, err = run("--endpoints", str(installation["endpoints"]))
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        "  conversations: 4 event(s) deleted, 1 whole conversation(s) among them (older than 30 days)",
        "  questions: 0 question(s) deleted (older than 30 days)",
        "  logs: 1 log file(s) deleted (older than 30 days)",
        "  mail: 1 caught mail(s) deleted (older than 14 days)"]
    assert out.splitlines()[0].endswith("UTC; concern records are never deleted")
    assert "pangolin" not in out
    assert event_counts(installation["tracker"]) == {"new": 4}
    root = installation["root"]
    assert sorted(p.name for p in (root / "logs").iterdir()) == ["actions.log"]
    assert sorted(p.name for p in (root / "artifacts" / "mail").iterdir()) == ["new.eml"]
    assert concern_files(installation) == before
    store = make_store(installation["concerns"])
    assert len(store.list_concerns("alder", "mary.oak", status="all")) == 2
    assert store.show("APS-2026-0001", "alder", "mary.oak").words == RECORD_CANARY


def test_the_concern_store_is_safe_even_inside_a_swept_folder(installation: dict[str, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone points the concern store into logs/: its files are older than the limit, and still stay."""
    moved = installation["root"] / "logs" / "concerns.db"
    installation["concerns"].rename(moved)
    for suffix in ("-wal", "-shm"):
        companion = installation["concerns"].with_name("concerns.db" + suffix)
        if companion.exists():
            companion.rename(moved.with_name("concerns.db" + suffix))
    for path in moved.parent.glob("concerns.db*"):
        os.utime(path, (days_ago(400).timestamp(),) * 2)
    monkeypatch.setenv("POLICYBOT_CONCERNS_DATABASE_URL", f"sqlite:///{moved}")
    code, out, _ = run("--endpoints", str(installation["endpoints"]))
    assert code == 0 and "  logs: 1 log file(s) deleted (older than 30 days)" in out.splitlines()
    assert moved.exists()
    assert len(make_store(moved).list_concerns("alder", "mary.oak", status="all")) == 2


def test_a_dry_run_prints_the_counts_and_deletes_nothing(installation: dict[str, Path]) -> None:
    before = snapshot(installation["root"])
    code, out, err = run("--dry-run", "--endpoints", str(installation["endpoints"]))
    assert (code, err) == (0, "")
    assert out.splitlines()[0].endswith("UTC (dry run: nothing deleted); concern records are never deleted")
    assert out.splitlines()[1:] == [
        "  conversations: 4 event(s) would be deleted, 1 whole conversation(s) among them (older than 30 days)",
        "  questions: 0 question(s) would be deleted (older than 30 days)",
        "  logs: 1 log file(s) would be deleted (older than 30 days)",
        "  mail: 1 caught mail(s) would be deleted (older than 14 days)"]
    assert snapshot(installation["root"]) == before


def test_a_bad_limit_stops_the_command_before_anything_is_deleted(installation: dict[str, Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_RETAIN_CONVERSATIONS_DAYS", "thirty")
    before = snapshot(installation["root"])
    assert run("--endpoints", str(installation["endpoints"])) == (
        2, "", "policybot retention: POLICYBOT_RETAIN_CONVERSATIONS_DAYS must be a whole number of days, at least 1 "
               "(got 'thirty')\n")
    assert snapshot(installation["root"]) == before


def test_questions_in_the_feedback_store_are_counted_through_the_command(installation: dict[str, Path],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The question was asked today: with a limit of 1 day it stays; backdated two days, it goes."""
    engine = create_engine(os.environ["POLICYBOT_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(questions.update().values(created_at=datetime.now(timezone.utc) - timedelta(days=2)))
    monkeypatch.setenv("POLICYBOT_RETAIN_QUESTIONS_DAYS", "1")
    code, out, _ = run("--endpoints", str(installation["endpoints"]))
    assert code == 0 and "  questions: 1 question(s) deleted (older than 1 days)" in out.splitlines()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(questions)).scalar_one() == 0
    engine.dispose()
