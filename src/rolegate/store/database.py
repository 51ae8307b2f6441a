"""The store: one interface over SQLite (embedded, WAL) and PostgreSQL (shared by nodes).

Every use case runs in one transaction (`Database.write()` / `Database.read()`), which
commits when the block ends and rolls back on any exception. Writes to an account first bump
that account's `generation` (`UnitOfWork.lock_account`): on PostgreSQL the UPDATE takes the
row lock, so writers to one account are serialized and check-then-insert rules (two access
keys per user, name uniqueness) hold under races; on SQLite `BEGIN IMMEDIATE` takes the
database write lock. The generation also tells every node that cached policies are stale.

SQLite writers first queue at a `WriteGate` (threads on a lock, processes on an flock of a
file beside the database): SQLite's own busy handler polls, sleeping up to 100 ms a step,
while a queue hands the lock to the next writer at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, update
from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: threads still queue
    fcntl = None  # type: ignore[assignment]

from ..clock import Clock, SystemClock
from .schema import accounts

__all__ = ["Database", "UnitOfWork", "as_utc", "default_sqlite_url"]

SQLITE_FILE = "rolegate.db"


def default_sqlite_url(data_dir: str | Path) -> str:
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / SQLITE_FILE}"


def as_utc(moment: datetime) -> datetime:
    """Datetimes read back from SQLite are naive: they were written as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=8,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Hand transaction control to us (pysqlite would BEGIN lazily and deferred):
            # `begin_sqlite` starts each transaction. Not through an engine "begin" event:
            # any connection event makes SQLAlchemy dispatch events around every statement.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(parsed, pool_size=8, max_overflow=16, pool_pre_ping=True)


def begin_sqlite(connection: Connection, *, writing: bool) -> None:
    """Start the SQLite transaction of `connection.begin()` (pysqlite's is a no-op here):
    BEGIN IMMEDIATE takes the write lock up front, so a writer never fails to upgrade."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("BEGIN IMMEDIATE" if writing else "BEGIN")


class WriteGate:
    """Where the SQLite writers of all processes on one database file wait their turn."""

    def __init__(self, lock_file: Path | None) -> None:
        self._threads = threading.Lock()
        self._lock_file = lock_file
        self._fd: int | None = None
        self._pid = os.getpid()

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            fd = self._descriptor()
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _descriptor(self) -> int | None:
        # A forked child must not share the parent's open file: flock is per open file.
        if self._fd is not None and self._pid != os.getpid():
            self._fd = None
        if self._fd is None and self._lock_file is not None and fcntl is not None:
            self._fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _write_gate(url: str) -> WriteGate | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return WriteGate(None)
    return WriteGate(Path(f"{database}.write-lock"))


class UnitOfWork:
    """One transaction: the connection, the time it started, and the account locks taken.

    `serialized`: the store runs one writer at a time (SQLite), so a writer needs no row
    locks to keep what it read unchanged until it commits."""

    def __init__(self, connection: Connection, now: datetime, *, serialized: bool = False) -> None:
        self.connection = connection
        self.now = now
        self.serialized = serialized
        self._locked: set[str] = set()

    def lock_account(self, account_id: str) -> None:
        """Serialize writers of this account and mark its cached policies stale."""
        if account_id in self._locked:
            return
        self.connection.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(generation=accounts.c.generation + 1)
        )
        self._locked.add(account_id)


class Database:
    def __init__(self, url: str, clock: Clock | None = None) -> None:
        self.url = url
        self.clock: Clock = clock or SystemClock()
        self.engine = _engine_for(url)
        self._gate = _write_gate(url)
        self._migrated = threading.Event()
        self._on_dispose: list[Callable[[], None]] = []
        # SQLite connections between transactions (see `_transaction`).
        self._idle: list[Connection] | None = [] if self.is_sqlite else None
        self._idle_lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to run from several processes)."""
        from .migrate import upgrade_to_head

        upgrade_to_head(self.engine, self._transaction)
        self._migrated.set()

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        if self._gate is None:
            with self._write() as uow:
                yield uow
            return
        with self._gate.turn(), self._write() as uow:
            yield uow

    @contextmanager
    def _write(self) -> Iterator[UnitOfWork]:
        with self._transaction(writing=True) as connection:
            yield UnitOfWork(connection, self.clock.now(), serialized=self.is_sqlite)

    @contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        with self._transaction(writing=False) as connection:
            yield UnitOfWork(connection, self.clock.now())

    @contextmanager
    def _transaction(self, *, writing: bool) -> Iterator[Connection]:
        if self._idle is None:
            with self.engine.connect() as connection, connection.begin():
                yield connection
            return
        # SQLite: an open Connection is taken from the idle list and put back after the
        # transaction. engine.connect() and close() (pool checkout, reset on return) cost
        # ~60% of an empty transaction here: ~100 us of every request's.
        connection = self._idle_connection()
        try:
            with connection.begin():
                begin_sqlite(connection, writing=writing)
                yield connection
        finally:
            self._put_back(connection)

    def _idle_connection(self) -> Connection:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return self.engine.connect()

    def _put_back(self, connection: Connection) -> None:
        if connection.closed or connection.invalidated or connection.in_transaction():
            connection.close()
            return
        with self._idle_lock:
            if self._idle is not None:
                self._idle.append(connection)
                return
        connection.close()

    def _close_idle(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, ([] if self._idle is not None else None)
        for connection in idle or ():
            connection.close()

    def on_dispose(self, release: Callable[[], None]) -> None:
        """Run `release` when the store is disposed (pools of its own, e.g. S3 blobs)."""
        self._on_dispose.append(release)

    def dispose(self) -> None:
        for release in self._on_dispose:
            release()
        self._close_idle()
        self.engine.dispose()
        if self._gate is not None:
            self._gate.close()
