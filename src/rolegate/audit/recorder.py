"""Where recorded events go: a per-process append-only journal, ingested into the store.

Design (see docs/architecture.md, "Audit trail"). A request's events must survive anything
that happens after its response was sent, without a second transaction or an fsync per
request:

- `record_capture()` appends a request's line (its capture: `audit.capture`; `record()` the
  same for finished records) to this process's journal file
  (`<dir>/<store>-<pid>-<random>.jsonl`, opened O_APPEND), before the response goes out; on
  the event loop the lines of one loop turn share one `os.write` (`audit.batching`). Once
  `write` returned, the bytes are in the kernel's page cache: a kill -9 (or any crash of
  the process) loses nothing. The records are built from the captures at ingestion.
- The journal is closed every `interval` seconds (and at `ROTATE_BYTES`) and a new one
  opened. A closed journal is one nobody holds: an ingester takes its `flock`, stores its
  complete lines, up to `BATCH_LINES` per write transaction, with the event id as primary key
  (a line ingested twice, after a crash between the commit and the removal, is ignored: the
  rows that already exist are skipped), then removes it. Journals of processes that died are
  unlocked too, and taken the same way.
- Who ingests: `rolegate serve` starts one ingesting process for its directory (`rolegate
  audit ingest --follow`: the request path is bound by one core's GIL, the ingestion then
  runs beside it); a trail made in-process without one (`ingest=True`, tests, embedding)
  ingests in its own background thread. `flush()` closes this process's journal and ingests
  what it wrote, for a caller that must see its latest events.
- The ingester prunes events older than the retention (default 90 days), oldest first,
  1000 per transaction.

Why not the request's own transaction: reads (most requests, GetObject, AssumeRole) run in a
read transaction, and an extra write transaction per request would queue every request on the
store's single writer (SQLite) or cost a commit round trip each (PostgreSQL); the journal
turns N requests into one batched write. What it does not cover is a power loss within the
`interval` (the page cache is lost with the machine), the same window the store's own
`synchronous=NORMAL` SQLite commits have.

Without a directory (a store without data directory, e.g. an in-memory SQLite test store)
`DirectAuditTrail` inserts each request's events synchronously in a transaction of their
own; `DisabledAuditTrail` records nothing (`rolegate serve --no-audit`, for benchmarks).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from ..store.database import Database
from .batching import LoopBatcher, collector
from .capture import records_of_capture
from .entries import decode_lines, encode_capture, encode_records, prune_events, store_entries
from .record import console_event

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "INGESTER_ENV",
    "INTERVAL_ENV",
    "JOURNAL_DIRECTORY",
    "THREAD_NAME",
    "AuditTrail",
    "DirectAuditTrail",
    "DisabledAuditTrail",
    "JournalAuditTrail",
    "SignalFlag",
    "audit_trail_for",
    "ingest_journals",
    "journal_directory",
    "run_ingester",
]

log = logging.getLogger("rolegate.audit")

DEFAULT_RETENTION_DAYS: Final = 90
JOURNAL_DIRECTORY: Final = "audit-journal"
INTERVAL_ENV: Final = "ROLEGATE_AUDIT_INTERVAL"  # seconds between ingestion rounds
# "process": a separate process ingests this server's journals (`rolegate serve` sets it).
INGESTER_ENV: Final = "ROLEGATE_AUDIT_INGESTER"
PRUNE_INTERVAL: Final = 3600.0
THREAD_NAME: Final = "rolegate-audit"  # the ingesting thread's, in Python and in the OS
_READ_CHUNK: Final = 4 * 1024 * 1024


# --------------------------------------------------------------------------- journals
def journal_directory(database_url: str, s3_data_dir: Path | None = None) -> Path | None:
    """`audit-journal/` beside the SQLite file, else in the S3 data directory; None without
    either (events are then stored synchronously)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            return Path(url.database).resolve().parent / JOURNAL_DIRECTORY
        return None
    if s3_data_dir is not None:
        return Path(s3_data_dir).resolve() / JOURNAL_DIRECTORY
    return None


