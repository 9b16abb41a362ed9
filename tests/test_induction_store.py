"""The induction store (bot/induction/store.py): progress survives reopening, completions are recorded once per
person per plan version, the file is 0600, chat user ids are never stored, and names stay out of reprs and errors."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.induction import flow
from bot.induction.flow import InductionProgress
from bot.induction.plans import InductionPlan, load_plan
from bot.induction.store import (InductionStore, InductionStoreUnavailable, clean_person, default_database_url,
                                 user_key)
from bot.schools import SchoolDirectory
from test_induction_plans import induction_data  # noqa: F401 - fixture

USER = "rest:7f3a-sender-id"
NAME = "Sam Canary-Smith"
STARTED = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
FINISHED = datetime(2026, 3, 2, 9, 20, tzinfo=timezone.utc)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def plan(schools: SchoolDirectory, induction_data: Path) -> InductionPlan:  # noqa: F811
    return load_plan("alder", "teacher", schools=schools)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "db" / "induction.db"


@pytest.fixture
def store(db: Path, schools: SchoolDirectory) -> InductionStore:
    return InductionStore(sqlite_url(db), schools=schools)


def finished(plan: InductionPlan, *choices: str) -> InductionProgress:
    """An acknowledged alder teacher induction with these answers (all right by default)."""
    progress = flow.start("alder", "teacher", plan=plan, now=STARTED)
    for choice in choices or ("a", "b", "b"):
        progress, _ = flow.answer(progress, choice, plan=plan)
    return flow.acknowledge(progress, plan=plan, now=FINISHED)


def test_progress_survives_reopening_the_store(store: InductionStore, db: Path, schools: SchoolDirectory,
                                               plan: InductionPlan) -> None:
    progress = flow.start("alder", "teacher", plan=plan, now=STARTED)
    progress, _ = flow.answer(progress, "a", plan=plan)
    store.save_progress(USER, progress)
    reopened = InductionStore(sqlite_url(db), schools=schools)
    assert reopened.load_progress("alder", USER) == progress
    assert reopened.load_progress("alder", "someone-else") is None
    assert reopened.load_progress("birch", USER) is None  # progress is per school


def test_saving_again_replaces_the_saved_progress(store: InductionStore, plan: InductionPlan) -> None:
    first = flow.start("alder", "teacher", plan=plan, now=STARTED)
    second, _ = flow.answer(first, "b", plan=plan)
    store.save_progress(USER, first)
    store.save_progress(USER, second)
    assert store.load_progress("alder", USER) == second
    assert store.clear_progress("alder", USER) is True
    assert store.load_progress("alder", USER) is None
    assert store.clear_progress("alder", USER) is False


def test_a_completion_is_recorded_once_per_person_and_plan_version(store: InductionStore,
                                                                   plan: InductionPlan) -> None:
    done = finished(plan, "a", "c", "b")
    store.save_progress(USER, done)
    first = store.record_completion(USER, done, NAME)
    again = store.record_completion(USER, done)  # a retried "I have read and understood"
    assert (first.created, again.created) == (True, False)
    assert again.record == first.record
    record = first.record
    assert (record.school, record.role, record.plan_version, record.person) == ("alder", "teacher", 1, NAME)
    assert (record.started_at, record.completed_at) == (STARTED, FINISHED)
    assert (record.steps_completed, record.steps_total, record.score) == (3, 3, 2)
    assert record.step_ids == ("phones", "drawer", "passwords")
    assert record.acknowledgement == plan.acknowledgement
    assert store.completions("alder") == [record]
    assert store.load_progress("alder", USER) is None  # the finished progress is dropped with the record
    # Another person, or the next version of the steps, is a new record.
    assert store.record_completion("another-sender", done).created
    assert store.record_completion(USER, InductionProgress.from_dict({**done.to_dict(), "plan_version": 2})).created
    assert len(store.completions("alder")) == 3 and store.completions("birch") == []


def test_only_an_acknowledged_induction_can_be_recorded(store: InductionStore, plan: InductionPlan) -> None:
    progress = flow.start("alder", "teacher", plan=plan)
    with pytest.raises(ValueError, match=r"^the induction is not complete \(in progress\); record it after the "
                                         r"acknowledgement$"):
        store.record_completion(USER, progress)
    assert store.completions("alder") == []


def test_a_name_can_be_added_after_the_record_is_written(store: InductionStore, plan: InductionPlan) -> None:
    assert store.set_person("alder", USER, NAME) is False  # nothing to add it to yet
    store.record_completion(USER, finished(plan))
    assert store.latest_completion("alder", USER).person is None
    assert store.set_person("alder", USER, f"  {NAME}\n") is True
    assert store.latest_completion("alder", USER).person == NAME
    assert store.latest_completion("alder", "someone-else") is None


def test_the_database_file_is_created_readable_by_its_owner_only(store: InductionStore, db: Path,
                                                                 plan: InductionPlan) -> None:
    store.save_progress(USER, flow.start("alder", "teacher", plan=plan))
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) == 0o600


def test_chat_user_ids_are_stored_only_as_hashes(store: InductionStore, db: Path, plan: InductionPlan) -> None:
    store.save_progress(USER, flow.start("alder", "teacher", plan=plan))
    store.record_completion("other-" + USER, finished(plan))
    with sqlite3.connect(db) as connection:
        rows = [json.dumps(row) for table in ("induction_progress", "induction_completions")
                for row in connection.execute(f"SELECT * FROM {table}")]  # noqa: S608 - fixed table names
    assert rows and not any(USER in row for row in rows)
    assert user_key(USER) in rows[0] and len(user_key(USER)) == 64
    with pytest.raises(ValueError, match=r"^user_id must be a non-empty string \(the chat's sender id\)$"):
        user_key("  ")


def test_names_stay_out_of_reprs_and_errors(store: InductionStore, plan: InductionPlan) -> None:
    record = store.record_completion(USER, finished(plan), NAME).record
    assert NAME not in repr(record) and "person=<given>" in repr(record)
    assert NAME not in repr(store)
    with pytest.raises(ValueError, match=r"^a name or staff id can be at most 100 characters$") as caught:
        clean_person(NAME * 10)
    assert "Canary" not in str(caught.value)


@pytest.mark.parametrize("typed, kept", [("  Sam   Smith ", "Sam Smith"), ("EMP\x00042\u202e", "EMP 042"),
                                         ("", None), ("   ", None), (None, None)])
def test_a_typed_name_is_tidied(typed: str | None, kept: str | None) -> None:
    assert clean_person(typed) == kept


def test_unknown_schools_are_exact_errors(store: InductionStore, plan: InductionPlan) -> None:
    with pytest.raises(ValueError, match=r"^unknown school 'aldr'; known: alder, birch$"):
        store.completions("aldr")
    with pytest.raises(ValueError, match=r"^unknown school 'aldr'; known: alder, birch$"):
        store.load_progress("aldr", USER)


def test_unreadable_saved_progress_is_dropped_not_raised(store: InductionStore, db: Path,
                                                         plan: InductionPlan) -> None:
    store.save_progress(USER, flow.start("alder", "teacher", plan=plan))
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE induction_progress SET state = '{\"school\": \"alder\"}'")
    assert store.load_progress("alder", USER) is None
    assert store.clear_progress("alder", USER) is False  # it was dropped


def test_a_store_that_cannot_open_says_so_without_details(tmp_path: Path, schools: SchoolDirectory,
                                                          plan: InductionPlan) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    broken = InductionStore(sqlite_url(blocker / "induction.db"), schools=schools)  # cheap: opens on first use
    with pytest.raises(InductionStoreUnavailable, match=r"^the induction store is unavailable \(\w+\)$"):
        broken.save_progress(USER, flow.start("alder", "teacher", plan=plan))
    with pytest.raises(ValueError, match=r"^the induction database URL is not a valid SQLAlchemy URL"):
        InductionStore("not a url", schools=schools)


def test_the_default_url_is_under_artifacts_unless_the_environment_says(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICYBOT_INDUCTION_DATABASE_URL", raising=False)
    monkeypatch.setenv("POLICYBOT_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    assert default_database_url() == f"sqlite:///{tmp_path / 'artifacts' / 'induction.db'}"
    monkeypatch.setenv("POLICYBOT_INDUCTION_DATABASE_URL", "postgresql://bot@db/policybot")
    assert default_database_url() == "postgresql://bot@db/policybot"
