"""The database plumbing the concern and induction stores share: one way to open, secure and prepare a database.

`open_engine` turns a URL into a SQLAlchemy engine whose errors never carry SQL parameters (a record's words, a
name), that gives up after `lock_timeout_s` rather than hang, and that on SQLite is durable (WAL,
synchronous=FULL, BEGIN IMMEDIATE). `create_schema` creates a SQLite file 0600 before its tables, and `Once` runs
that on first use, so a store that is down fails per call, not at import. Error messages name the problem and
the URL with its password masked, never the password.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError


def parse_url(url: str, *, what: str, env_var: str | None = None) -> URL:
    """`url` parsed, or a ValueError naming the `what` database (and its variable) without quoting the URL."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        # make_url raises a bare ValueError for a bad port, quoting it; with an unencoded '@' or ':' in the
        # password that "port" is part of the password, so neither error's text is passed on.
        where = f" ({env_var})" if env_var else ""
        raise ValueError(f"the {what} URL is not a valid SQLAlchemy URL{where}") from None


def safe_url(url: URL) -> str:
    """The URL as messages and reprs show it: the password masked as ***."""
    return repr(url)


def sqlite_file(url: URL) -> Path | None:
    """The database file a SQLite URL names; None for in-memory SQLite and for other databases."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def open_engine(url: str | URL, *, lock_timeout_s: float, what: str, env_var: str | None = None,
                postgres_lock_timeout: bool = False) -> Engine:
    """An engine for `url` that hides SQL parameters, waits at most `lock_timeout_s` for a lock or a connection
    (with `postgres_lock_timeout`, for a PostgreSQL row lock too) and on SQLite is durable; an unusable URL is a
    ValueError naming `what` and the URL with its password masked."""
    parsed = parse_url(url, what=what, env_var=env_var) if isinstance(url, str) else url
    sqlite = parsed.get_backend_name() == "sqlite"
    try:
        connect_args: dict[str, Any] = {}
        if sqlite:
            connect_args = {"timeout": lock_timeout_s}  # SQLite's busy timeout: how long to wait for the lock
        elif parsed.get_driver_name() == "psycopg2":  # loads the dialect: NoSuchModuleError if there is none
            # Fail (and so tell the person to speak to an adult) rather than hang on a dead server or a lock.
            connect_args = {"connect_timeout": max(1, round(lock_timeout_s))}
            if postgres_lock_timeout:
                connect_args["options"] = f"-c lock_timeout={int(lock_timeout_s * 1000)}"
        # hide_parameters: SQL errors and echo never carry a record's words or a person's name.
        engine = create_engine(parsed, future=True, hide_parameters=True, connect_args=connect_args)
    except (ArgumentError, SQLAlchemyError, ImportError) as problem:
        raise ValueError(f"cannot use the {what} URL {safe_url(parsed)}: {type(problem).__name__}") from None
    if sqlite:
        sqlite_durability(engine)
    return engine


def sqlite_durability(engine: Engine) -> None:
    """WAL (readers never block the writer), synchronous=FULL (a commit survives power loss) and BEGIN
    IMMEDIATE (the write lock is taken up front, so two writers queue on the busy timeout instead of failing)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite must not emit its own BEGIN; the hook below does
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_private_file(path: Path) -> None:
    """Create `path` (and its folders) readable by its owner only, unless it exists: the stores hold records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # SQLite would create it with the umask (often 0644); SQLite gives its -wal and -shm files the
        # database file's permissions, so they are 0600 too.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def create_schema(engine: Engine, metadata: MetaData) -> None:
    """Create a SQLite database's file 0600, then whichever of `metadata`'s tables are missing, then any nullable
    column a newer version added to an existing table (so an older database keeps its rows and gains the column)."""
    path = sqlite_file(engine.url)
    if path is not None:
        create_private_file(path)
    metadata.create_all(engine)
    add_missing_columns(engine, metadata)


def add_missing_columns(engine: Engine, metadata: MetaData) -> None:
    """ALTER TABLE ... ADD COLUMN for each nullable column of `metadata` a table in the database lacks."""
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateColumn

    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column for column in table.columns if column.name not in present]
        for column in missing:
            if not column.nullable:
                raise ValueError(f"table {table.name} lacks the required column {column.name}; it cannot be added "
                                 f"to existing rows")
            with engine.begin() as connection:
                definition = CreateColumn(column).compile(dialect=engine.dialect)
                connection.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {definition}")



def secure_delete(connection: Connection) -> None:
    """On SQLite, make this connection's deletes overwrite the deleted rows with zeros: otherwise their text stays
    in the file's free pages until reused. Other databases: nothing (their storage is the operator's)."""
    if connection.engine.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA secure_delete=ON")


def truncate_wal(engine: Engine) -> None:
    """On a SQLite database in WAL mode, copy the write-ahead log into the file and empty it, so pages written
    before a delete (the deleted text) do not linger there. Best effort: a reader holding a snapshot keeps it."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

class Once:
    """Runs a setup step once, on first use and thread-safe; a step that raises runs again on the next call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False

    def run(self, step: Callable[[], None]) -> None:
        """Run `step` unless it has already succeeded; concurrent callers wait for the first one."""
        if self._done:
            return
        with self._lock:
            if self._done:
                return
            step()
            self._done = True