def _store_key(database_url: str) -> str:
    """A short name of the store, so that journals of different stores sharing a directory
    are never ingested into the wrong one."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        identity = f"sqlite:{Path(url.database or '').resolve()}"
    else:
        identity = f"{url.get_backend_name()}:{url.host}:{url.port}/{url.database}"
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def _read_complete(fd: int, start: int, size: int) -> tuple[bytes, int]:
    """The complete lines between `start` and `size` (at most about `_READ_CHUNK` bytes,
    more when one line is longer) and the offset after them."""
    data = os.pread(fd, min(size - start, _READ_CHUNK), start)
    end = data.rfind(b"\n") + 1
    while end == 0 and start + len(data) < size:  # one line longer than a chunk
        data += os.pread(fd, min(size - start - len(data), _READ_CHUNK), start + len(data))
        end = data.rfind(b"\n") + 1
    return data[:end], start + end


def _ingest_file(database: Database, fd: int, source: str, batch_lines: int) -> int:
    stored = offset = 0
    size = os.fstat(fd).st_size
    while offset < size:
        data, after = _read_complete(fd, offset, size)
        if after == offset:  # a torn last line: the writer died inside it
            log.warning("dropping an incomplete last line of %s", source)
            break
        entries = decode_lines(data, source)
        for start in range(0, len(entries), batch_lines):
            stored += store_entries(database, entries[start : start + batch_lines])
        offset = after
    return stored


def _ingest_path(database: Database, path: Path, batch_lines: int, *, wait: bool) -> int:
    """Ingest, then remove, one journal nobody writes to any more; 0 when it is gone or
    (unless `wait`) locked: a live writer's, or one another ingester is storing."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0
        if os.fstat(fd).st_nlink == 0:
            return 0  # stored and removed by another ingester meanwhile
        stored = _ingest_file(database, fd, str(path), batch_lines)
        path.unlink(missing_ok=True)
        return stored
    finally:
        os.close(fd)


def ingest_journals(
    database: Database, directory: Path, *, skip: Path | None = None, batch_lines: int = 2000
) -> int:
    """Ingest, then remove, the journals in `directory` written for this store that no live
    recorder holds (closed ones, and those of processes that died); the number of events
    stored."""
    if fcntl is None or not directory.is_dir():
        return 0
    stored = 0
    for path in sorted(directory.glob(f"{_store_key(database.url)}-*.jsonl")):
        if skip is None or path != skip:
            stored += _ingest_path(database, path, batch_lines, wait=False)
    return stored


def _ingest_when_unlocked(database: Database, directory: Path, pid: int) -> int:
    """Ingest the journals of the dying process `pid` as soon as they are unlocked."""
    stored = 0
    deadline = time.monotonic() + 10.0
    pattern = f"{_store_key(database.url)}-{pid}-*.jsonl"
    while any(directory.glob(pattern)) and time.monotonic() < deadline:
        time.sleep(0.02)
        stored += ingest_journals(database, directory)
    return stored


class Flag(Protocol):
    def is_set(self) -> bool: ...


class SignalFlag:
    """A flag a signal handler may set: no lock (a `threading.Event` takes one, and a second
    signal arriving inside `set` deadlocked on it: the parent-death signal comes once per
    exiting thread of the parent)."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


def _sleep_unless(stop: Flag, seconds: float) -> None:
    """Sleep `seconds`, or less once `stop` is set (looked at every 0.1 s)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(remaining, 0.1))


def run_ingester(
    database: Database,
    directory: Path,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    *,
    interval: float = 1.0,
    parent: int | None = None,
    stop: Flag | None = None,
    orphaned: Flag | None = None,
) -> int:
    """Ingest the closed journals in `directory` every `interval` seconds and prune hourly,
    until `stop` is set or the process `parent` has ended; then one last round. When
    `orphaned` is set the parent is dying: the last round waits (up to 10 s) for its
    journals to be unlocked, which happens only once all its threads are gone. The loop of
    `rolegate audit ingest --follow`. Returns the number of events stored."""
    stop = stop or SignalFlag()
    stored = 0
    next_prune = 0.0
    while True:
        last = stop.is_set() or (parent is not None and os.getppid() != parent)
        try:
            stored += ingest_journals(database, directory)
            if last and parent is not None and orphaned is not None and orphaned.is_set():
                stored += _ingest_when_unlocked(database, directory, parent)
            now = time.monotonic()
            if now >= next_prune:
                next_prune = now + PRUNE_INTERVAL
                prune_events(database, retention_days)
        except Exception:  # the journals stay: the next round retries
            log.warning("audit ingestion failed", exc_info=True)
            if not last:
                _sleep_unless(stop, 5.0)
        if last:
            return stored
        _sleep_unless(stop, interval)


