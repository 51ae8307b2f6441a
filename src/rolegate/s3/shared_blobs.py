"""Object bytes in PostgreSQL, so that every node of a store reads every object.

With `--db postgresql://...` several nodes share the metadata; a blob file on one node's
`--data` disk would be unreadable through the others. Here a blob is a row of `s3_blobs` and
its bytes are rows of `s3_blob_chunks` of `CHUNK_SIZE` bytes (the last one shorter), so a byte
offset names its chunk and a range read fetches only the chunks it covers. Nothing is held
whole in memory: a write sends each chunk as it fills, a read fetches a few chunks at a time.

- A write is one transaction on its own connection: the chunks go in as the body arrives and
  are visible only once `commit` (which stamps `created_at`) returns, before the metadata row
  that names the blob commits. A failed or cut-off upload rolls back: it leaves nothing, and
  no temporary state outlives a crash.
- A read runs in one REPEATABLE READ, READ ONLY transaction: its snapshot keeps the chunks of
  a blob that an overwrite deleted (through any node) readable until the read ends, as an
  open file is on one node.
- The orphan sweep (blobs that no row names, older than an hour: deletions a crash cut off)
  runs on one node at a time (a PostgreSQL advisory lock); the age is the database server's
  clock, the same for every node.
- Blob files written before the store kept bytes here (an earlier version on PostgreSQL, on
  this node's `--data` directory) are still read and deleted through `legacy`, by that node;
  a copy of one (CopyObject) goes into the database.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..store.database import Database
from .errors import S3Error
from .storage import COPY_CHUNK, BlobReader, Blobs, BlobStore, Bytes, release_later

__all__ = ["CHUNK_SIZE", "DatabaseBlobStore", "open_blob_store"]

CHUNK_SIZE: Final = 1024 * 1024
# pg_try_advisory_lock key of the orphan sweep ("rgS3" in ASCII).
_SWEEP_LOCK: Final = 0x72675333

_INSERT_BLOB: Final = (
    "INSERT INTO s3_blobs (id, size, created_at) VALUES (%s, 0, clock_timestamp())"
)
_INSERT_CHUNK: Final = "INSERT INTO s3_blob_chunks (blob, seq, data) VALUES (%s, %s, %b)"
_SEAL_BLOB: Final = "UPDATE s3_blobs SET size = %s, created_at = clock_timestamp() WHERE id = %s"
_READ_CHUNKS: Final = (
    "SELECT data FROM s3_blob_chunks WHERE blob = %s AND seq BETWEEN %s AND %s ORDER BY seq"
)


class _OpenWrites:
    """How many blob writes are open in this process (tests and operators look)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self, delta: int) -> None:
        with self._lock:
            self.count += delta


_OPEN_WRITES: Final = _OpenWrites()


def open_blob_store(database: Database, data_dir: Path) -> Blobs:
    """Where this node keeps object bytes: files in `data_dir` on SQLite (one host), the
    database itself on PostgreSQL (every node reads every object; `data_dir` then only
    holds blob files an earlier version wrote)."""
    files = BlobStore(data_dir)
    if database.is_sqlite:
        return files
    store = DatabaseBlobStore(database.engine.url, files)  # the driver the store chose
    database.on_dispose(store.engine.dispose)
    return store


def _engine(url: str | URL) -> Engine:
    """A pool of its own: a write or a read holds a connection for the whole transfer, and
    must never starve the metadata transactions."""
    return create_engine(url, pool_size=2, max_overflow=30, pool_timeout=10, pool_pre_ping=True)


