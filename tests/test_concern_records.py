"""Concern records: durable single-transaction writes, one record per message, hash-chained audit, DSL-only reads.

Real SQLite files under tmp_path (no mocks). The helpers here (canaries, clock, settings, `make_store`) are shared
with test_notify.py and test_inbox_cli.py.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from bot.safeguarding.records import (AuditCheck, ConcernNotFound, ConcernStore, RecordResult,
                                      RecordStoreUnavailable, SafeguardingConfig, SchoolSafeguarding,
                                      concern_audit, concern_outbox, concerns)
from bot.schools import SchoolDirectory

#: Text that must never reach a log, an exception, a repr, an audit row or a notification.
CANARY = "CANARY-7f3a he said not to tell anyone"
NAME_CANARY = "Zebedee Canaryname"
EXCERPT_CANARY = "CANARY-excerpt earlier turn"
NOTE_CANARY = "CANARY-note spoke to parents"
CANARIES = (CANARY, NAME_CANARY, EXCERPT_CANARY, NOTE_CANARY, "CANARY")

#: Settings for the tiny conftest schools: alder has two readers and one address, birch one reader, no address.
SAFEGUARDING_YML = """\
schools:
  alder:
    dsl_readers: [mary.oak, deputy.dsl]
    notify_email: [dsl@alder.example]
    teams_webhook: null
  birch:
    dsl_readers: [tom.reed]
    notify_email: []
    teams_webhook: null
"""

#: The same settings as objects.
TINY_CONFIG = SafeguardingConfig({
    "alder": SchoolSafeguarding("alder", ("mary.oak", "deputy.dsl"), ("dsl@alder.example",), None),
    "birch": SchoolSafeguarding("birch", ("tom.reed",), (), None),
})

START = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


class Clock:
    """An injected clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def sqlite_url(path: Path) -> str:
    """A SQLAlchemy URL for a SQLite file."""
    return f"sqlite:///{path}"