# --------------------------------------------------------------------------- trails
class AuditTrail:
    """What the request pipeline records events with (`gateway.audit`).

    - `record(records, at=...)`: store CloudTrail records (dicts as `record.api_call` /
      `record.console_event` build them: each names its `recipientAccountId`; a cross-account
      event is one record per account). Durable once it returns.
    - `record_console_event(**fields)`: build a sign-in event (`ConsoleLogin`, `SwitchRole`,
      `ExitRole`, ...: the arguments of `record.console_event`) and record it.
    - `flush()`: make everything recorded so far visible in the store (tests, a lookup that
      must see this node's latest events).
    """

    enabled: bool = True
    # Whether `record` runs a write transaction of its own (then never on the event loop).
    writes_per_request: bool = False

    def __init__(self, database: Database, retention_days: float = DEFAULT_RETENTION_DAYS):
        self.database = database
        self.retention_days = retention_days

    def record(self, records: Sequence[Mapping[str, Any]], *, at: datetime | None = None) -> None:
        raise NotImplementedError

    def record_capture(self, capture: Mapping[str, Any]) -> None:
        """Store the records of a captured request (`audit.capture`); durable once it
        returns (inside `batching.collecting()`, a batching trail collects it instead)."""
        moment = datetime.fromtimestamp(capture["time"], UTC)
        self.record(records_of_capture(capture), at=moment)

    async def record_capture_soon(self, capture: Mapping[str, Any]) -> None:
        """`record_capture` on the event loop: a batching trail writes it with the other
        requests of this loop iteration; durable once it returns."""
        self.record_capture(capture)

    def record_console_event(self, **fields: Any) -> dict[str, Any]:
        """Record one sign-in event (see `record.console_event`); returns the record."""
        built = console_event(**fields)
        self.record([built], at=fields.get("event_time"))
        return built

    def flush(self) -> int:
        """Store what was recorded so far; the number of events stored."""
        return 0

    def prune(self) -> int:
        """Delete the events older than the retention now; the number deleted."""
        return prune_events(self.database, self.retention_days)

    def close(self) -> None:
        """Stop background work and store what is pending."""


class DisabledAuditTrail(AuditTrail):
    """Records nothing (`rolegate serve --no-audit`)."""

    enabled = False

    def record(self, records: Sequence[Mapping[str, Any]], *, at: datetime | None = None) -> None:
        return None

    def record_capture(self, capture: Mapping[str, Any]) -> None:
        return None

    def prune(self) -> int:
        return 0


def _name_os_thread(name: str) -> None:
    """Give the calling thread `name` in the OS too (`top -H`, /proc/<pid>/task/*/comm):
    the ingestion's CPU can then be told from the request path's (bench/audit_overhead.py)."""
    with contextlib.suppress(OSError):  # not Linux: the Python name only
        Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text(name[:15])


class _Maintained(AuditTrail):
    """A trail whose background thread ingests and prunes."""

    PRUNE_INTERVAL: float = PRUNE_INTERVAL
    ingests: bool = True  # False: a separate process ingests and prunes

    def __init__(
        self,
        database: Database,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        *,
        interval: float = 1.0,
        background: bool = True,
    ) -> None:
        super().__init__(database, retention_days)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._maintain, name=THREAD_NAME, daemon=True)
            self._thread.start()

    def _maintain(self) -> None:
        _name_os_thread(THREAD_NAME)
        next_prune = 0.0
        while True:
            try:
                self._round()
                now = time.monotonic()
                if self.ingests and now >= next_prune:
                    next_prune = now + self.PRUNE_INTERVAL
                    self.prune()
            except Exception:  # the events stay in the journal: the next round retries
                log.warning("audit trail maintenance failed", exc_info=True)
                if self._stop.wait(5.0):
                    return
            if self._stop.wait(self.interval):
                return

    def _round(self) -> None:
        self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


class DirectAuditTrail(_Maintained):
    """Stores each request's events at once, in a write transaction of their own."""

    writes_per_request = True

    def record(self, records: Sequence[Mapping[str, Any]], *, at: datetime | None = None) -> None:
        if records:
            store_entries(self.database, decode_lines(encode_records(records, at), "memory"))


