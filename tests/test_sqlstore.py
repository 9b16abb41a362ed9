"""The shared database plumbing (bot/sqlstore.py): real SQLite files under tmp_path, made 0600 and durable; bad
URLs are clear ValueErrors that never show a password."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from bot import sqlstore

PASSWORD = "s3cret-canary"

metadata = MetaData()
Table("things", metadata, Column("id", Integer, primary_key=True))


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which SQLite on its own would create the file 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def sqlite_engine(path: Path, lock_timeout_s: float = 5.0) -> Engine:
    return sqlstore.open_engine(f"sqlite:///{path}", lock_timeout_s=lock_timeout_s, what="test database")


def test_the_sqlite_file_is_created_0600_with_its_folders_and_tables(tmp_path: Path, usual_umask: None) -> None:
    path = tmp_path / "nested" / "folder" / "test.db"
    engine = sqlite_engine(path)
    assert not path.exists()  # opening the engine touches nothing

    sqlstore.create_schema(engine, metadata)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert inspect(engine).get_table_names() == ["things"]
    with engine.begin() as connection:
        connection.execute(metadata.tables["things"].insert().values(id=1))
        # While open (the last connection to close removes it), the write-ahead log has the file's mode.
        assert stat.S_IMODE(Path(f"{path}-wal").stat().st_mode) == 0o600


def test_every_sqlite_connection_is_wal_with_full_sync(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "test.db")
    sqlstore.create_schema(engine, metadata)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_transaction_takes_the_write_lock_at_begin_and_a_second_writer_times_out(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE: the lock is held from begin, so another writer waits its busy timeout, then fails."""
    path = tmp_path / "test.db"
    first, second = sqlite_engine(path), sqlite_engine(path, lock_timeout_s=0.1)
    sqlstore.create_schema(first, metadata)
    with first.begin():
        with pytest.raises(OperationalError, match="database is locked"):
            with second.begin():
                pass


@pytest.mark.parametrize("url", [
    "not a url",
    f"postgresql://bot:p@ss:{PASSWORD}@db/concerns",  # an unencoded '@' and ':' turn the password into a "port"
])
def test_an_unparseable_url_is_a_value_error_naming_the_setting_and_not_the_password(url: str) -> None:
    with pytest.raises(ValueError, match=r"^the test database URL is not a valid SQLAlchemy URL \(TEST_DB_URL\)$") \
            as caught:
        sqlstore.open_engine(url, lock_timeout_s=1, what="test database", env_var="TEST_DB_URL")
    assert PASSWORD not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_unusable_url_names_the_problem_with_the_password_masked() -> None:
    with pytest.raises(ValueError, match=r"^cannot use the test database URL nosuchdb://bot:\*\*\*@db/concerns: "
                                         r"NoSuchModuleError$") as caught:
        sqlstore.open_engine(f"nosuchdb://bot:{PASSWORD}@db/concerns", lock_timeout_s=1, what="test database")
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("url, postgres_lock_timeout, expected", [
    ("sqlite:///x.db", False, {"timeout": 2.5}),
    ("postgresql+psycopg2://bot@db/x", False, {"connect_timeout": 2}),
    ("postgresql+psycopg2://bot@db/x", True, {"connect_timeout": 2, "options": "-c lock_timeout=2500"}),
])
def test_the_engine_hides_parameters_and_bounds_every_wait(monkeypatch: pytest.MonkeyPatch, url: str,
                                                          postgres_lock_timeout: bool,
                                                          expected: dict[str, Any]) -> None:
    seen: dict[str, Any] = {}
    real_create_engine = sqlstore.create_engine

    def spy(*args: Any, **kwargs: Any) -> Engine:
        seen.update(kwargs)
        return real_create_engine(*args, **kwargs)

    monkeypatch.setattr(sqlstore, "create_engine", spy)
    sqlstore.open_engine(url, lock_timeout_s=2.5, what="test database", postgres_lock_timeout=postgres_lock_timeout)
    assert seen["hide_parameters"] is True
    assert seen["connect_args"] == expected


def test_the_safe_url_masks_the_password() -> None:
    shown = sqlstore.safe_url(make_url(f"postgresql+psycopg2://bot:{PASSWORD}@db:5432/concerns"))
    assert shown == "postgresql+psycopg2://bot:***@db:5432/concerns"


@pytest.mark.parametrize("url, expected", [
    ("sqlite:////srv/data/concerns.db", Path("/srv/data/concerns.db")),
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
    ("postgresql://bot@db/concerns", None),
])
def test_only_a_sqlite_url_with_a_path_names_a_file(url: str, expected: Path | None) -> None:
    assert sqlstore.sqlite_file(make_url(url)) == expected


def test_once_runs_its_step_once_even_when_called_together() -> None:
    once, calls, started = sqlstore.Once(), [], threading.Barrier(4)

    def call() -> None:
        started.wait()
        once.run(lambda: calls.append(1))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    once.run(lambda: calls.append(1))
    assert calls == [1]


def test_once_runs_a_failed_step_again() -> None:
    once, calls = sqlstore.Once(), []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk not there yet")

    with pytest.raises(OSError, match="^disk not there yet$"):
        once.run(flaky)
    once.run(flaky)
    once.run(flaky)
    assert len(calls) == 2


def test_an_older_database_gains_a_new_nullable_column_and_keeps_its_rows(tmp_path: Path) -> None:
    """A column a newer version adds (the concerns' `language`) is added to an existing table; a required one is
    an exact error, since existing rows could not have it."""
    from sqlalchemy import String, text

    engine = sqlite_engine(tmp_path / "old.db")
    old = MetaData()
    Table("things", old, Column("id", Integer, primary_key=True))
    sqlstore.create_schema(engine, old)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO things (id) VALUES (7)"))
    new = MetaData()
    Table("things", new, Column("id", Integer, primary_key=True), Column("language", String(16), nullable=True))
    sqlstore.create_schema(engine, new)
    assert {c["name"] for c in inspect(engine).get_columns("things")} == {"id", "language"}
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id, language FROM things")).all() == [(7, None)]
    required = MetaData()
    Table("things", required, Column("id", Integer, primary_key=True), Column("language", String(16)),
          Column("size", Integer, nullable=False))
    with pytest.raises(ValueError, match=r"^table things lacks the required column size; it cannot be added"):
        sqlstore.create_schema(engine, required)