@pytest.fixture
def concerns_env(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny schools, their safeguarding settings and a concerns database URL, all in the environment."""
    config = tmp_path / "safeguarding.yml"
    config.write_text(SAFEGUARDING_YML, encoding="utf-8")
    monkeypatch.setenv("POLICYBOT_SAFEGUARDING_CONFIG", str(config))
    monkeypatch.setenv("POLICYBOT_CONCERNS_DATABASE_URL", sqlite_url(tmp_path / "db" / "concerns.db"))
    for name in ("POLICYBOT_SMTP_HOST", "POLICYBOT_SMTP_PORT", "POLICYBOT_SMTP_FROM", "POLICYBOT_SMTP_USER",
                 "POLICYBOT_SMTP_PASSWORD", "POLICYBOT_SMTP_STARTTLS", "POLICYBOT_SMTP_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "db" / "concerns.db"


def make_store(path: Path, clock: Clock | None = None, config: SafeguardingConfig | None = None,
               **kwargs: Any) -> ConcernStore:
    """A store on the SQLite file `path` over the tiny schools (POLICYBOT_DATA_DIR) and their settings."""
    return ConcernStore(sqlite_url(path), schools=SchoolDirectory.load(), config=config or TINY_CONFIG,
                        clock=clock or Clock(), **kwargs)


def record(store: ConcernStore, message_id: str = "m-1", **overrides: Any) -> RecordResult:
    """Record one alder pupil disclosure carrying the canaries; `overrides` change any field."""
    fields: dict[str, Any] = dict(message_id=message_id, school="alder", role="pupil", channel="rest",
                                  urgency="high", category="grooming", kind="disclosure", words=CANARY,
                                  excerpt=["bot: hi, what can I help with?", EXCERPT_CANARY],
                                  reporter_name=NAME_CANARY)
    fields.update(overrides)
    return store.record(**fields)


def assert_no_canary(*texts: str) -> None:
    """None of the canaries appears in any of `texts`."""
    for text_ in texts:
        for canary in CANARIES:
            assert canary not in text_


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(concerns_env: Path) -> Path:
    return concerns_env


@pytest.fixture
def concern_store(db_path: Path, clock: Clock) -> ConcernStore:
    return make_store(db_path, clock)


# ------------------------------------------------------------------------------------------------ recording


def test_references_use_the_school_prefix_the_year_and_a_per_school_per_year_number(
        concern_store: ConcernStore, clock: Clock) -> None:
    """APS-2026-0001, -0002; birch counts on its own; a new year starts again at 0001."""
    assert record(concern_store, "a1") == RecordResult("APS-2026-0001", True)
    assert record(concern_store, "a2") == RecordResult("APS-2026-0002", True)
    assert record(concern_store, "b1", school="birch") == RecordResult("BA-2026-0001", True)
    clock.now = datetime(2027, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert record(concern_store, "a3") == RecordResult("APS-2027-0001", True)


def test_a_retried_message_returns_the_existing_record_and_never_makes_a_second(
        concern_store: ConcernStore, db_path: Path) -> None:
    """The same message_id again (even with other fields) gives the first reference with created=False."""
    first = record(concern_store, "retry-me")
    again = record(concern_store, "retry-me", urgency="immediate", words="something else")
    assert again == RecordResult(first.reference, False)
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT count(*) FROM concerns").fetchone() == (1,)
        assert raw.execute("SELECT count(*) FROM concern_outbox").fetchone() == (1,)
        assert raw.execute("SELECT count(*) FROM concern_audit WHERE action='created'").fetchone() == (1,)


def test_the_record_is_committed_before_record_returns(concern_store: ConcernStore, db_path: Path) -> None:
    """A second, independent engine sees the concern, its audit row and its outbox row straight away."""
    result = record(concern_store)
    other = create_engine(sqlite_url(db_path), future=True)
    with other.connect() as connection:
        row = connection.execute(select(concerns).where(concerns.c.reference == result.reference)).one()
        assert (row.words, row.reporter_name, row.status, row.school) == (CANARY, NAME_CANARY, "new", "alder")
        assert connection.execute(select(concern_outbox.c.destination)).scalars().all() == ["dsl@alder.example"]
        assert connection.execute(select(concern_audit.c.action)).scalars().all() == ["created"]
    other.dispose()


def test_one_transaction_writes_the_concern_its_audit_row_and_one_outbox_row_per_destination(
        data_dir: Path, tmp_path: Path) -> None:
    """Two addresses and a Teams webhook make three pending outbox rows, written with the concern."""
    config = SafeguardingConfig({"alder": SchoolSafeguarding(
        "alder", ("mary.oak",), ("dsl@alder.example", "deputy@alder.example"), "https://teams.example/hook/SECRET")})
    store = make_store(tmp_path / "c.db", config=config)
    record(store)
    with store.engine.connect() as connection:
        rows = connection.execute(select(concern_outbox.c.channel, concern_outbox.c.destination,
                                         concern_outbox.c.status, concern_outbox.c.attempts)
                                  .order_by(concern_outbox.c.id)).all()
    assert [tuple(r) for r in rows] == [("email", "dsl@alder.example", "pending", 0),
                                        ("email", "deputy@alder.example", "pending", 0),
                                        ("teams", "https://teams.example/hook/SECRET", "pending", 0)]
    created = store.audit_entries()[0]
    assert created.action == "created"
    assert "SECRET" not in created.detail and "notifications=3" in created.detail


def test_the_database_file_is_private_in_wal_mode_with_full_sync(concern_store: ConcernStore, db_path: Path) -> None:
    """The file is created 0600 (it holds disclosures), journal_mode=WAL, synchronous=FULL (2) per connection."""
    record(concern_store)
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    with concern_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_the_default_url_is_concerns_db_under_artifacts_apart_from_the_feedback_db(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without POLICYBOT_CONCERNS_DATABASE_URL the store is artifacts/concerns.db."""
    from bot.safeguarding.records import default_database_url

    monkeypatch.delenv("POLICYBOT_CONCERNS_DATABASE_URL", raising=False)
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(tmp_path / "art"))
    assert default_database_url() == f"sqlite:///{tmp_path / 'art' / 'concerns.db'}"
    monkeypatch.setenv("POLICYBOT_CONCERNS_DATABASE_URL", "postgresql+psycopg2://bot:pw@db.example/concerns")
    assert default_database_url() == "postgresql+psycopg2://bot:pw@db.example/concerns"


