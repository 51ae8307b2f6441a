"""The PostgreSQL blob store on its own: chunk arithmetic, snapshots, failure paths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from rolegate.bootstrap import open_database
from rolegate.s3.errors import S3Error
from rolegate.s3.shared_blobs import CHUNK_SIZE, DatabaseBlobStore, open_blob_store
from rolegate.s3.storage import BlobStore, Ingest
from rolegate.store.database import Database
from support.postgres import PostgresCluster


@pytest.fixture(scope="module")
def database(postgres_cluster: PostgresCluster) -> Iterator[Database]:
    migrated = open_database(
        postgres_cluster.create_database(f"rolegate_blobs_{uuid.uuid4().hex[:12]}")
    )
    yield migrated
    migrated.dispose()


@pytest.fixture
def store(database: Database, tmp_path: Path) -> Iterator[DatabaseBlobStore]:
    made = DatabaseBlobStore(database.url, BlobStore(tmp_path))
    yield made
    made.engine.dispose()


def _write(store: DatabaseBlobStore, pieces: list[bytes]) -> str:
    writer = store.create()
    for piece in pieces:
        writer.write(piece)
    return writer.commit()


def test_the_store_follows_the_database(database: Database, tmp_path: Path) -> None:
    assert isinstance(open_blob_store(database, tmp_path), DatabaseBlobStore)
    sqlite = Database(f"sqlite:///{tmp_path / 'one.db'}")
    try:
        assert isinstance(open_blob_store(sqlite, tmp_path / "files"), BlobStore)
    finally:
        sqlite.dispose()


def test_reads_at_every_chunk_boundary(store: DatabaseBlobStore) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 123)
    # Uneven writes: pieces that straddle chunk boundaries.
    step = 300_001
    blob = _write(store, [data[i : i + step] for i in range(0, len(data), step)])
    empty = _write(store, [])
    chain = store.open_chain([(blob, len(data)), (empty, 0), (blob, len(data))])
    try:
        assert chain.size == 2 * len(data)
        for offset, length in (
            (0, 1),
            (CHUNK_SIZE - 1, 2),
            (CHUNK_SIZE, CHUNK_SIZE),
            (2 * CHUNK_SIZE - 5, CHUNK_SIZE + 10),
            (len(data) - 3, 10),  # stops at the end of the first blob
            (len(data), 7),  # the second blob
        ):
            got = bytes(chain.pread(length, offset))
            whole = data + data
            assert got == whole[offset : offset + len(got)]
            assert 0 < len(got) <= length
        assert bytes(chain.pread(5, chain.size)) == b""
        assert chain.read_all() == data + data
    finally:
        chain.close()


def test_a_reader_keeps_its_snapshot_after_the_blob_is_deleted(store: DatabaseBlobStore) -> None:
    data = os.urandom(2 * CHUNK_SIZE)
    blob = _write(store, [data])
    chain = store.open_chain([(blob, len(data))])
    try:
        store.delete(blob)
        assert not store.exists(blob)
        assert chain.read_all() == data
    finally:
        chain.close()
    with pytest.raises(FileNotFoundError):
        store.open_chain([(blob, len(data))])


def test_an_aborted_write_leaves_nothing(store: DatabaseBlobStore) -> None:
    before = store.blob_ids()
    ingest = Ingest(store, max_size=10 * CHUNK_SIZE, expected_size=None)
    ingest.feed(os.urandom(3 * CHUNK_SIZE))
    assert store.writes_in_flight() >= 1
    ingest.abort()
    assert store.blob_ids() == before
    assert store.writes_in_flight() == 0


def test_a_duplicate_is_copied_inside_the_database(store: DatabaseBlobStore) -> None:
    data = os.urandom(CHUNK_SIZE + 1)
    blob = _write(store, [data])
    copy = store.duplicate(blob)
    store.delete(blob)
    chain = store.open_chain([(copy, len(data))])
    try:
        assert chain.read_all() == data
    finally:
        chain.close()
    with pytest.raises(FileNotFoundError):
        store.duplicate(blob)


def test_slow_down_when_every_blob_connection_is_busy(database: Database, tmp_path: Path) -> None:
    store = DatabaseBlobStore(database.url, BlobStore(tmp_path))
    store.engine.dispose()
    store.engine = create_engine(store.engine.url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        held = store.create()
        with pytest.raises(S3Error) as excinfo:
            store.create()
        assert (excinfo.value.code, excinfo.value.status) == ("SlowDown", 503)
        held.abort()
        _write(store, [b"free again"])
    finally:
        store.engine.dispose()
