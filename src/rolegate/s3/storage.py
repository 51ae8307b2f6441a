"""Object bytes on the filesystem: immutable blob files named by random ids.

A write goes to `tmp/<id>.part`, is fsynced, then renamed to `blobs/<id[:2]>/<id>`; only then
does the caller commit the metadata row that names the blob. A crash or a disconnect before
that leaves at most a temporary file (swept on start) or an unreferenced blob, never a row
that points at partial bytes. Blobs are never modified: an overwrite writes a new blob and
deletes the old one after the row changed, so a reader that already opened the old file keeps
reading a complete object.

An object is a sequence of blobs (one per multipart part: completing an upload writes no
bytes) or, when small, held in its metadata row (`Ingest(inline_limit=...)`): a small PUT is
then one transaction and no file at all.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import hmac
import mmap
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]
from ..wire.aws_chunked import AwsChunkedDecoder, AwsChunkedError
from ..wire.checksums import Checksum, new_checksum
from .errors import S3Error

__all__ = [
    "COPY_CHUNK",
    "BlobChain",
    "BlobReader",
    "BlobSink",
    "BlobStore",
    "BlobWriter",
    "Blobs",
    "Ingest",
    "IngestResult",
    "drain_releases",
    "release_later",
]

COPY_CHUNK: Final = 8 * 1024 * 1024
PARALLEL_HASH_MIN: Final = 1024 * 1024
_HASHING: Final = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rolegate-s3-hash")
# Write-back waits on the disk: apart, so that it never holds up a hashing thread.
_SYNCING: Final = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rolegate-s3-sync")
_TMP_SUFFIX: Final = ".part"
MAP_MIN: Final = 1024 * 1024  # reads at least this large map the file (BlobChain.window)
_MAP_POPULATE: Final = getattr(mmap, "MAP_POPULATE", 0)


Bytes = bytes | bytearray | memoryview


class BlobSink(Protocol):
    """One blob being written; nothing of it is visible until `commit` returns its id."""

    blob_id: str
    size: int

    def write(self, data: Bytes) -> None: ...

    def start_sync(self) -> None: ...

    def commit(self) -> str: ...

    def abort(self) -> None: ...


class BlobReader(Protocol):
    """An object's blobs, opened in order and read as one byte sequence; the bytes stay
    readable after the blobs are deleted (an overwrite), until `close`."""

    size: int

    def pread(self, length: int, offset: int) -> bytes | memoryview:
        """Up to `length` bytes at `offset` (fewer at a blob's end, b"" past the end)."""
        ...

    def window(self, length: int, offset: int) -> bytes | memoryview:
        """`pread` for a response body: may be a view that must not outlive the process's
        interest in it (no copy where the store can avoid one)."""
        ...

    def read_all(self) -> bytes: ...

    def close(self) -> None: ...


class Blobs(Protocol):
    """Where object bytes live: `BlobStore` (files) or `shared_blobs.DatabaseBlobStore`."""

    def create(self) -> BlobSink: ...

    def open_chain(self, segments: Sequence[tuple[str, int]]) -> BlobReader: ...

    def delete(self, blob: str) -> None: ...

    def delete_all(self, blobs: list[str]) -> None: ...

    def release(self, blobs: list[str]) -> None: ...

    def exists(self, blob: str) -> bool: ...

    def duplicate(self, blob: str) -> str: ...

    def blob_ids(self) -> set[str]: ...

    def writes_in_flight(self) -> int: ...

    def sweep(self, older_than: float = 3600.0) -> int: ...

    def sweep_orphans(
        self, referenced: Callable[[], set[str]], older_than: float = 3600.0
    ) -> int: ...


class _Reclaimer:
    """Deletes blobs that no committed row names any more on its own thread, after the
    response (unlinking a 64 MB file costs ~20 ms of kernel time). Readers that opened them
    keep reading; a crash before the deletion leaves unlisted files."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rolegate-s3-reclaim")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, store: Blobs, blobs: list[str]) -> None:
        with self._idle:
            self._pending += 1
        self._thread.submit(self._delete, store, blobs)

    def _delete(self, store: Blobs, blobs: list[str]) -> None:
        try:
            store.delete_all(blobs)
        finally:
            with self._idle:
                self._pending -= 1
                if not self._pending:
                    self._idle.notify_all()

    def drain(self, timeout: float | None) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)


_RECLAIMER: Final = _Reclaimer()


def release_later(store: Blobs, blobs: list[str]) -> None:
    """Delete `blobs` from `store` on the reclaim thread (after the response)."""
    _RECLAIMER.submit(store, list(blobs))


def drain_releases(timeout: float | None = None) -> bool:
    """Wait until the blobs released so far are deleted (False on timeout)."""
    return _RECLAIMER.drain(timeout)


class BlobStore:
    """The directory of blob files (`blobs/`) and in-flight writes (`tmp/`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, blob: str) -> Path:
        if not blob.isalnum():
            raise ValueError(f"not a blob id: {blob!r}")
        return self.blobs / blob[:2] / blob

    def create(self) -> BlobWriter:
        return BlobWriter(self)

    def open(self, blob: str) -> BinaryIO:
        """Open a blob for reading (FileNotFoundError when it was deleted meanwhile)."""
        return open(self.path(blob), "rb")

    def delete(self, blob: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(blob))

    def delete_all(self, blobs: list[str]) -> None:
        for blob in blobs:
            self.delete(blob)

    def release(self, blobs: list[str]) -> None:
        """Delete blobs that no committed row names any more, after the response."""
        if blobs:
            release_later(self, blobs)

    def exists(self, blob: str) -> bool:
        return self.path(blob).exists()

    def blob_ids(self) -> set[str]:
        """Every committed blob (released ones that are not deleted yet included)."""
        return {entry.name for entry in self.blobs.glob("*/*") if entry.name.isalnum()}

    def writes_in_flight(self) -> int:
        """Blobs being written (temporary files, those a crash left included)."""
        return sum(1 for _ in self.tmp.glob(f"*{_TMP_SUFFIX}"))

    def duplicate(self, blob: str) -> str:
        """A new blob with the same bytes (a hard link: blobs are immutable)."""
        source = self.path(blob)
        new_id = uuid.uuid4().hex
        target = self.path(new_id)
        target.parent.mkdir(exist_ok=True)
        try:
            os.link(source, target)
        except FileNotFoundError:
            raise
        except OSError:  # no hard links on this filesystem: copy
            writer = self.create()
            try:
                with open(source, "rb") as src:
                    _copy(src, writer)
                return writer.commit()
            except BaseException:
                writer.abort()
                raise
        _fsync_directory(target.parent)
        return new_id

    def open_chain(self, segments: Sequence[tuple[str, int]]) -> BlobChain:
        """Open an object's blobs, in order (FileNotFoundError when one was deleted meanwhile:
        the object was overwritten)."""
        files: list[BinaryIO] = []
        try:
            for blob, _size in segments:
                files.append(self.open(blob))
        except BaseException:
            for file in files:
                file.close()
            raise
        return BlobChain(files, [size for _blob, size in segments])

    def sweep_orphans(self, referenced: Callable[[], set[str]], older_than: float = 3600.0) -> int:
        """Delete blob files that no row names (`referenced()`, read after the listing) and
        that have not changed for `older_than` seconds: deletions lost in a crash. A blob is
        renamed or linked into place (which sets its ctime) moments before its row commits,
        so a file named by no row after that long will never be. One process at a time sweeps
        a directory (an flock); the others return 0 at once."""
        with _exclusive(self.root / "sweep.lock") as mine:
            return self._sweep_orphans(referenced, older_than) if mine else 0

    def _sweep_orphans(self, referenced: Callable[[], set[str]], older_than: float) -> int:
        limit = time.time() - older_than
        candidates: list[Path] = []
        for entry in self.blobs.glob("*/*"):
            with contextlib.suppress(FileNotFoundError):
                if entry.name.isalnum() and entry.stat().st_ctime < limit:
                    candidates.append(entry)
        if not candidates:
            return 0
        named = referenced()
        removed = 0
        for entry in candidates:
            if entry.name not in named:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
        return removed

    def sweep(self, older_than: float = 3600.0) -> int:
        """Delete temporary files left by a crash (older than `older_than` seconds)."""
        removed = 0
        limit = time.time() - older_than
        for entry in self.tmp.glob(f"*{_TMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < limit:
                    entry.unlink()
                    removed += 1
        return removed


def _copy(source: BinaryIO, writer: BlobWriter) -> None:
    """Copy in the kernel when possible (copy_file_range), else through a buffer."""
    out = writer.file
    assert out is not None
    out.flush()
    if hasattr(os, "copy_file_range"):
        try:
            while True:
                copied = os.copy_file_range(source.fileno(), out.fileno(), COPY_CHUNK)
                if copied == 0:
                    break
                writer.size += copied
            out.seek(0, os.SEEK_END)
            return
        except OSError:
            out.seek(writer.size)
    while chunk := source.read(COPY_CHUNK):
        writer.write(chunk)


class BlobChain:
    """Open blob files read as one byte sequence (they stay readable after being deleted)."""

    def __init__(self, files: list[BinaryIO], sizes: list[int]) -> None:
        self.files = files
        self.starts: list[int] = []
        offset = 0
        for size in sizes:
            self.starts.append(offset)
            offset += size
        self.size = offset

    def pread(self, length: int, offset: int) -> bytes:
        """Up to `length` bytes at `offset`, from one blob (less at a blob's end)."""
        if not 0 <= offset < self.size:
            return b""
        index = bisect.bisect_right(self.starts, offset) - 1  # the last blob starting here
        return os.pread(self.files[index].fileno(), length, offset - self.starts[index])

    def window(self, length: int, offset: int) -> bytes | memoryview:
        """Like `pread`, but a large window is the page cache mapped (populated here, in the
        calling thread), not a copy: the socket send is then the only copy. The mapping
        goes when the last view of it does (an unlinked blob stays mapped until then)."""
        if not 0 <= offset < self.size:
            return b""
        index = bisect.bisect_right(self.starts, offset) - 1
        within = offset - self.starts[index]
        length = min(length, self.starts[index] + self._size_of(index) - offset)
        if length < MAP_MIN:
            return os.pread(self.files[index].fileno(), length, within)
        aligned = within - within % mmap.ALLOCATIONGRANULARITY
        mapped = mmap.mmap(
            self.files[index].fileno(),
            length + within - aligned,
            flags=mmap.MAP_SHARED | _MAP_POPULATE,
            prot=mmap.PROT_READ,
            offset=aligned,
        )
        return memoryview(mapped)[within - aligned :]

    def _size_of(self, index: int) -> int:
        following = self.starts[index + 1] if index + 1 < len(self.starts) else self.size
        return following - self.starts[index]

    def read_all(self) -> bytes:
        return b"".join(file.read() for file in self.files)

    def close(self) -> None:
        for file in self.files:
            file.close()


class BlobWriter:
    """One blob being written: a temporary file until `commit` renames it into place."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self.blob_id = uuid.uuid4().hex
        self.tmp_path = store.tmp / f"{self.blob_id}{_TMP_SUFFIX}"
        self.file: BinaryIO | None = open(self.tmp_path, "xb")  # noqa: SIM115
        self.size = 0
        self.committed = False
        self._syncing: Future[None] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert self.file is not None
        self.file.write(data)
        self.size += len(data)

    def start_sync(self) -> None:
        """Flush, wait for the previous batch's fdatasync (one batch ago: usually done) and
        start one for what was written so far, on a sync thread: the commit's fsync then
        only waits for the last batch. sync_file_range was cheaper to issue but left the
        device cache flush of the whole object to the commit (measured on the dev VM: final
        fsync 65-110 ms of a 64 MB PUT, against 2-7 ms this way, same CPU)."""
        assert self.file is not None
        self.file.flush()
        self._wait_sync()
        self._syncing = _SYNCING.submit(os.fdatasync, self.file.fileno())

    def _wait_sync(self) -> None:
        if self._syncing is not None:
            syncing, self._syncing = self._syncing, None
            with contextlib.suppress(OSError):
                syncing.result()

    def commit(self) -> str:
        """fsync, rename into `blobs/`; return the blob id."""
        assert self.file is not None
        self._wait_sync()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.file = None
        target = self.store.path(self.blob_id)
        target.parent.mkdir(exist_ok=True)
        os.replace(self.tmp_path, target)
        _fsync_directory(target.parent)
        self.committed = True
        return self.blob_id

    def abort(self) -> None:
        """Drop the temporary file (or the blob, if it was already renamed)."""
        self._wait_sync()
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp_path)
        if self.committed:
            self.store.delete(self.blob_id)


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[bool]:
    """Whether this process holds an flock of `lock_file` (True without flock support)."""
    if fcntl is None:  # pragma: no cover - not POSIX
        yield True
        return
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class IngestResult:
    """A received body: in a committed blob, or held in memory (`inline`) when small."""

    blob: str | None
    inline: bytes | None
    size: int
    md5_hex: str
    checksum_algorithm: str | None
    checksum_value: str | None


def _b64_md5(value: str) -> bytes | None:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        return None
    return raw if len(raw) == 16 else None


class Ingest:
    """Hash, check and write a request body as it arrives (synchronous; run in a thread).

    `expected_sha256` is a signed hex payload hash to verify; `checksums` maps algorithm to
    the expected base64 value (None: compute only); `decoder` decodes aws-chunked framing
    (and verifies its own trailing checksums); `content_md5` is the Content-MD5 header. A
    body of at most `inline_limit` bytes stays in memory and no blob is written.
    """

    def __init__(
        self,
        store: Blobs,
        *,
        max_size: int,
        expected_size: int | None,
        expected_sha256: str | None = None,
        checksums: dict[str, str | None] | None = None,
        decoder: AwsChunkedDecoder | None = None,
        content_md5: str | None = None,
        inline_limit: int = 0,
    ) -> None:
        self.store = store
        self.max_size = max_size
        self.inline_limit = inline_limit
        self.expected_size = expected_size
        self.expected_sha256 = expected_sha256.lower() if expected_sha256 else None
        self.decoder = decoder
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.raw_size = 0
        self.checksums: dict[str, Checksum] = {}
        self.expected: dict[str, str] = {}
        for algorithm, value in (checksums or {}).items():
            self.checksums[algorithm] = new_checksum(algorithm)
            if value is not None:
                self.expected[algorithm] = value.strip()
        # The signed payload hash covers the raw body; without aws-chunked framing that is
        # the object itself, so an x-amz-checksum-sha256 shares the one running SHA-256.
        self.sha256: Checksum | None = None
        if self.expected_sha256:
            shared = self.checksums.get("SHA256") if decoder is None else None
            self.sha256 = shared or new_checksum("SHA256")
        # MD5 (the ETag) and the write stay in the feeding thread; the other digests of a
        # large batch run beside them on a hashing thread (hashlib and zlib release the GIL).
        self._side = [c.update for c in self.checksums.values() if c is not self.sha256]
        self.content_md5: bytes | None = None
        if content_md5 is not None:
            self.content_md5 = _b64_md5(content_md5)
            if self.content_md5 is None:
                raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.")
        self.size = 0
        self.held: list[Bytes] = []
        self.writer: BlobSink | None = None

    def feed(self, data: Bytes) -> None:
        self.feed_all((data,))

    def feed_all(self, pieces: Sequence[Bytes]) -> None:
        """Consume the next pieces of the body (one worker call for several MB)."""
        try:
            if self.decoder is not None:
                raw = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                if self.sha256 is not None:
                    self.sha256.update(raw)
                self.raw_size += len(raw)
                data = self.decoder.feed(raw)
                self._check_size(len(data))
                self._digest((data,), self._side)
                return
            size = sum(len(piece) for piece in pieces)
            self.raw_size += size
            self._check_size(size)
            side = self._side if self.sha256 is None else [self.sha256.update, *self._side]
            self._digest(pieces, side)
        except AwsChunkedError as error:
            raise S3Error(error.code, error.message, error.status) from error

    def _check_size(self, size: int) -> None:
        if self.size + size > self.max_size:
            raise entity_too_large(self.size + size, self.max_size)

    def _digest(self, pieces: Sequence[Bytes], side: Sequence[Callable[[Bytes], None]]) -> None:
        """MD5 here; the `side` digests, the file write and the start of its write-back beside
        it, on a hashing thread when the batch is large (MD5 is the slowest digest and cannot
        be split: this thread does nothing else; sync_file_range can block on a busy disk)."""
        size = sum(len(piece) for piece in pieces)
        writer = self._writer_for(size)
        sinks = [*side, writer.write] if writer is not None else side
        pending = None
        if sinks and size >= PARALLEL_HASH_MIN:
            sync = writer.start_sync if writer is not None else None
            pending = _HASHING.submit(_update_all, sinks, pieces, sync)
        else:
            _update_all(sinks, pieces)
        try:
            for piece in pieces:
                self.md5.update(piece)
        finally:
            if pending is not None:
                pending.result()
        if writer is None:
            self.held.extend(pieces)
        self.size += size

    def _writer_for(self, incoming: int) -> BlobSink | None:
        """The blob to write to, created (with what was held so far) once the body outgrows
        `inline_limit`; None while it still fits in memory."""
        if self.writer is None and self.size + incoming > self.inline_limit:
            self.writer = self.store.create()
            for piece in self.held:
                self.writer.write(piece)
            self.held = []
        return self.writer

    def finish(self) -> IngestResult:
        """Verify everything declared, then fsync and rename the blob into place."""
        try:
            if self.decoder is not None:
                self.decoder.finish()
        except AwsChunkedError as error:
            raise S3Error(error.code, error.message, error.status) from error
        if (
            self.decoder is None
            and self.expected_size is not None
            and self.raw_size != self.expected_size
        ):
            raise S3Error(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length "
                "HTTP header",
            )
        if self.sha256 is not None and self.expected_sha256 is not None:
            actual = self.sha256.digest().hex()
            if not hmac.compare_digest(actual, self.expected_sha256):
                raise S3Error(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    extra={
                        "ClientComputedContentSHA256": self.expected_sha256,
                        "S3ComputedContentSHA256": actual,
                    },
                )
        digest = self.md5.digest()
        if self.content_md5 is not None and not hmac.compare_digest(digest, self.content_md5):
            raise S3Error(
                "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
        for algorithm, value in self.expected.items():
            actual_b64 = self.checksums[algorithm].b64digest()
            if not hmac.compare_digest(actual_b64.encode(), value.encode("ascii", "replace")):
                raise S3Error(
                    "BadDigest",
                    f"The {algorithm} you specified did not match the calculated checksum.",
                )
        stored_algorithm, stored_value = self._stored_checksum()
        if self.writer is None and self.inline_limit > 0:
            inline = b"".join(self.held)
            return IngestResult(
                None, inline, self.size, digest.hex(), stored_algorithm, stored_value
            )
        writer = self._writer_for(self.inline_limit + 1)  # an empty part still gets its blob
        assert writer is not None
        blob = writer.commit()
        return IngestResult(blob, None, self.size, digest.hex(), stored_algorithm, stored_value)

    def _stored_checksum(self) -> tuple[str | None, str | None]:
        if self.decoder is not None:
            for name in self.decoder.trailers:
                if name.startswith("x-amz-checksum-"):
                    algorithm = name.removeprefix("x-amz-checksum-").upper()
                    return algorithm, self.decoder.checksum(algorithm)
        for algorithm, checksum in self.checksums.items():
            return algorithm, checksum.b64digest()
        if self.decoder is not None:
            for algorithm in ("CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"):
                value = self.decoder.checksum(algorithm)
                if value is not None:
                    return algorithm, value
        return None, None

    def abort(self) -> None:
        self.held = []
        if self.writer is not None:
            self.writer.abort()


def _update_all(
    updates: Sequence[Callable[[Bytes], None]],
    pieces: Sequence[Bytes],
    then: Callable[[], None] | None = None,
) -> None:
    for update in updates:
        for piece in pieces:
            update(piece)
    if then is not None:
        then()


def entity_too_large(proposed: int, allowed: int) -> S3Error:
    return S3Error(
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        400,
        extra={"ProposedSize": proposed, "MaxSizeAllowed": allowed},
    )