def test_the_store_repr_masks_a_database_password(data_dir: Path, tmp_path: Path) -> None:
    """A PostgreSQL URL's password never shows in repr (the engine connects lazily, so no server is needed)."""
    schools = SchoolDirectory.load()
    store = ConcernStore("postgresql+psycopg2://bot:s3cret@127.0.0.1:1/concerns", schools=schools,
                         config=SafeguardingConfig({}))
    assert "s3cret" not in repr(store)
    assert repr(store) == "ConcernStore(postgresql+psycopg2://bot:***@127.0.0.1:1/concerns)"


@pytest.mark.parametrize("field, value, message", [
    ("school", "oak", "unknown school 'oak'; known: alder, birch"),
    ("urgency", "none", "unknown urgency 'none'; known: immediate, high, standard, concern"),
    ("kind", "question", "unknown kind 'question'; known: disclosure, report, concern"),
    ("category", "gossip", r"unknown category 'gossip'; known: self_harm, .*, other"),
    ("message_id", "  ", "message_id must be a non-empty string"),
])
def test_bad_arguments_raise_exact_early_errors_without_touching_the_database(
        concern_store: ConcernStore, db_path: Path, field: str, value: str, message: str) -> None:
    """The error names the bad value and the known ones, and nothing is written."""
    with pytest.raises(ValueError, match=f"^{message}"):
        record(concern_store, **{field: value})
    assert not db_path.exists()


def test_an_unwritable_database_raises_record_store_unavailable_with_no_content(
        data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A database path under a plain file cannot be opened: RecordStoreUnavailable, no words in it or the logs."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file, not a directory")
    store = make_store(blocker / "concerns.db")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RecordStoreUnavailable, match=r"^the concern store is unavailable \(\w+\)$") as caught:
        record(store)
    assert_no_canary(str(caught.value), repr(caught.value), caplog.text)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_locked_database_raises_record_store_unavailable_then_recovers(
        data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """While another process holds the write lock past the timeout: unavailable; once released: recorded."""
    path = tmp_path / "c.db"
    store = make_store(path, lock_timeout_s=0.2)
    record(store, "first")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(RecordStoreUnavailable, match=r"^the concern store is unavailable \(OperationalError\)$"):
            record(store, "second")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_no_canary(caplog.text)
    assert record(store, "second") == RecordResult("APS-2026-0002", True)


def test_two_threads_recording_different_messages_both_succeed_with_distinct_references(
        concern_store: ConcernStore) -> None:
    """Twelve writers at once: twelve records, numbers 1-12 with no gap or duplicate, and the audit verifies."""
    barrier = threading.Barrier(12)
    results: list[RecordResult] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            results.append(record(concern_store, f"parallel-{n}", school="alder" if n % 3 else "birch"))
        except BaseException as problem:  # collected so the main thread can fail with it
            errors.append(problem)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    references = sorted(r.reference for r in results)
    assert references == sorted([f"APS-2026-{n:04d}" for n in range(1, 9)] + [f"BA-2026-{n:04d}" for n in range(1, 5)])
    assert all(r.created for r in results)
    assert concern_store.verify_audit().ok


def test_threads_recording_the_same_message_make_one_record(concern_store: ConcernStore, db_path: Path) -> None:
    """Eight retries of one message at once: one created=True, seven created=False, all with the same reference."""
    barrier = threading.Barrier(8)
    results: list[RecordResult] = []

    def write() -> None:
        barrier.wait()
        results.append(record(concern_store, "same-message"))

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.created for r in results) == [False] * 7 + [True]
    assert {r.reference for r in results} == {"APS-2026-0001"}
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT count(*) FROM concerns").fetchone() == (1,)


# ------------------------------------------------------------------------------------------------ no content leaks


def test_the_record_repr_and_str_hide_words_excerpt_name_and_note(concern_store: ConcernStore) -> None:
    """repr shows the reference and triage fields but only the size of the hidden ones."""
    ref = record(concern_store).reference
    concern_store.acknowledge(ref, "alder", "mary.oak")
    concern_store.close(ref, "alder", "mary.oak", note=NOTE_CANARY)
    shown = concern_store.show(ref, "alder", "mary.oak")
    assert (shown.words, shown.reporter_name, shown.close_note) == (CANARY, NAME_CANARY, NOTE_CANARY)
    assert shown.excerpt == ("bot: hi, what can I help with?", EXCERPT_CANARY)
    assert_no_canary(repr(shown), str(shown), f"{shown}", repr([shown]))
    assert f"words=<hidden {len(CANARY)} chars>" in repr(shown)


