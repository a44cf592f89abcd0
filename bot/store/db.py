"""Open the store: which database (flag, $KEDA_AUTH_DB, else SQLite at a per-user default path), how its
connections behave, and whether its schema is current.

SQLite is created and migrated on first use, so a newcomer needs no set-up. PostgreSQL is never migrated
behind an operator's back (several replicas share it): it must be at the code's revision, or opening it
says to run `keda-auth db upgrade`.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from bot.errors import InputError
from bot.store import migrate

DB_ENV = "KEDA_AUTH_DB"


class StoreError(InputError):
    """The database cannot be used as given (bad URL, unreachable, schema behind the code)."""


def default_db_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "keda-auth" / "keda-auth.db"


def resolve_url(url: str | None = None) -> str:
    return url or os.environ.get(DB_ENV) or f"sqlite:///{default_db_path()}"


def _sqlite_connection_setup(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the write lock up front; we turn it
    # off and begin ourselves, IMMEDIATE for writers, so two writers queue instead of failing mid-way.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")


@dataclass
class Store:
    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction that writes: committed when the block ends, rolled back if it raises."""
        with self.engine.connect() as conn:
            conn.execution_options(writer=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent snapshot for the whole block: a chain walked page by page must not see events
        committed half-way (SQLite's read transactions are snapshots already; PostgreSQL's default is not)."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


def create_store_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {url!r} (expected sqlite:///PATH or "
                         "postgresql+psycopg://USER@HOST:PORT/DB)") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL")
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver we ship
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError("an in-memory SQLite database would lose the audit trail; give a file path")
        path = Path(parsed.database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Made 0600 before SQLite opens it: its -wal and -shm files take the database file's mode.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot create the SQLite database {path}: {exc.strerror or exc}") from exc
        parsed = parsed.set(database=str(path))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 60}
        kwargs["pool_size"], kwargs["max_overflow"] = 8, 64
    else:
        # No pre-ping: it is one more round trip per transaction, a fifth of an audit append. A connection lost
        # to a failover fails one operation and invalidates the pool (SQLAlchemy's optimistic handling), and
        # connections are recycled before a proxy or firewall would silently drop them.
        kwargs["pool_size"], kwargs["max_overflow"], kwargs["pool_recycle"] = 5, 20, 1800
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"no driver for {parsed.drivername} is installed ({exc}); keda-auth ships psycopg: "
                         "use postgresql+psycopg://") from exc
    if engine.dialect.name == "sqlite":
        _sqlite_connection_setup(engine)
    return engine


def open_store(url: str | None = None) -> Store:
    """The store at `url` (else $KEDA_AUTH_DB, else the default SQLite file), ready to use."""
    engine = create_store_engine(resolve_url(url))
    store = Store(engine)
    try:
        if engine.dialect.name == "sqlite":
            _migrate_sqlite(store)
        else:
            current, head = migrate.current_revision(engine), migrate.head_revision()
            if current != head:
                raise StoreError(f"the database {store.display_url} is at revision {current or 'none (empty)'}, "
                                 f"this keda-auth needs {head}: run `keda-auth db upgrade`")
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(f"cannot reach the database {store.display_url}: {exc.orig}") from exc
    except BaseException:
        engine.dispose()
        raise
    return store


_MIGRATING = threading.Lock()  # Alembic keeps module-global state: one migration per process at a time


def _migrate_sqlite(store: Store) -> None:
    database = store.engine.url.database
    assert database is not None
    path = Path(database)
    # Taken before the first connection: two processes opening a new database at once must neither both create
    # its tables nor race to switch it to WAL (SQLite fails such a race at once instead of waiting).
    lock = os.open(path.with_name(path.name + ".migrate-lock"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if migrate.current_revision(store.engine) != migrate.head_revision():
            with _MIGRATING:
                migrate.upgrade(store.engine)
    finally:
        os.close(lock)  # releases the lock