class DatabaseBlobStore:
    """Blobs in PostgreSQL (`s3_blobs`, `s3_blob_chunks`); see the module docstring."""

    def __init__(self, url: str | URL, legacy: BlobStore) -> None:
        self.engine = _engine(url)
        self.legacy = legacy

    # ------------------------------------------------------------------ connections

    def _connection(self) -> Any:
        """A connection of the blob pool; SlowDown (503) while every one of them carries a
        transfer for longer than the pool waits."""
        try:
            return self.engine.raw_connection()
        except PoolTimeout:
            raise S3Error("SlowDown", "Please reduce your request rate.", 503) from None

    def _run(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement in its own transaction; its rows (none for a write)."""
        connection = self._connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                rows = cursor.fetchall() if cursor.description is not None else []
            connection.commit()
            return rows
        finally:
            connection.close()

    # ------------------------------------------------------------------ writes

    def create(self) -> _DatabaseBlobWriter:
        return _DatabaseBlobWriter(self)

    def duplicate(self, blob: str) -> str:
        """A new blob with the same bytes, copied inside the database server."""
        new_id = uuid.uuid4().hex
        connection = self._connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO s3_blobs (id, size, created_at) "
                    "SELECT %s, size, clock_timestamp() FROM s3_blobs WHERE id = %s",
                    (new_id, blob),
                )
                if cursor.rowcount != 1:
                    connection.rollback()
                    return self._copy_legacy(blob)
                cursor.execute(
                    "INSERT INTO s3_blob_chunks (blob, seq, data) "
                    "SELECT %s, seq, data FROM s3_blob_chunks WHERE blob = %s",
                    (new_id, blob),
                )
            connection.commit()
            return new_id
        finally:
            connection.close()

    def _copy_legacy(self, blob: str) -> str:
        """A blob file of this node's directory copied into the database (every node reads
        the copy); FileNotFoundError when the file is gone."""
        with self.legacy.open(blob) as source:
            writer = self.create()
            try:
                while piece := source.read(COPY_CHUNK):
                    writer.write(piece)
                return writer.commit()
            except BaseException:
                writer.abort()
                raise

    def delete(self, blob: str) -> None:
        self.delete_all([blob])

    def delete_all(self, blobs: list[str]) -> None:
        if not blobs:
            return
        self._run("DELETE FROM s3_blobs WHERE id = ANY(%s)", (list(blobs),))
        self.legacy.delete_all(blobs)

    def release(self, blobs: list[str]) -> None:
        """Delete blobs that no committed row names any more, after the response."""
        if blobs:
            release_later(self, blobs)

    # ------------------------------------------------------------------ reads

    def open_chain(self, segments: Sequence[tuple[str, int]]) -> DatabaseChain:
        return DatabaseChain(self, segments)

    def exists(self, blob: str) -> bool:
        found = self._run("SELECT 1 FROM s3_blobs WHERE id = %s", (blob,))
        return bool(found) or self.legacy.exists(blob)

    def blob_ids(self) -> set[str]:
        return {str(row[0]) for row in self._run("SELECT id FROM s3_blobs")}

    def writes_in_flight(self) -> int:
        return _OPEN_WRITES.count

    # ------------------------------------------------------------------ sweeps

    def sweep(self, older_than: float = 3600.0) -> int:
        """Uncommitted writes roll back by themselves; legacy temporary files remain."""
        return self.legacy.sweep(older_than)

    def sweep_orphans(self, referenced: Callable[[], set[str]], older_than: float = 3600.0) -> int:
        """Delete blobs that no row names (`referenced()`, read after the listing) and that
        were committed over `older_than` seconds ago (the database server's clock). One node
        at a time sweeps (an advisory lock); the others return 0 at once."""
        removed = self.legacy.sweep_orphans(referenced, older_than)
        connection = self._connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (_SWEEP_LOCK,))
                row = cursor.fetchone()
                connection.commit()
                if not row or not row[0]:
                    return removed
                try:
                    cursor.execute(
                        "SELECT id FROM s3_blobs WHERE created_at < "
                        "clock_timestamp() - make_interval(secs => %s)",
                        (older_than,),
                    )
                    candidates = {str(found[0]) for found in cursor.fetchall()}
                    connection.commit()
                    if candidates:
                        orphans = sorted(candidates - referenced())
                        cursor.execute(
                            "DELETE FROM s3_blobs WHERE id = ANY(%s) AND created_at < "
                            "clock_timestamp() - make_interval(secs => %s)",
                            (orphans, older_than),
                        )
                        removed += max(cursor.rowcount, 0)
                        connection.commit()
                finally:
                    connection.rollback()
                    cursor.execute("SELECT pg_advisory_unlock(%s)", (_SWEEP_LOCK,))
                    connection.commit()
            return removed
        finally:
            connection.close()


class _DatabaseBlobWriter:
    """One blob being written: its row and full chunks go in as data arrives, in one
    transaction that `commit` ends."""

    def __init__(self, store: DatabaseBlobStore) -> None:
        self.store = store
        self.blob_id = uuid.uuid4().hex
        self.size = 0
        self.committed = False
        self._seq = 0
        self._pending: list[Bytes] = []
        self._pending_size = 0
        self._connection: Any = store._connection()
        _OPEN_WRITES.add(1)
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(_INSERT_BLOB, (self.blob_id,))
        except BaseException:
            self._close(rollback=True)
            raise

    def write(self, data: Bytes) -> None:
        if not data:
            return
        self._pending.append(bytes(data) if isinstance(data, memoryview) else data)
        self._pending_size += len(data)
        self.size += len(data)
        if self._pending_size >= CHUNK_SIZE:
            self._send(final=False)

    def _send(self, *, final: bool) -> None:
        """Insert the full chunks held (and the short last one when `final`)."""
        joined = b"".join(self._pending)
        whole = len(joined) if final else len(joined) - len(joined) % CHUNK_SIZE
        rows = []
        for start in range(0, whole, CHUNK_SIZE):
            rows.append((self.blob_id, self._seq, joined[start : start + CHUNK_SIZE]))
            self._seq += 1
        rest = joined[whole:]
        self._pending = [rest] if rest else []
        self._pending_size = len(rest)
        if rows:
            with self._connection.cursor() as cursor:
                cursor.executemany(_INSERT_CHUNK, rows)

    def start_sync(self) -> None:
        """Nothing to start: the chunks are sent as they fill."""

    def commit(self) -> str:
        self._send(final=True)
        with self._connection.cursor() as cursor:
            cursor.execute(_SEAL_BLOB, (self.size, self.blob_id))
        self._connection.commit()
        self.committed = True
        self._close(rollback=False)
        return self.blob_id

    def abort(self) -> None:
        self._pending = []
        self._close(rollback=True)
        if self.committed:
            self.store.delete(self.blob_id)

    def _close(self, *, rollback: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        _OPEN_WRITES.add(-1)
        try:
            if rollback:
                connection.rollback()
        finally:
            connection.close()


class DatabaseChain:
    """An object's blobs read in one snapshot (REPEATABLE READ): a blob deleted meanwhile
    stays readable until `close`. Legacy segments are files of `store.legacy`."""

    def __init__(self, store: DatabaseBlobStore, segments: Sequence[tuple[str, int]]) -> None:
        self.starts: list[int] = []
        self.sizes: list[int] = []
        offset = 0
        for _blob, size in segments:
            self.starts.append(offset)
            self.sizes.append(size)
            offset += size
        self.size = offset
        self.blobs = [blob for blob, _size in segments]
        self._files: dict[int, BlobReader] = {}
        self._connection: Any = store._connection()
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT id FROM s3_blobs WHERE id = ANY(%s)", (self.blobs,))
                present = {str(row[0]) for row in cursor.fetchall()}
            for index, blob in enumerate(self.blobs):
                if blob not in present:  # FileNotFoundError: overwritten meanwhile
                    self._files[index] = store.legacy.open_chain([segments[index]])
        except BaseException:
            self.close()
            raise

    def pread(self, length: int, offset: int) -> bytes | memoryview:
        """Up to `length` bytes at `offset`, from one blob (fewer at a blob's end)."""
        if not 0 <= offset < self.size or length <= 0:
            return b""
        index = _segment_at(self.starts, offset)
        within = offset - self.starts[index]
        length = min(length, self.sizes[index] - within)
        if index in self._files:
            return self._files[index].pread(length, within)
        first, last = within // CHUNK_SIZE, (within + length - 1) // CHUNK_SIZE
        with self._connection.cursor(binary=True) as cursor:
            cursor.execute(_READ_CHUNKS, (self.blobs[index], first, last))
            chunks = [row[0] for row in cursor.fetchall()]
        skip = within - first * CHUNK_SIZE
        if len(chunks) == 1:
            return memoryview(chunks[0])[skip : skip + length]
        return memoryview(b"".join(chunks))[skip : skip + length]

    def window(self, length: int, offset: int) -> bytes | memoryview:
        index = _segment_at(self.starts, offset) if 0 <= offset < self.size else -1
        legacy = self._files.get(index)
        if legacy is not None:
            return legacy.window(length, offset - self.starts[index])
        return self.pread(length, offset)

    def read_all(self) -> bytes:
        pieces = []
        offset = 0
        while offset < self.size:
            piece = self.pread(self.size - offset, offset)
            if not piece:
                raise OSError(f"blob ended early at offset {offset}")
            pieces.append(piece)
            offset += len(piece)
        return b"".join(pieces)

    def close(self) -> None:
        for reader in self._files.values():
            reader.close()
        self._files = {}
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.rollback()
            finally:
                connection.close()


def _segment_at(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset) - 1