def test_nothing_of_a_record_reaches_the_logs_even_with_sql_echo(
        concern_store: ConcernStore, caplog: pytest.LogCaptureFixture) -> None:
    """Recording, listing, reading, changing and verifying at DEBUG (SQLAlchemy's SQL log included) logs no content."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        ref = record(concern_store).reference
        record(concern_store)  # the retry path
        concern_store.list_concerns("alder", "mary.oak")
        concern_store.show(ref, "alder", "mary.oak")
        concern_store.acknowledge(ref, "alder", "mary.oak")
        concern_store.close(ref, "alder", "mary.oak", note=NOTE_CANARY)
        concern_store.verify_audit()
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert "INSERT INTO concerns" in caplog.text  # the SQL log really was on
    assert f"recorded concern {ref}" in caplog.text
    assert_no_canary(caplog.text)


def test_audit_rows_never_hold_disclosure_text(concern_store: ConcernStore) -> None:
    """Every action's detail is free of the words, excerpt, name and close note."""
    ref = record(concern_store).reference
    concern_store.show(ref, "alder", "mary.oak")
    concern_store.acknowledge(ref, "alder", "mary.oak")
    concern_store.close(ref, "alder", "mary.oak", note=NOTE_CANARY)
    entries = concern_store.audit_entries()
    assert [e.action for e in entries] == ["created", "read", "acknowledged", "closed"]
    assert entries[-1].detail == "from=acknowledged note=yes"
    assert_no_canary(*(repr(e) for e in entries))


# ------------------------------------------------------------------------------------------------ audit chain


def test_every_read_and_change_is_audited_with_actor_school_and_reference(concern_store: ConcernStore) -> None:
    """list -> listed, show -> read, show --json -> exported, ack -> acknowledged, close -> closed."""
    ref = record(concern_store).reference
    concern_store.list_concerns("alder", "Mary.Oak", status="all")
    concern_store.show(ref, "alder", "deputy.dsl")
    concern_store.show(ref, "alder", "deputy.dsl", export=True)
    concern_store.acknowledge(ref, "alder", "mary.oak")
    concern_store.close(ref, "alder", "mary.oak")
    rows = [(e.seq, e.actor, e.action, e.reference, e.school, e.detail) for e in concern_store.audit_entries()]
    assert rows[1:] == [
        (2, "Mary.Oak", "listed", None, "alder", "status=all count=1"),
        (3, "deputy.dsl", "read", ref, "alder", ""),
        (4, "deputy.dsl", "exported", ref, "alder", ""),
        (5, "mary.oak", "acknowledged", ref, "alder", "from=new"),
        (6, "mary.oak", "closed", ref, "alder", "from=acknowledged"),
    ]
    assert rows[0][:5] == (1, "policybot", "created", ref, "alder")


def test_the_audit_chain_verifies_and_links_each_row_to_the_previous(concern_store: ConcernStore) -> None:
    """Row n's prev_hash is row n-1's hash; the first links to the all-zero genesis hash."""
    record(concern_store, "a")
    record(concern_store, "b")
    concern_store.list_concerns("alder", "mary.oak")
    entries = concern_store.audit_entries()
    assert entries[0].prev_hash == "0" * 64
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(entries, entries[1:]))
    assert concern_store.verify_audit() == AuditCheck(True, 3, None, None, entries[-1].hash)


def test_an_edited_audit_row_is_detected(concern_store: ConcernStore, db_path: Path) -> None:
    """Changing a row's actor with raw SQL breaks its hash: first_bad_seq names it."""
    ref = record(concern_store).reference
    concern_store.show(ref, "alder", "mary.oak")
    concern_store.show(ref, "alder", "deputy.dsl")
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE concern_audit SET actor = 'someone.else' WHERE seq = 2")
    check = concern_store.verify_audit()
    assert (check.ok, check.first_bad_seq, check.problem) == (False, 2, "row 2 was changed after it was written")


