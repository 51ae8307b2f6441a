"""Unit tests of the S3 building blocks: names, routing, listing, ranges, blobs, policies."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rolegate.iam.accounts import create_account
from rolegate.s3 import catalog, storage
from rolegate.s3.access import validate_bucket_policy
from rolegate.s3.catalog import Content, ObjectRecord, Part, Upload, prefix_end
from rolegate.s3.endpoint import default_data_dir
from rolegate.s3.errors import S3Error
from rolegate.s3.names import is_valid_bucket_name
from rolegate.s3.reads import parse_range
from rolegate.s3.routing import route_request
from rolegate.s3.storage import BlobStore, Ingest, drain_releases
from rolegate.store.database import Database, default_sqlite_url


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("productionapp", True),
        ("a.b-c", True),
        ("abc", True),
        ("ab", False),
        ("a" * 63, True),
        ("a" * 64, False),
        ("Upper", False),
        ("under_score", False),
        ("-dash", False),
        ("dash-", False),
        ("a..b", False),
        ("a.-b", False),
        ("10.0.0.1", False),
        ("xn--abc", False),
        ("name-s3alias", False),
    ],
)
def test_bucket_names(name: str, valid: bool) -> None:
    assert is_valid_bucket_name(name) is valid


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("GET", "/", [], {}, "ListBuckets"),
        ("PUT", "/b", [], {}, "CreateBucket"),
        ("HEAD", "/b", [], {}, "HeadBucket"),
        ("DELETE", "/b/", [], {}, "DeleteBucket"),
        ("GET", "/b", [("list-type", "2")], {}, "ListObjectsV2"),
        ("GET", "/b", [], {}, "ListObjects"),
        ("GET", "/b", [("policy", "")], {}, "GetBucketPolicy"),
        ("PUT", "/b", [("policy", "")], {}, "PutBucketPolicy"),
        ("DELETE", "/b", [("policy", "")], {}, "DeleteBucketPolicy"),
        ("GET", "/b", [("location", "")], {}, "GetBucketLocation"),
        ("GET", "/b", [("uploads", "")], {}, "ListMultipartUploads"),
        ("POST", "/b", [("delete", "")], {}, "DeleteObjects"),
        ("PUT", "/b/k", [], {}, "PutObject"),
        ("PUT", "/b/k", [], {"x-amz-copy-source": "b/j"}, "CopyObject"),
        ("GET", "/b/a/b%20c", [], {}, "GetObject"),
        ("HEAD", "/b/k", [], {}, "HeadObject"),
        ("DELETE", "/b/k", [], {}, "DeleteObject"),
        ("POST", "/b/k", [("uploads", "")], {}, "CreateMultipartUpload"),
        ("PUT", "/b/k", [("partNumber", "1"), ("uploadId", "u")], {}, "UploadPart"),
        (
            "PUT",
            "/b/k",
            [("partNumber", "1"), ("uploadId", "u")],
            {"x-amz-copy-source": "/src/key"},
            "UploadPartCopy",
        ),
        ("POST", "/b/k", [("uploadId", "u")], {}, "CompleteMultipartUpload"),
        ("DELETE", "/b/k", [("uploadId", "u")], {}, "AbortMultipartUpload"),
        ("GET", "/b/k", [("uploadId", "u")], {}, "ListParts"),
    ],
)
def test_routing(
    method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], operation: str
) -> None:
    assert route_request(method, path, query, headers).operation == operation


def test_routing_keys_and_unsupported() -> None:
    route = route_request("GET", "/b/dir//a%20b%2Bc", [], {})
    assert (route.bucket, route.key) == ("b", "dir//a b+c")
    with pytest.raises(S3Error) as caught:
        route_request("GET", "/b", [("versioning", "")], {})
    assert caught.value.code == "NotImplemented"
    with pytest.raises(S3Error) as caught:
        route_request("DELETE", "/", [], {})
    assert caught.value.status == 405


def test_prefix_end() -> None:
    assert prefix_end("a/") == "a0"
    assert prefix_end("") is None
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("\ud7ff".encode("utf-8", "surrogatepass").decode("utf-8", "replace"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=9-5", None),
        ("items=0-1", None),
        (None, None),
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


def test_unsatisfiable_range() -> None:
    with pytest.raises(S3Error) as caught:
        parse_range("bytes=100-", 100)
    assert (caught.value.code, caught.value.status) == ("InvalidRange", 416)


def test_default_data_dir(tmp_path: Path) -> None:
    assert default_data_dir(default_sqlite_url(tmp_path)) == tmp_path.resolve() / "s3-objects"
    assert default_data_dir("postgresql://h/db").name == "s3-objects"


# ---------------------------------------------------------------------------- blobs


def test_ingest_commits_atomically(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = os.urandom(300_000)
    ingest = Ingest(
        store,
        max_size=10**6,
        expected_size=len(data),
        expected_sha256=hashlib.sha256(data).hexdigest(),
    )
    ingest.feed(data[:1000])
    assert list(store.blobs.rglob("*.*")) == []  # only the temporary file exists
    assert len(list(store.tmp.iterdir())) == 1
    ingest.feed(data[1000:])
    result = ingest.finish()
    assert list(store.tmp.iterdir()) == []
    assert store.path(result.blob).read_bytes() == data
    assert result.md5_hex == hashlib.md5(data).hexdigest()


def test_ingest_failures_leave_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    ingest = Ingest(store, max_size=10, expected_size=None)
    with pytest.raises(S3Error) as caught:
        ingest.feed(b"x" * 11)
    assert caught.value.code == "EntityTooLarge"
    ingest.abort()
    short = Ingest(store, max_size=100, expected_size=50)
    short.feed(b"x" * 10)
    with pytest.raises(S3Error) as caught:
        short.finish()
    assert caught.value.code == "IncompleteBody"
    short.abort()
    wrong = Ingest(store, max_size=100, expected_size=3, expected_sha256="0" * 64)
    wrong.feed(b"abc")
    with pytest.raises(S3Error) as caught:
        wrong.finish()
    assert caught.value.code == "XAmzContentSHA256Mismatch"
    wrong.abort()
    assert list(store.tmp.iterdir()) == []
    assert [p for p in store.blobs.rglob("*") if p.is_file()] == []


def test_blob_chain_reads_blobs_as_one_sequence(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    segments = []
    for piece in (b"one-", b"", b"two-", b"three"):
        writer = store.create()
        writer.write(piece)
        segments.append((writer.commit(), len(piece)))
    chain = store.open_chain(segments)
    for blob, _size in segments:
        store.delete(blob)  # open files stay readable
    assert chain.size == 13
    assert chain.read_all() == b"one-two-three"
    whole = b"one-two-three"
    for offset in range(14):
        for length in (1, 3, 20):
            got = chain.pread(length, offset)
            assert got and whole[offset:].startswith(got) if offset < 13 else got == b""
    chain.close()
    with pytest.raises(FileNotFoundError):
        store.open_chain(segments)


def test_released_blobs_go_after_the_call_and_open_readers_keep_reading(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blobs = []
    for piece in (b"first", b"second"):
        writer = store.create()
        writer.write(piece)
        blobs.append(writer.commit())
    reader = store.open_chain([(blobs[0], 5)])
    store.release(blobs)
    store.release([])
    assert drain_releases(timeout=10)
    assert not any(store.exists(blob) for blob in blobs)
    assert reader.read_all() == b"first"
    reader.close()
    store.release(["0" * 32])  # already gone: nothing to do, no error
    assert drain_releases(timeout=10)


def test_large_ingest_starts_write_back_per_batch(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = os.urandom(3 * storage.PARALLEL_HASH_MIN + 17)
    ingest = Ingest(store, max_size=len(data), expected_size=len(data))
    for start in range(0, len(data), storage.PARALLEL_HASH_MIN):
        ingest.feed(data[start : start + storage.PARALLEL_HASH_MIN])
    writer = ingest.writer
    assert isinstance(writer, storage.BlobWriter)
    assert writer._syncing is not None  # the last batch's fdatasync runs; the tail: fsync
    result = ingest.finish()
    assert result.blob is not None
    assert store.path(result.blob).read_bytes() == data
    assert result.md5_hex == hashlib.md5(data).hexdigest()


def test_ingest_keeps_small_bodies_in_memory(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    small = Ingest(store, max_size=100, expected_size=10, inline_limit=10)
    small.feed(b"0123")
    small.feed(b"456789")
    result = small.finish()
    assert (result.blob, result.inline, result.size) == (None, b"0123456789", 10)
    assert list(store.tmp.iterdir()) == []
    grown = Ingest(store, max_size=100, expected_size=11, inline_limit=10)
    grown.feed(b"0123456789")
    assert list(store.tmp.iterdir()) == []
    grown.feed(b"a")
    result = grown.finish()
    assert result.inline is None and result.blob is not None
    assert store.path(result.blob).read_bytes() == b"0123456789a"
    empty_part = Ingest(store, max_size=100, expected_size=0).finish()
    assert empty_part.blob is not None and store.path(empty_part.blob).read_bytes() == b""


def test_duplicate_and_sweep(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = store.create()
    writer.write(b"one-two-three")
    blob = writer.commit()
    copy = store.duplicate(blob)
    store.delete(blob)
    assert store.path(copy).read_bytes() == b"one-two-three"
    stale = store.tmp / "dead.part"
    stale.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    assert store.sweep() == 1


def test_sweep_orphans_deletes_old_files_no_row_names(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blobs = []
    for body in (b"kept", b"orphan", b"another orphan"):
        writer = store.create()
        writer.write(body)
        blobs.append(writer.commit())
    asked: list[bool] = []

    def referenced() -> set[str]:
        asked.append(True)
        return {blobs[0], "0" * 32}

    assert store.sweep_orphans(referenced) == 0  # all younger than an hour: no query either
    assert asked == []
    with open(store.root / "sweep.lock", "a") as held:  # another process is sweeping
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert store.sweep_orphans(referenced, older_than=-60) == 0
    assert asked == []
    assert store.sweep_orphans(referenced, older_than=-60) == 2
    assert asked == [True]
    assert store.exists(blobs[0])
    assert not store.exists(blobs[1]) and not store.exists(blobs[2])


# ---------------------------------------------------------------------------- policies


def test_bucket_policy_validation() -> None:
    good = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
        '"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}'
    )
    validate_bucket_policy(good, "b")
    for bad, message in (
        (good.replace('"Principal":"*",', ""), "Principal"),
        (good.replace("arn:aws:s3:::b/*", "arn:aws:s3:::c/*"), "Policy has invalid resource"),
        (good.replace("s3:GetObject", "iam:GetUser"), "Policy has invalid action"),
    ):
        with pytest.raises(S3Error) as caught:
            validate_bucket_policy(bad, "b")
        assert caught.value.code == "MalformedPolicy"
        assert message in caught.value.message


# ---------------------------------------------------------------------------- listing


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(default_sqlite_url(tmp_path))
    database.migrate()
    yield database
    database.dispose()


def _fill(database: Database, keys: list[str]) -> None:
    now = datetime.now(UTC)
    with database.write() as uow:
        account = create_account(uow, None).account_id
        catalog.create_bucket(uow, "b", account, "us-east-1")
        for key in keys:
            catalog.put_object(
                uow,
                ObjectRecord("b", key, Content(inline=b"x"), 1, "e", now, None, {}, {}),
            )


def _all_pages(
    database: Database, *, prefix: str = "", delimiter: str = "", size: int
) -> list[list[str]]:
    pages: list[list[str]] = []
    after: str | None = None
    is_prefix = False
    while True:
        with database.read() as uow:
            page = catalog.list_page(
                uow,
                "b",
                prefix=prefix,
                delimiter=delimiter,
                after=after,
                after_is_prefix=is_prefix,
                max_keys=size,
            )
        pages.append([c.key for c in page.contents] + page.common_prefixes)
        if not page.truncated:
            return pages
        after, is_prefix = page.last, page.last_is_prefix


def test_referenced_blobs_are_those_of_objects_and_parts(database: Database) -> None:
    now = datetime.now(UTC)
    with database.write() as uow:
        account = create_account(uow, None).account_id
        catalog.create_bucket(uow, "b", account, "us-east-1")
        for key, content in (
            ("inline", Content(inline=b"x")),
            ("single", Content.blob("a" * 32, 10)),
            ("parts", Content(segments=(("b" * 32, 5), ("c" * 32, 5)))),
        ):
            catalog.put_object(uow, ObjectRecord("b", key, content, 10, "e", now, None, {}, {}))
        catalog.create_upload(uow, Upload("u1", "b", "k", "arn", account, None, {}, {}, None, now))
        catalog.put_part(uow, "u1", Part(1, "d" * 32, 5, "e", None, now))
    with database.read() as uow:
        assert catalog.referenced_blobs(uow) == {"a" * 32, "b" * 32, "c" * 32, "d" * 32}


def test_listing_in_byte_order_with_rollups(database: Database) -> None:
    keys = ["a", "a/1", "a/2", "a/b/3", "b", "c/", "c/x", "é", "z/", "~"]
    _fill(database, keys)
    flat = _all_pages(database, size=1000)
    assert flat == [sorted(keys, key=str.encode)]
    rolled = [item for page in _all_pages(database, delimiter="/", size=2) for item in page]
    assert sorted(rolled) == sorted(["a", "a/", "b", "c/", "z/", "é", "~"])
    assert len(rolled) == len(set(rolled))
    inside = _all_pages(database, prefix="a/", delimiter="/", size=1)
    assert [item for page in inside for item in page] == ["a/1", "a/2", "a/b/"]
    for size in (1, 2, 3, 7):
        paged = [item for page in _all_pages(database, size=size) for item in page]
        assert paged == sorted(keys, key=str.encode)