class JournalAuditTrail(_Maintained):
    """This process's journal: appended to on the request path, closed (rotated) every
    `interval` seconds or `ROTATE_BYTES`, and the closed journals ingested by this process's
    thread or, with `ingest=False`, by a separate ingesting process (`rolegate audit ingest
    --follow`, which `rolegate serve` starts: it runs on another core than the GIL-bound
    request path)."""

    BATCH_LINES: int = 2000
    ROTATE_BYTES: int = 1024 * 1024

    def __init__(
        self,
        database: Database,
        directory: Path,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        *,
        interval: float = 1.0,
        background: bool = True,
        ingest: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ingests = ingest
        self._write_lock = threading.Lock()
        self._ingest_lock = threading.Lock()
        self._closed = False
        self._rotated: list[Path] = []  # closed by this process, maybe not ingested yet
        self._batcher = LoopBatcher(self.append)
        self.database = database
        self._open_journal()
        super().__init__(database, retention_days, interval=interval, background=background)

    def _open_journal(self) -> None:
        name = f"{_store_key(self.database.url)}-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
        path = self.directory / name
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.path, self._fd, self._size, self._opened = path, fd, 0, time.monotonic()

    def record(self, records: Sequence[Mapping[str, Any]], *, at: datetime | None = None) -> None:
        if records:
            self.append(encode_records(records, at))

    def record_capture(self, capture: Mapping[str, Any]) -> None:
        collected = collector()
        if collected is not None:
            collected.lines.append(encode_capture(capture))
            collected.batcher = self._batcher
        else:
            self.append(encode_capture(capture))

    async def record_capture_soon(self, capture: Mapping[str, Any]) -> None:
        await self._batcher.submit(encode_capture(capture))

    def append(self, lines: bytes) -> None:
        """Journal complete lines (one `write`; durable against a crash of the process once
        it returned)."""
        view = memoryview(lines)
        with self._write_lock:
            if self._closed:
                raise RuntimeError("the audit trail is closed")
            if self._size >= self.ROTATE_BYTES:
                self._rotate()
            while view:
                view = view[os.write(self._fd, view) :]
            self._size += len(lines)

    def _rotate(self) -> None:
        """Close the journal if it has lines (then nobody holds its lock: an ingester takes
        it) and go on in a new one. Under the write lock."""
        if self._size == 0:
            return
        full, fd = self.path, self._fd
        self._open_journal()
        self._rotated.append(full)
        os.close(fd)

    def _round(self) -> None:
        with self._write_lock:
            if not self._closed and time.monotonic() - self._opened >= self.interval:
                self._rotate()
        if self.ingests:
            self.flush()
            self.ingest_orphans()

    def flush(self) -> int:
        """Close the journal and ingest what this process journaled (waiting for an ingester
        that is storing one of them)."""
        with self._ingest_lock:
            with self._write_lock:
                if self._closed:
                    return 0
                self._rotate()
                waiting, self._rotated = self._rotated, []
            return sum(
                _ingest_path(self.database, path, self.BATCH_LINES, wait=True) for path in waiting
            )

    def ingest_orphans(self) -> int:
        return ingest_journals(
            self.database, self.directory, skip=self.path, batch_lines=self.BATCH_LINES
        )

    def close(self) -> None:
        """Ingest what is pending, then remove the journal (nothing is lost if this fails:
        the journal stays and the next start ingests it)."""
        super().close()
        with self._ingest_lock, self._write_lock:
            if self._closed:
                return
            if self._size == 0:
                self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._closed = True


def audit_trail_for(
    database: Database,
    s3_data_dir: Path | None = None,
    *,
    enabled: bool = True,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    directory: Path | None = None,
) -> AuditTrail:
    """The trail of a server process: a journal in `directory` (default `journal_directory`),
    synchronous inserts when there is no directory, nothing when not `enabled`."""
    if not enabled:
        return DisabledAuditTrail(database, retention_days)
    directory = directory or journal_directory(database.url, s3_data_dir)
    interval = float(os.environ.get(INTERVAL_ENV, "1.0"))
    if directory is None:
        return DirectAuditTrail(database, retention_days, interval=interval)
    ingest = os.environ.get(INGESTER_ENV) != "process"
    return JournalAuditTrail(database, directory, retention_days, interval=interval, ingest=ingest)