def test_a_rehashed_edit_is_still_detected_by_the_next_row(concern_store: ConcernStore, db_path: Path) -> None:
    """Someone who edits a row and recomputes its hash breaks the next row's prev_hash link."""
    from bot.safeguarding.records import audit_hash

    ref = record(concern_store).reference
    concern_store.show(ref, "alder", "mary.oak")
    concern_store.show(ref, "alder", "deputy.dsl")
    with sqlite3.connect(db_path) as raw:
        seq, at, action, reference, school, detail, prev = raw.execute(
            "SELECT seq, at, action, reference, school, detail, prev_hash FROM concern_audit WHERE seq = 2").fetchone()
        forged = audit_hash(prev, seq, at, "someone.else", action, reference, school, detail)
        raw.execute("UPDATE concern_audit SET actor = 'someone.else', hash = ? WHERE seq = 2", (forged,))
    check = concern_store.verify_audit()
    assert (check.ok, check.first_bad_seq, check.problem) == (False, 3, "row 3 does not follow row 2")


def test_a_deleted_audit_row_is_detected(concern_store: ConcernStore, db_path: Path) -> None:
    """Deleting a middle row leaves a gap in seq; deleting a concern's 'created' row at the tail is caught too."""
    ref = record(concern_store, "a").reference
    concern_store.show(ref, "alder", "mary.oak")
    concern_store.show(ref, "alder", "mary.oak")
    record(concern_store, "b")
    with sqlite3.connect(db_path) as raw:
        raw.execute("DELETE FROM concern_audit WHERE seq = 4")
    check = concern_store.verify_audit()
    assert (check.ok, check.rows, check.first_bad_seq) == (False, 3, None)
    assert check.problem == "concern APS-2026-0002 has no 'created' audit row"
    with sqlite3.connect(db_path) as raw:
        raw.execute("DELETE FROM concern_audit WHERE seq = 2")
    check = concern_store.verify_audit()
    assert (check.ok, check.first_bad_seq, check.problem) == (False, 3, "row 2 is missing (next row is 3)")


# ------------------------------------------------------------------------------------------------ access


def test_only_the_schools_dsl_readers_may_read_or_change(concern_store: ConcernStore) -> None:
    """Anyone else gets PermissionError naming them and the school; each refused attempt is audited as denied."""
    ref = record(concern_store).reference
    message = "^'tom.reed' is not a DSL reader for school 'alder'$"
    with pytest.raises(PermissionError, match=message):
        concern_store.list_concerns("alder", "tom.reed")
    with pytest.raises(PermissionError, match=message):
        concern_store.show(ref, "alder", "tom.reed")
    with pytest.raises(PermissionError, match=message):
        concern_store.acknowledge(ref, "alder", "tom.reed")
    with pytest.raises(PermissionError, match="^'' is not a DSL reader for school 'alder'$"):
        concern_store.show(ref, "alder", "")
    entries = concern_store.audit_entries()
    assert [e.action for e in entries] == ["created", "denied", "denied", "denied", "denied"]
    assert [e.actor for e in entries[1:]] == ["tom.reed", "tom.reed", "tom.reed", ""]
    assert all(e.reference is None for e in entries[1:]), "a refused reference is not confirmed to exist"
    assert concern_store.verify_audit().ok


def test_reader_names_match_without_regard_to_case_or_surrounding_spaces(concern_store: ConcernStore) -> None:
    """'Mary.Oak ' is the reader mary.oak; the audit keeps the name as typed, trimmed."""
    ref = record(concern_store).reference
    assert concern_store.show(ref, "alder", " Mary.Oak ").reference == ref
    assert concern_store.audit_entries()[-1].actor == "Mary.Oak"


def test_another_schools_reference_is_not_found_never_leaked(concern_store: ConcernStore) -> None:
    """birch's DSL asking for an alder reference at birch gets 'not found', the same as a made-up reference."""
    ref = record(concern_store).reference
    with pytest.raises(ConcernNotFound, match=f"^no concern {ref} at school 'birch'$"):
        concern_store.show(ref, "birch", "tom.reed")
    with pytest.raises(ConcernNotFound, match="^no concern BA-2026-0099 at school 'birch'$"):
        concern_store.show("ba-2026-0099", "birch", "tom.reed")
    with pytest.raises(ConcernNotFound):
        concern_store.acknowledge(ref, "birch", "tom.reed")
    assert concern_store.list_concerns("birch", "tom.reed") == []


def test_an_unknown_school_lists_the_known_slugs(concern_store: ConcernStore) -> None:
    """Reads at a school that does not exist are a ValueError naming alder and birch."""
    with pytest.raises(ValueError, match="^unknown school 'oak'; known: alder, birch$"):
        concern_store.list_concerns("oak", "mary.oak")


