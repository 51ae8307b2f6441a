"""Several nodes on one PostgreSQL store: every object, whatever node wrote it, reads
through every other node (object bytes live in the database, not on a node's disk)."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount, create_account
from rolegate.s3 import catalog
from rolegate.s3.endpoint import S3Endpoint
from rolegate.s3.shared_blobs import CHUNK_SIZE, DatabaseBlobStore
from rolegate.s3.storage import BlobStore, drain_releases
from support.postgres import PostgresCluster

from .server import RunningServer

MB = 1024 * 1024
BUCKET = "multinode"


@pytest.fixture(scope="module")
def nodes(
    postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RunningServer]]:
    """Three nodes on one database, each with its own `--data` directory."""
    url = postgres_cluster.create_database(f"rolegate_nodes_{uuid.uuid4().hex[:12]}")
    started: list[RunningServer] = []
    try:
        for name in ("a", "b", "c"):
            node = RunningServer(url, tmp_path_factory.mktemp(f"node-{name}"))
            started.append(node.start())
        yield started
    finally:
        for node in started:
            node.stop()


@pytest.fixture(scope="module")
def account(nodes: list[RunningServer]) -> NewAccount:
    with nodes[0].database.write() as uow:
        return create_account(uow, None, None)


@pytest.fixture(scope="module")
def clients(nodes: list[RunningServer], account: NewAccount) -> list[Any]:
    made = [
        boto3.client(
            "s3",
            endpoint_url=node.url,
            region_name="us-east-1",
            aws_access_key_id=account.access_key_id,
            aws_secret_access_key=account.secret_access_key,
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )
        for node in nodes
    ]
    made[0].create_bucket(Bucket=BUCKET)
    return made


@pytest.fixture(scope="module")
def big() -> bytes:
    return os.urandom(50 * MB)


def store_of(node: RunningServer) -> DatabaseBlobStore:
    """A blob store over the node's database (what every node's endpoint uses)."""
    assert node.s3_data_dir is not None
    return DatabaseBlobStore(node.database.url, BlobStore(node.s3_data_dir))


def test_a_50_mb_object_moves_through_every_node(
    clients: list[Any], nodes: list[RunningServer], big: bytes
) -> None:
    a, b, c = clients
    digest = hashlib.md5(big, usedforsecurity=False).hexdigest()
    put = a.put_object(Bucket=BUCKET, Key="big", Body=big)
    assert put["ETag"] == f'"{digest}"'
    for client in (b, c):
        got = client.get_object(Bucket=BUCKET, Key="big")
        assert got["ContentLength"] == len(big)
        assert got["ETag"] == f'"{digest}"'
        assert got["Body"].read() == big
    # Ranges that start, end and cross chunk boundaries.
    for first, last in ((0, 0), (CHUNK_SIZE - 3, CHUNK_SIZE + 2), (7 * MB + 5, 9 * MB + 11)):
        got = c.get_object(Bucket=BUCKET, Key="big", Range=f"bytes={first}-{last}")
        assert got["Body"].read() == big[first : last + 1]
    tail = b.get_object(Bucket=BUCKET, Key="big", Range="bytes=-1000")["Body"].read()
    assert tail == big[-1000:]
    # The bytes are in the database: no node wrote a blob file.
    for node in nodes:
        assert node.s3_data_dir is not None
        assert not any(p.is_file() for p in (node.s3_data_dir / "blobs").rglob("*"))


def test_copies_overwrites_and_deletes_are_seen_by_every_node(
    clients: list[Any], big: bytes
) -> None:
    a, b, c = clients
    a.put_object(Bucket=BUCKET, Key="source", Body=big[: 3 * MB + 17])
    b.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "source"})
    assert c.get_object(Bucket=BUCKET, Key="copy")["Body"].read() == big[: 3 * MB + 17]
    b.put_object(Bucket=BUCKET, Key="source", Body=big[5 * MB : 7 * MB])
    assert a.get_object(Bucket=BUCKET, Key="source")["Body"].read() == big[5 * MB : 7 * MB]
    assert a.get_object(Bucket=BUCKET, Key="copy")["Body"].read() == big[: 3 * MB + 17]
    c.delete_object(Bucket=BUCKET, Key="copy")
    with pytest.raises(ClientError) as excinfo:
        a.get_object(Bucket=BUCKET, Key="copy")
    assert excinfo.value.response["Error"]["Code"] == "NoSuchKey"


def test_a_read_through_one_node_survives_an_overwrite_through_another(
    clients: list[Any], big: bytes
) -> None:
    a, b, _ = clients
    old, new = big[: 20 * MB], big[20 * MB : 21 * MB]
    a.put_object(Bucket=BUCKET, Key="racing", Body=old)
    stream = b.get_object(Bucket=BUCKET, Key="racing")["Body"]
    first = stream.read(MB)
    a.put_object(Bucket=BUCKET, Key="racing", Body=new)
    assert drain_releases(timeout=20)  # the old blob is deleted now
    assert first + stream.read() == old
    assert b.get_object(Bucket=BUCKET, Key="racing")["Body"].read() == new


def test_multipart_parts_through_different_nodes_complete_through_a_third(
    clients: list[Any], big: bytes
) -> None:
    a, b, c = clients
    a.put_object(Bucket=BUCKET, Key="copy-source", Body=big)
    upload = a.create_multipart_upload(Bucket=BUCKET, Key="assembled")["UploadId"]
    part1 = big[: 5 * MB + 1]
    part2 = big[10 * MB : 16 * MB]
    etag1 = a.upload_part(
        Bucket=BUCKET, Key="assembled", UploadId=upload, PartNumber=1, Body=part1
    )["ETag"]
    etag2 = b.upload_part(
        Bucket=BUCKET, Key="assembled", UploadId=upload, PartNumber=2, Body=part2
    )["ETag"]
    copied = c.upload_part_copy(
        Bucket=BUCKET,
        Key="assembled",
        UploadId=upload,
        PartNumber=3,
        CopySource={"Bucket": BUCKET, "Key": "copy-source"},
        CopySourceRange=f"bytes={CHUNK_SIZE - 10}-{3 * CHUNK_SIZE + 10}",
    )["CopyPartResult"]["ETag"]
    listed = b.list_parts(Bucket=BUCKET, Key="assembled", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3]
    c.complete_multipart_upload(
        Bucket=BUCKET,
        Key="assembled",
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": etag1},
                {"PartNumber": 2, "ETag": etag2},
                {"PartNumber": 3, "ETag": copied},
            ]
        },
    )
    expected = part1 + part2 + big[CHUNK_SIZE - 10 : 3 * CHUNK_SIZE + 11]
    assert a.get_object(Bucket=BUCKET, Key="assembled")["Body"].read() == expected
    start = len(part1) - 5  # a range across the first two parts
    got = b.get_object(Bucket=BUCKET, Key="assembled", Range=f"bytes={start}-{start + 9}")
    assert got["Body"].read() == expected[start : start + 10]


def test_an_aborted_upload_leaves_no_bytes(
    clients: list[Any], nodes: list[RunningServer], big: bytes
) -> None:
    a, b, _ = clients
    store = store_of(nodes[0])
    try:
        before = store.blob_ids()
        upload = a.create_multipart_upload(Bucket=BUCKET, Key="dropped")["UploadId"]
        b.upload_part(Bucket=BUCKET, Key="dropped", UploadId=upload, PartNumber=1, Body=big[:MB])
        assert len(store.blob_ids() - before) == 1
        a.abort_multipart_upload(Bucket=BUCKET, Key="dropped", UploadId=upload)
        assert drain_releases(timeout=20)
        assert store.blob_ids() - before == set()
        assert store.writes_in_flight() == 0
    finally:
        store.engine.dispose()


def test_the_orphan_sweep_with_several_nodes(
    clients: list[Any],
    nodes: list[RunningServer],
    big: bytes,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Blobs committed without a row (a crash between) go once they are old; every blob an
    object or an unfinished upload's part names stays, whichever node wrote it."""
    a, b, c = clients
    a.put_object(Bucket=BUCKET, Key="kept-a", Body=big[: 2 * MB])
    upload = b.create_multipart_upload(Bucket=BUCKET, Key="open")["UploadId"]
    etag = b.upload_part(
        Bucket=BUCKET, Key="open", UploadId=upload, PartNumber=1, Body=big[: 5 * MB]
    )["ETag"]
    store = store_of(nodes[1])
    try:
        orphans = []
        for _ in range(3):
            writer = store.create()
            writer.write(b"its row never committed")
            orphans.append(writer.commit())

        def named() -> set[str]:
            with nodes[2].database.read() as uow:
                return catalog.referenced_blobs(uow)

        # Young orphans stay (their rows may be about to commit).
        assert store.sweep_orphans(named) == 0
        assert all(store.exists(blob) for blob in orphans)
        # Two nodes sweep at once: the orphans go once, nothing else does.
        removed: list[int] = []
        sweepers = [
            threading.Thread(target=lambda: removed.append(store.sweep_orphans(named, -60.0)))
            for _ in range(2)
        ]
        for sweeper in sweepers:
            sweeper.start()
        for sweeper in sweepers:
            sweeper.join()
        assert sum(removed) == 3
        assert not any(store.exists(blob) for blob in orphans)
        # A node starting up sweeps too (here with every blob counting as old).
        writer = store.create()
        writer.write(b"another")
        late = writer.commit()
        monkeypatch.setattr(S3Endpoint, "ORPHAN_AGE", -60.0)
        extra = RunningServer(nodes[0].database.url, tmp_path / "node-d").start()
        try:
            deadline = 200
            while store.exists(late) and deadline:
                threading.Event().wait(0.05)
                deadline -= 1
            assert not store.exists(late)
        finally:
            extra.stop()
    finally:
        store.engine.dispose()
    assert a.get_object(Bucket=BUCKET, Key="kept-a")["Body"].read() == big[: 2 * MB]
    c.complete_multipart_upload(
        Bucket=BUCKET,
        Key="open",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert a.get_object(Bucket=BUCKET, Key="open")["Body"].read() == big[: 5 * MB]


def test_blob_files_an_earlier_version_wrote_stay_readable(
    clients: list[Any], nodes: list[RunningServer], big: bytes
) -> None:
    """Before blobs moved into PostgreSQL, a node kept them in its `--data` directory: those
    objects still read (through that node), copy into the database, and delete."""
    a, b, _ = clients
    node = nodes[0]
    assert node.s3_data_dir is not None
    files = BlobStore(node.s3_data_dir)
    writer = files.create()
    body = big[: 3 * MB + 5]
    writer.write(body)
    blob = writer.commit()
    record = catalog.ObjectRecord(
        bucket=BUCKET,
        key="legacy",
        content=catalog.Content.blob(blob, len(body)),
        size=len(body),
        etag=hashlib.md5(body, usedforsecurity=False).hexdigest(),
        last_modified=node.database.clock.now(),
        content_type="binary/octet-stream",
        headers={},
        metadata={},
    )
    with node.database.write() as uow:
        catalog.put_object(uow, record)
    assert a.get_object(Bucket=BUCKET, Key="legacy")["Body"].read() == body
    got = a.get_object(Bucket=BUCKET, Key="legacy", Range=f"bytes={MB}-{2 * MB}")
    assert got["Body"].read() == body[MB : 2 * MB + 1]
    a.copy_object(Bucket=BUCKET, Key="from-legacy", CopySource={"Bucket": BUCKET, "Key": "legacy"})
    assert b.get_object(Bucket=BUCKET, Key="from-legacy")["Body"].read() == body
    a.delete_object(Bucket=BUCKET, Key="legacy")
    assert drain_releases(timeout=20)
    assert not files.exists(blob)