def test_a_school_missing_from_the_settings_still_records_but_nobody_is_notified(
        data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A disclosure is never refused for want of settings: it is recorded, and a warning names the school."""
    store = make_store(tmp_path / "c.db", config=SafeguardingConfig({}))
    caplog.set_level(logging.WARNING)
    assert record(store).created
    assert "school alder has no DSL notification destinations" in caplog.text
    assert store.outbox_counts().pending == 0
    with pytest.raises(PermissionError):
        store.list_concerns("alder", "mary.oak")


# ------------------------------------------------------------------------------------------------ status


def test_status_moves_new_to_acknowledged_to_closed(concern_store: ConcernStore, clock: Clock) -> None:
    """ack records who and when; close records who, when and the note."""
    ref = record(concern_store).reference
    acked = concern_store.acknowledge(ref, "alder", "mary.oak")
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at) == ("acknowledged", "mary.oak", START)
    later = clock.advance(3600)
    closed = concern_store.close(ref, "alder", "deputy.dsl", note=NOTE_CANARY)
    assert (closed.status, closed.closed_by, closed.closed_at) == ("closed", "deputy.dsl", later)
    assert concern_store.show(ref, "alder", "mary.oak").close_note == NOTE_CANARY


def test_other_status_changes_raise_naming_the_current_status(concern_store: ConcernStore) -> None:
    """Closing a new concern, or repeating a step, is refused with an exact message; nothing is audited."""
    ref = record(concern_store).reference
    with pytest.raises(ValueError, match=f"^cannot close {ref}: its status is 'new' and only an 'acknowledged' "
                                         "concern can be closed; acknowledge it first$"):
        concern_store.close(ref, "alder", "mary.oak")
    concern_store.acknowledge(ref, "alder", "mary.oak")
    with pytest.raises(ValueError, match=f"^cannot acknowledge {ref}: its status is 'acknowledged' and only a "
                                         "'new' concern can be acknowledged$"):
        concern_store.acknowledge(ref, "alder", "mary.oak")
    concern_store.close(ref, "alder", "mary.oak")
    with pytest.raises(ValueError, match=f"^cannot close {ref}: its status is 'closed' and only an 'acknowledged' "
                                         "concern can be closed$"):
        concern_store.close(ref, "alder", "mary.oak")
    assert [e.action for e in concern_store.audit_entries()] == ["created", "acknowledged", "closed"]


def test_the_list_is_most_urgent_first_then_newest_and_filters_by_status(
        concern_store: ConcernStore, clock: Clock) -> None:
    """immediate, high, standard, concern; newest first within one urgency; 'open' leaves out closed ones."""
    refs = {}
    for message_id, urgency in [("s1", "standard"), ("c1", "concern"), ("h1", "high"), ("i1", "immediate"),
                                ("h2", "high")]:
        clock.advance(60)
        refs[message_id] = record(concern_store, message_id, urgency=urgency).reference
    order = [c.reference for c in concern_store.list_concerns("alder", "mary.oak")]
    assert order == [refs["i1"], refs["h2"], refs["h1"], refs["s1"], refs["c1"]]
    concern_store.acknowledge(refs["h1"], "alder", "mary.oak")
    concern_store.close(refs["h1"], "alder", "mary.oak")
    assert [c.reference for c in concern_store.list_concerns("alder", "mary.oak", "closed")] == [refs["h1"]]
    assert refs["h1"] not in [c.reference for c in concern_store.list_concerns("alder", "mary.oak")]
    assert len(concern_store.list_concerns("alder", "mary.oak", "all")) == 5
    assert len(concern_store.list_concerns("alder", "mary.oak", "new")) == 4
    with pytest.raises(ValueError, match="^unknown status 'old'; known: open, all, new, acknowledged, closed$"):
        concern_store.list_concerns("alder", "mary.oak", "old")


# ------------------------------------------------------------------------------------------------ settings file


def test_the_shipped_settings_cover_the_five_schools_with_placeholders() -> None:
    """config/safeguarding.yml names every school in data/schools.yml, each with a reader and an address."""
    schools = SchoolDirectory.load()
    config = SafeguardingConfig.load(Path(__file__).resolve().parents[1] / "config" / "safeguarding.yml", schools)
    assert sorted(config.schools) == schools.slugs
    for slug, settings_ in config.schools.items():
        assert settings_.dsl_readers and settings_.notify_email
        assert all(address.endswith(".example") for address in settings_.notify_email)


@pytest.mark.parametrize("yml, message", [
    ("schools:\n  oak: {}\n", r"names unknown school\(s\) oak; known: alder, birch$"),
    ("schools:\n  alder: {notify_email: [not-an-address]}\n", "notify_email 'not-an-address' is not an email address"),
    ("schools:\n  alder: {teams_webhook: 'ftp://x/SECRET'}\n", "teams_webhook must be null or an http\\(s\\) URL$"),
    ("schools:\n  alder: {dsl_readers: [mary, '']}\n", "dsl_readers must be a list of non-empty strings$"),
    ("schools:\n  alder: {readers: [mary]}\n", "unknown setting\\(s\\) readers; known: dsl_readers"),
    ("- just a list\n", "must contain a 'schools:' mapping"),
])
def test_a_bad_settings_file_fails_early_with_an_exact_error(
        data_dir: Path, tmp_path: Path, yml: str, message: str) -> None:
    """Unknown schools, bad addresses, non-http webhooks (value not echoed), unknown keys."""
    path = tmp_path / "safeguarding.yml"
    path.write_text(yml, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as caught:
        SafeguardingConfig.load(path, SchoolDirectory.load())
    assert "SECRET" not in str(caught.value)


def test_the_settings_file_loads_into_per_school_settings(data_dir: Path, tmp_path: Path) -> None:
    """The YAML used by the CLI tests is the same as TINY_CONFIG."""
    assert SafeguardingConfig.load(_write_settings(tmp_path), SchoolDirectory.load()) == TINY_CONFIG


def test_a_missing_settings_file_is_named(tmp_path: Path) -> None:
    """The error names the path it looked for."""
    with pytest.raises(ValueError, match="^safeguarding settings file not found: .*nowhere.yml$"):
        SafeguardingConfig.load(tmp_path / "nowhere.yml")


def test_the_webhook_secret_stays_out_of_the_settings_repr() -> None:
    """The Teams URL carries a token, so repr leaves it out."""
    settings_ = SchoolSafeguarding("alder", ("mary.oak",), (), "https://teams.example/hook/SECRET")
    assert "SECRET" not in repr(settings_) and "SECRET" not in repr(SafeguardingConfig({"alder": settings_}))


def test_postgresql_portability_the_schema_compiles_for_postgresql() -> None:
    """The DDL compiles for PostgreSQL without a server: only portable types and constraints."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    from bot.safeguarding.records import metadata

    ddl = "\n".join(str(CreateTable(table).compile(dialect=postgresql.dialect())) for table in metadata.sorted_tables)
    assert "TIMESTAMP WITH TIME ZONE" in ddl and "UNIQUE (message_id)" in ddl


@pytest.mark.skipif(not os.environ.get("POLICYBOT_TEST_POSTGRES_URL"),
                    reason="set POLICYBOT_TEST_POSTGRES_URL to an empty PostgreSQL database to run this")
def test_the_same_guarantees_hold_on_postgresql(data_dir: Path) -> None:
    """Opt-in: sequence, retry, concurrency, transitions, audit and outbox claims on a real PostgreSQL server."""
    from bot.safeguarding.records import metadata

    schools = SchoolDirectory.load()
    store = ConcernStore(os.environ["POLICYBOT_TEST_POSTGRES_URL"], schools=schools,
                         config=TINY_CONFIG, clock=Clock())
    metadata.drop_all(store.engine)
    try:
        assert record(store, "p1") == RecordResult("APS-2026-0001", True)
        assert record(store, "p1") == RecordResult("APS-2026-0001", False)
        results: list[RecordResult] = []
        barrier = threading.Barrier(24)

        def write(n: int) -> None:
            barrier.wait()
            results.append(record(store, "same" if n % 2 else f"p-{n}"))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 24 and sum(r.created for r in results) == 13
        assert sorted({r.reference for r in results}) == [f"APS-2026-{n:04d}" for n in range(2, 15)]
        ref = results[0].reference
        store.acknowledge(ref, "alder", "mary.oak")
        with pytest.raises(ValueError, match="its status is 'acknowledged'"):
            store.acknowledge(ref, "alder", "mary.oak")
        store.close(ref, "alder", "mary.oak", note=NOTE_CANARY)
        assert store.show(ref, "alder", "mary.oak").status == "closed"
        assert store.verify_audit().ok
        claimed = store.claim_due(START, timedelta(minutes=5))
        assert len(claimed) == 14 and store.claim_due(START, timedelta(minutes=5)) == []
    finally:
        metadata.drop_all(store.engine)
        store.engine.dispose()


def _write_settings(root: Path) -> Path:
    path = root / "safeguarding.yml"
    path.write_text(SAFEGUARDING_YML, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ allegations


ROUTED = SafeguardingConfig({
    "alder": SchoolSafeguarding("alder", ("mary.oak",), ("dsl@alder.example",), "https://teams.example/hook",
                                allegation_readers=("head.alder",), allegation_email=("head@alder.example",)),
})


def test_an_allegation_about_staff_goes_to_the_allegation_readers_not_the_dsl(concerns_env: Path) -> None:
    """KCSIE part 4: a staff-conduct concern is read and notified by the headteacher's account only; the DSL
    list (which may hold the person accused) neither sees it nor is told, and a DSL's attempt is audited."""
    store = make_store(concerns_env, config=ROUTED)
    allegation = record(store, "m-staff", category="staff_conduct").reference
    other = record(store, "m-pupil").reference
    assert [c.reference for c in store.list_concerns("alder", "mary.oak", status="all")] == [other]
    assert [c.reference for c in store.list_concerns("alder", "head.alder", status="all")] == [allegation]
    with pytest.raises(ConcernNotFound, match=rf"^no concern {allegation} at school 'alder'$"):
        store.show(allegation, "alder", "mary.oak")
    with pytest.raises(ConcernNotFound):
        store.acknowledge(allegation, "alder", "mary.oak")
    assert store.show(allegation, "alder", "head.alder").words == CANARY
    store.acknowledge(allegation, "alder", "head.alder")
    with pytest.raises(ConcernNotFound):
        store.show(other, "alder", "head.alder")
    denied = [e for e in store.audit_entries() if e.action == "denied"]
    assert [(e.actor, e.detail) for e in denied] == [("mary.oak", "a concern routed to other readers")] * 2 + [
        ("head.alder", "a concern routed to other readers")]
    claimed = store.claim_due(datetime(2100, 1, 1, tzinfo=timezone.utc), timedelta(minutes=5))
    by_reference = {(item.reference, item.channel, item.destination) for item in claimed}
    assert by_reference == {(allegation, "email", "head@alder.example"), (other, "email", "dsl@alder.example"),
                            (other, "teams", "https://teams.example/hook")}


def test_without_allegation_readers_the_dsl_reads_staff_conduct_as_before(concerns_env: Path) -> None:
    store = make_store(concerns_env)
    reference = record(store, "m-staff", category="staff_conduct").reference
    assert store.show(reference, "alder", "mary.oak").category == "staff_conduct"


def test_allegation_email_without_readers_is_an_exact_error(tmp_path: Path) -> None:
    path = tmp_path / "safeguarding.yml"
    path.write_text("schools:\n  alder:\n    dsl_readers: [mary.oak]\n    allegation_email: [head@alder.example]\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match=r"school 'alder': allegation_email needs allegation_readers"):
        SafeguardingConfig.load(path)


def test_the_desk_tells_staff_an_allegation_went_to_the_headteacher_where_the_school_routes_them(
        concerns_env: Path) -> None:
    """The reply says where the record really went: the headteacher at a routing school, the DSL elsewhere."""
    from bot.safeguarding.desk import Disclosure, SafeguardingDesk
    from bot.safeguarding.types import ScreenResult

    result = ScreenResult("concern", "standard", "staff_conduct", 0.9)
    replies = []
    for number, config in enumerate((ROUTED, TINY_CONFIG)):
        store = make_store(concerns_env, config=config)
        desk = SafeguardingDesk(store, store.schools)
        outcome = desk.hand_off(Disclosure(message_id=f"m-desk-{number}", school="alder", role="staff",
                                           channel="teams", result=result, words=CANARY, kind="concern"))
        replies.append("\n".join(outcome.handoff.messages))
    routed, unrouted = replies
    assert "part 4" in routed and "not to the safeguarding team" in routed
    assert "part 4" not in unrouted and "also tell the headteacher today" in unrouted
