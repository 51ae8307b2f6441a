"""S3 against the real server with boto3: buckets, objects, listing, multipart, policies,
streaming bodies (aws-chunked), presigned URLs, and S3's error shapes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount
from rolegate.s3.context import INLINE_OBJECT_SIZE
from rolegate.s3.endpoint import S3Endpoint, default_data_dir
from rolegate.s3.shared_blobs import open_blob_store
from rolegate.s3.storage import Blobs, drain_releases
from rolegate.wire import sigv4
from rolegate.wire.aws_chunked import (
    STREAMING_SIGNED,
    STREAMING_UNSIGNED_TRAILER,
    ChunkSigning,
    encode_signed_chunks,
)
from rolegate.wire.checksums import b64_checksum

from .conftest import ClientFactory
from .server import RunningServer

REGION = "us-east-1"


def new_bucket_name(prefix: str = "rg") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


ENCODED_MARKER = " Encoded authorization failure message: "


def denied_message(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    """An AccessDenied message split into its text and the encoded failure message."""
    message = str(excinfo.value.response["Error"]["Message"])
    text, marker, blob = message.partition(ENCODED_MARKER)
    assert marker and blob, message
    return text, blob


def s3_client(
    server: RunningServer,
    key: str,
    secret: str,
    token: str | None = None,
    *,
    signature_version: str | None = "s3v4",
) -> Any:
    """A boto3 S3 client of the test server (`signature_version=None`: botocore's default)."""
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(signature_version=signature_version, retries={"max_attempts": 1}),
    )


def s3_data_dir(server: RunningServer) -> Path:
    return server.s3_data_dir or default_data_dir(server.database.url)


_BLOB_STORES: dict[int, Blobs] = {}


def blob_store(server: RunningServer) -> Blobs:
    """The server's kind of blob store (files on SQLite, rows on PostgreSQL), one per server."""
    if id(server) not in _BLOB_STORES:
        _BLOB_STORES[id(server)] = open_blob_store(server.database, s3_data_dir(server))
    return _BLOB_STORES[id(server)]


def blob_files(server: RunningServer) -> set[str]:
    """The blobs, once the deletions released by earlier responses are done."""
    assert drain_releases(timeout=20)
    return blob_store(server).blob_ids()


def temp_files(server: RunningServer) -> int:
    """Blob writes not committed (temporary files on SQLite)."""
    return blob_store(server).writes_in_flight()


class Signed:
    """A SigV4-signed request built by hand (for bodies botocore only sends over TLS)."""

    def __init__(
        self,
        server: RunningServer,
        key: str,
        secret: str,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: dict[str, str] | None = None,
        payload_hash: str = sigv4.UNSIGNED_PAYLOAD,
        token: str | None = None,
        when: datetime | None = None,
    ) -> None:
        moment = when or datetime.now(UTC)
        amz_date = sigv4.format_amz_date(moment)
        host = urlsplit(server.url).netloc
        self.url = f"{server.url}{path}" + (f"?{query}" if query else "")
        self.method = method
        all_headers = {
            "host": host,
            "x-amz-date": amz_date,
            "x-amz-content-sha256": payload_hash,
            **{k.lower(): v for k, v in (headers or {}).items()},
        }
        if token:
            all_headers["x-amz-security-token"] = token
        signed = sorted(all_headers)
        creq = sigv4.canonical_request(
            method,
            sigv4.canonical_uri(path, "s3"),
            sigv4.canonical_query_string(query),
            sigv4.canonical_headers(list(all_headers.items()), signed),
            signed,
            payload_hash,
        )
        scope = sigv4.CredentialScope(amz_date[:8], REGION, "s3")
        signing_key = sigv4.derive_signing_key(secret, scope.date, REGION, "s3")
        self.signature = sigv4.compute_signature(
            signing_key, sigv4.string_to_sign(amz_date, scope, creq)
        )
        all_headers["authorization"] = sigv4.format_authorization_header(
            key, scope, signed, self.signature
        )
        self.headers = all_headers
        self.chunk_signing = ChunkSigning(signing_key, amz_date, str(scope), self.signature)

    def send(self, content: bytes | None = None) -> httpx.Response:
        return httpx.request(
            self.method, self.url, headers=self.headers, content=content, timeout=30
        )


@pytest.fixture
def owner(account: NewAccount, server: RunningServer) -> Any:
    return s3_client(server, account.access_key_id, account.secret_access_key)


@pytest.fixture
def bucket(owner: Any) -> Iterator[str]:
    name = new_bucket_name()
    owner.create_bucket(Bucket=name)
    yield name


# ---------------------------------------------------------------------------- buckets


def test_bucket_lifecycle_and_name_rules(
    owner: Any, make_account: Callable[..., NewAccount], server: RunningServer
) -> None:
    name = new_bucket_name()
    created = owner.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    assert name in [b["Name"] for b in owner.list_buckets()["Buckets"]]
    owner.head_bucket(Bucket=name)
    assert owner.get_bucket_location(Bucket=name)["LocationConstraint"] is None

    with pytest.raises(ClientError) as caught:
        owner.create_bucket(Bucket=name)
    assert error_of(caught) == ("BucketAlreadyOwnedByYou", 409)
    other = make_account()
    stranger = s3_client(server, other.access_key_id, other.secret_access_key)
    with pytest.raises(ClientError) as caught:
        stranger.create_bucket(Bucket=name)
    assert error_of(caught) == ("BucketAlreadyExists", 409)
    assert name not in [b["Name"] for b in stranger.list_buckets()["Buckets"]]

    for bad in ("ab", "Upper-Case", "has_underscore", "192.168.1.1", "a..b", "-leading", "x" * 64):
        with pytest.raises(ClientError) as caught:
            owner.create_bucket(Bucket=bad)
        assert error_of(caught) == ("InvalidBucketName", 400), bad

    owner.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as caught:
        owner.delete_bucket(Bucket=name)
    assert error_of(caught) == ("BucketNotEmpty", 409)
    owner.delete_object(Bucket=name, Key="k")
    owner.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as caught:
        owner.head_bucket(Bucket=name)
    assert error_of(caught) == ("404", 404)
    with pytest.raises(ClientError) as caught:
        owner.list_objects_v2(Bucket=name)
    assert error_of(caught) == ("NoSuchBucket", 404)


def test_region_constraint(owner: Any) -> None:
    name = new_bucket_name()
    owner.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert owner.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert owner.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"


# ---------------------------------------------------------------------------- objects


def test_put_get_head_delete_with_metadata(owner: Any, bucket: str) -> None:
    put = owner.put_object(
        Bucket=bucket,
        Key="dir/hello world+ü.txt",
        Body=b"hello",
        ContentType="text/plain",
        Metadata={"Color": "red", "owner": "alice"},
        CacheControl="no-cache",
        ContentDisposition="attachment",
    )
    assert put["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    got = owner.get_object(Bucket=bucket, Key="dir/hello world+ü.txt")
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"color": "red", "owner": "alice"}
    assert got["CacheControl"] == "no-cache"
    assert got["ContentDisposition"] == "attachment"
    assert got["ETag"] == put["ETag"]
    head = owner.head_object(Bucket=bucket, Key="dir/hello world+ü.txt")
    assert head["ContentLength"] == 5
    assert head["Metadata"] == {"color": "red", "owner": "alice"}

    owner.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert owner.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""
    assert owner.head_object(Bucket=bucket, Key="empty")["ContentType"] == "binary/octet-stream"

    owner.delete_object(Bucket=bucket, Key="dir/hello world+ü.txt")
    owner.delete_object(Bucket=bucket, Key="never-existed")  # 204 as S3
    with pytest.raises(ClientError) as caught:
        owner.get_object(Bucket=bucket, Key="dir/hello world+ü.txt")
    assert error_of(caught) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as caught:
        owner.head_object(Bucket=bucket, Key="dir/hello world+ü.txt")
    assert error_of(caught) == ("404", 404)


def test_overwrite_keeps_one_blob(owner: Any, bucket: str, server: RunningServer) -> None:
    before = blob_files(server)
    bodies = [bytes([n]) * (INLINE_OBJECT_SIZE + n + 1) for n in range(3)]
    for body in bodies:
        owner.put_object(Bucket=bucket, Key="k", Body=body)
    assert owner.get_object(Bucket=bucket, Key="k")["Body"].read() == bodies[-1]
    assert len(blob_files(server) - before) == 1
    owner.put_object(Bucket=bucket, Key="k", Body=b"small now")  # inline: no file
    assert blob_files(server) - before == set()
    assert owner.get_object(Bucket=bucket, Key="k")["Body"].read() == b"small now"
    owner.put_object(Bucket=bucket, Key="k", Body=bodies[0])
    owner.delete_object(Bucket=bucket, Key="k")
    assert blob_files(server) - before == set()


def test_a_start_removes_blob_files_that_no_row_names(
    owner: Any, bucket: str, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b"k" * (INLINE_OBJECT_SIZE + 1)
    owner.put_object(Bucket=bucket, Key="kept", Body=body)
    store = blob_store(server)
    writer = store.create()
    writer.write(b"its deletion was cut off by a crash")
    orphan = writer.commit()
    monkeypatch.setattr(S3Endpoint, "ORPHAN_AGE", -60.0)  # every file counts as old
    other = RunningServer(server.database.url, s3_data_dir=s3_data_dir(server)).start()
    try:
        deadline = time.monotonic() + 20
        while store.exists(orphan) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not store.exists(orphan)
        assert owner.get_object(Bucket=bucket, Key="kept")["Body"].read() == body
    finally:
        other.stop()


def test_small_objects_live_in_their_row(owner: Any, bucket: str, server: RunningServer) -> None:
    before = blob_files(server)
    limit = b"L" * INLINE_OBJECT_SIZE
    for key, body in (("empty", b""), ("tiny", b"tiny"), ("limit", limit)):
        owner.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"m": key})
        got = owner.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body
        assert got["Metadata"] == {"m": key}
        assert got["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    ranged = owner.get_object(Bucket=bucket, Key="limit", Range="bytes=10-19")
    assert ranged["Body"].read() == b"L" * 10
    assert ranged["ContentRange"] == f"bytes 10-19/{INLINE_OBJECT_SIZE}"
    owner.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "tiny"})
    assert owner.get_object(Bucket=bucket, Key="copied")["Body"].read() == b"tiny"
    assert blob_files(server) == before
    assert temp_files(server) == 0


def test_range_and_conditional_get(owner: Any, bucket: str) -> None:
    body = bytes(range(256)) * 4
    etag = owner.put_object(Bucket=bucket, Key="r", Body=body)["ETag"]
    part = owner.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert owner.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert (
        owner.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read()
        == (body[1000:])
    )
    with pytest.raises(ClientError) as caught:
        owner.get_object(Bucket=bucket, Key="r", Range="bytes=5000-6000")
    assert error_of(caught) == ("InvalidRange", 416)

    assert owner.get_object(Bucket=bucket, Key="r", IfMatch=etag)["Body"].read() == body
    with pytest.raises(ClientError) as caught:
        owner.get_object(Bucket=bucket, Key="r", IfMatch='"0000"')
    assert error_of(caught) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as caught:
        owner.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert error_of(caught) == ("304", 304)
    later = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ClientError) as caught:
        owner.get_object(Bucket=bucket, Key="r", IfModifiedSince=later)
    assert error_of(caught) == ("304", 304)
    earlier = datetime(2000, 1, 1, tzinfo=UTC)
    assert owner.get_object(Bucket=bucket, Key="r", IfModifiedSince=earlier)["Body"].read()
    with pytest.raises(ClientError) as caught:
        owner.get_object(Bucket=bucket, Key="r", IfUnmodifiedSince=earlier)
    assert error_of(caught) == ("PreconditionFailed", 412)


def test_copy_object(owner: Any, bucket: str) -> None:
    owner.put_object(
        Bucket=bucket, Key="src", Body=b"data", Metadata={"a": "1"}, ContentType="text/csv"
    )
    result = owner.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}
    )
    assert result["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"data").hexdigest()}"'
    copied = owner.get_object(Bucket=bucket, Key="dst")
    assert copied["Body"].read() == b"data"
    assert copied["Metadata"] == {"a": "1"}
    assert copied["ContentType"] == "text/csv"
    owner.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="text/plain",
    )
    replaced = owner.head_object(Bucket=bucket, Key="dst")
    assert replaced["Metadata"] == {"b": "2"}
    assert replaced["ContentType"] == "text/plain"
    owner.delete_object(Bucket=bucket, Key="src")
    assert owner.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"data"
    with pytest.raises(ClientError) as caught:
        owner.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/dst")
    assert error_of(caught) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as caught:
        owner.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/missing")
    assert error_of(caught) == ("NoSuchKey", 404)


def test_delete_objects(owner: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        owner.put_object(Bucket=bucket, Key=key, Body=key.encode())
    result = owner.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b", "zz"]
    assert [o["Key"] for o in owner.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]
    quiet = owner.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert owner.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# ---------------------------------------------------------------------------- listing


def test_list_objects_v2(owner: Any, bucket: str) -> None:
    keys = ["a.txt", "dir/1", "dir/2", "dir/sub/3", "dir2/x", "z", "ü/1", "b c+d"]
    for key in keys:
        owner.put_object(Bucket=bucket, Key=key, Body=b"x")
    everything = owner.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in everything["Contents"]] == sorted(keys, key=str.encode)
    assert everything["KeyCount"] == len(keys)
    assert everything["Contents"][0]["Size"] == 1

    top = owner.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "b c+d", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["dir/", "dir2/", "ü/"]
    inside = owner.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in inside["Contents"]] == ["dir/1", "dir/2"]
    assert [p["Prefix"] for p in inside["CommonPrefixes"]] == ["dir/sub/"]
    after = owner.list_objects_v2(Bucket=bucket, StartAfter="dir/2")
    assert after["Contents"][0]["Key"] == "dir/sub/3"

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 2, "Delimiter": "/"}
        if token:
            kwargs["ContinuationToken"] = token
        page = owner.list_objects_v2(**kwargs)
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert page["KeyCount"] <= 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen) == sorted(["a.txt", "b c+d", "z", "dir/", "dir2/", "ü/"])
    assert pages == 3

    paginator = owner.get_paginator("list_objects_v2")
    listed = [
        o["Key"]
        for p in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
        for o in p.get("Contents", [])
    ]
    assert listed == sorted(keys, key=str.encode)
    v1 = owner.list_objects(Bucket=bucket, Prefix="dir", Delimiter="/")
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["dir/", "dir2/"]
    with pytest.raises(ClientError) as caught:
        owner.list_objects_v2(Bucket=bucket, ContinuationToken="garbage!")
    assert error_of(caught) == ("InvalidArgument", 400)


# ---------------------------------------------------------------------------- multipart


def test_upload_and_download_a_50_mb_file(owner: Any, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    with source.open("wb") as out:
        for index in range(50):
            out.write(block[index:] + block[:index])
    config = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024**2)
    owner.upload_file(str(source), bucket, "big.bin", Config=config)
    head = owner.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 50 * 1024 * 1024
    assert head["ETag"].endswith('-7"')
    target = tmp_path / "back.bin"
    owner.download_file(bucket, "big.bin", str(target), Config=config)
    assert _sha256(target) == _sha256(source)
    assert owner.list_multipart_uploads(Bucket=bucket).get("Uploads") is None


def test_completed_upload_is_its_parts(owner: Any, bucket: str, server: RunningServer) -> None:
    """Completing writes no bytes: the object reads its part blobs in order (unused parts are
    removed); ranges cross part boundaries; copies and deletes handle every blob."""
    before = blob_files(server)
    upload_id = owner.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    bodies = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024), b"last-part"]
    etags = [
        owner.upload_part(
            Bucket=bucket, Key="parts", UploadId=upload_id, PartNumber=n + 1, Body=body
        )["ETag"]
        for n, body in enumerate(bodies)
    ]
    owner.upload_part(Bucket=bucket, Key="parts", UploadId=upload_id, PartNumber=9, Body=b"x")
    owner.complete_multipart_upload(
        Bucket=bucket,
        Key="parts",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
    )
    assert len(blob_files(server) - before) == 3  # part 9 was not used
    whole = b"".join(bodies)
    assert owner.get_object(Bucket=bucket, Key="parts")["Body"].read() == whole
    boundary = len(bodies[0])
    for first, last in ((boundary - 3, boundary + 2), (0, len(whole) - 1), (len(whole) - 5, "")):
        got = owner.get_object(Bucket=bucket, Key="parts", Range=f"bytes={first}-{last}")
        end = len(whole) if last == "" else int(last) + 1
        assert got["Body"].read() == whole[first:end]
    owner.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "parts"})
    owner.delete_object(Bucket=bucket, Key="parts")
    assert owner.get_object(Bucket=bucket, Key="copy")["Body"].read() == whole
    assert len(blob_files(server) - before) == 3
    owner.put_object(Bucket=bucket, Key="copy", Body=b"small")
    assert blob_files(server) - before == set()


def test_upload_part_copy(
    owner: Any,
    bucket: str,
    server: RunningServer,
    make_account: Callable[..., NewAccount],
    tmp_path: Path,
) -> None:
    single = os.urandom(6 * 1024 * 1024 + 3)
    owner.put_object(Bucket=bucket, Key="single", Body=single)
    owner.upload_file(  # a multipart source: its parts are separate blobs
        _write(tmp_path / "multi.bin", os.urandom(11 * 1024 * 1024)),
        bucket,
        "multi",
        Config=TransferConfig(multipart_threshold=5 * 1024**2, multipart_chunksize=5 * 1024**2),
    )
    multi = owner.get_object(Bucket=bucket, Key="multi")["Body"].read()
    owner.put_object(Bucket=bucket, Key="small", Body=b"inline bytes")
    upload_id = owner.create_multipart_upload(
        Bucket=bucket, Key="assembled", ChecksumAlgorithm="CRC32"
    )["UploadId"]
    pieces = [  # (source key, range, bytes): ranges across the source's part boundaries
        ("single", "bytes=0-5242879", single[:5242880]),
        ("multi", "bytes=5000000-10242879", multi[5000000:10242880]),
        ("single", None, single),
        ("small", "bytes=7-11", b"bytes"),
    ]
    etags = []
    for number, (key, source_range, expected) in enumerate(pieces, start=1):
        extra = {"CopySourceRange": source_range} if source_range else {}
        done = owner.upload_part_copy(
            Bucket=bucket,
            Key="assembled",
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": bucket, "Key": key},
            **extra,
        )["CopyPartResult"]
        assert done["ETag"] == f'"{hashlib.md5(expected).hexdigest()}"'
        assert done["ChecksumCRC32"] == b64_checksum("CRC32", expected)
        assert isinstance(done["LastModified"], datetime)
        etags.append({"PartNumber": number, "ETag": done["ETag"]})
    listed = owner.list_parts(Bucket=bucket, Key="assembled", UploadId=upload_id)["Parts"]
    assert [p["Size"] for p in listed] == [len(e) for _, _, e in pieces]
    owner.complete_multipart_upload(
        Bucket=bucket, Key="assembled", UploadId=upload_id, MultipartUpload={"Parts": etags}
    )
    body = owner.get_object(Bucket=bucket, Key="assembled")["Body"].read()
    assert body == b"".join(expected for _, _, expected in pieces)

    # boto3's managed copy of an object over its threshold is UploadPartCopy in ranges
    owner.copy(
        {"Bucket": bucket, "Key": "multi"},
        bucket,
        "managed",
        Config=TransferConfig(multipart_threshold=5 * 1024**2, multipart_chunksize=5 * 1024**2),
    )
    assert owner.get_object(Bucket=bucket, Key="managed")["Body"].read() == multi

    upload_id = owner.create_multipart_upload(Bucket=bucket, Key="bad")["UploadId"]

    def copy_error(**arguments: Any) -> tuple[str, int]:
        defaults = {"UploadId": upload_id, "PartNumber": 1, "CopySource": f"{bucket}/single"}
        with pytest.raises(ClientError) as caught:
            owner.upload_part_copy(Bucket=bucket, Key="bad", **{**defaults, **arguments})
        return error_of(caught)

    assert copy_error(CopySourceRange="bytes=5-") == ("InvalidArgument", 400)
    assert copy_error(CopySourceRange="0-5") == ("InvalidArgument", 400)
    assert copy_error(CopySourceRange="bytes=9-5") == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as caught:
        owner.upload_part_copy(
            Bucket=bucket,
            Key="bad",
            UploadId=upload_id,
            PartNumber=1,
            CopySource=f"{bucket}/single",
            CopySourceRange=f"bytes=0-{len(single)}",
        )
    assert error_of(caught) == ("InvalidArgument", 400)
    assert caught.value.response["Error"]["Message"] == (
        f"Range specified is not valid for source object of size: {len(single)}"
    )
    assert copy_error(CopySource=f"{bucket}/missing") == ("NoSuchKey", 404)
    assert copy_error(CopySourceIfMatch='"0000"') == ("PreconditionFailed", 412)
    assert copy_error(PartNumber=0) == ("InvalidArgument", 400)
    assert copy_error(UploadId="nope") == ("NoSuchUpload", 404)
    stranger = make_account()
    foreign = s3_client(server, stranger.access_key_id, stranger.secret_access_key)
    foreign_bucket = new_bucket_name()
    foreign.create_bucket(Bucket=foreign_bucket)
    foreign.put_object(Bucket=foreign_bucket, Key="secret", Body=b"not yours")
    assert copy_error(CopySource=f"{foreign_bucket}/secret") == ("AccessDenied", 403)
    assert owner.list_parts(Bucket=bucket, Key="bad", UploadId=upload_id).get("Parts", []) == []
    owner.abort_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id)
    assert temp_files(server) == 0


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_multipart_operations(owner: Any, bucket: str, server: RunningServer) -> None:
    upload = owner.create_multipart_upload(Bucket=bucket, Key="mp", Metadata={"m": "v"})
    upload_id = upload["UploadId"]
    part1 = b"a" * (5 * 1024 * 1024)
    part2 = b"tail"
    e1 = owner.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=part1)
    e2 = owner.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2, Body=part2)
    listed = owner.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, len(part1)), (2, 4)]
    uploads = owner.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [upload_id]

    with pytest.raises(ClientError) as caught:
        owner.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": 2, "ETag": e2["ETag"]},
                    {"PartNumber": 1, "ETag": e1["ETag"]},
                ]
            },
        )
    assert error_of(caught) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as caught:
        owner.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"ffff"'}]},
        )
    assert error_of(caught) == ("InvalidPart", 400)
    done = owner.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1["ETag"]}, {"PartNumber": 2, "ETag": e2["ETag"]}]
        },
    )
    digests = hashlib.md5(part1).digest() + hashlib.md5(part2).digest()
    assert done["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-2"'
    got = owner.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == part1 + part2
    assert got["Metadata"] == {"m": "v"}
    with pytest.raises(ClientError) as caught:
        owner.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert error_of(caught) == ("NoSuchUpload", 404)

    small = owner.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    s1 = owner.upload_part(Bucket=bucket, Key="small", UploadId=small, PartNumber=1, Body=b"x")
    s2 = owner.upload_part(Bucket=bucket, Key="small", UploadId=small, PartNumber=2, Body=b"y")
    with pytest.raises(ClientError) as caught:
        owner.complete_multipart_upload(
            Bucket=bucket,
            Key="small",
            UploadId=small,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": 1, "ETag": s1["ETag"]},
                    {"PartNumber": 2, "ETag": s2["ETag"]},
                ]
            },
        )
    assert error_of(caught) == ("EntityTooSmall", 400)
    before = blob_files(server)
    owner.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=small)
    assert len(before - blob_files(server)) == 2
    with pytest.raises(ClientError) as caught:
        owner.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=small)
    assert error_of(caught) == ("NoSuchUpload", 404)


# ---------------------------------------------------------------------------- bodies


def test_checksums_are_verified(
    owner: Any, bucket: str, account: NewAccount, server: RunningServer
) -> None:
    body = b"checked body"
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    put = owner.put_object(Bucket=bucket, Key="c", Body=body, ChecksumCRC32=crc)
    assert put["ChecksumCRC32"] == crc
    got = owner.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == crc
    assert got["Body"].read() == body
    owner.put_object(Bucket=bucket, Key="s", Body=body, ChecksumAlgorithm="SHA256")

    wrong = base64.b64encode(b"\0\0\0\0").decode()
    request = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/bad",
        headers={"x-amz-checksum-crc32": wrong, "content-length": str(len(body))},
    )
    response = request.send(body)
    assert response.status_code == 400
    assert b"<Code>BadDigest</Code>" in response.content
    mismatch = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/bad",
        payload_hash=hashlib.sha256(b"other").hexdigest(),
        headers={"content-length": str(len(body))},
    )
    response = mismatch.send(body)
    assert response.status_code == 400
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in response.content
    with pytest.raises(ClientError) as caught:
        owner.head_object(Bucket=bucket, Key="bad")
    assert error_of(caught) == ("404", 404)
    assert temp_files(server) == 0


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME"])
def test_crc32c_and_crc64nvme_are_verified_and_stored(
    owner: Any, bucket: str, algorithm: str, account: NewAccount, server: RunningServer
) -> None:
    """Sent as headers (botocore computes these two only with awscrt)."""
    body = os.urandom(INLINE_OBJECT_SIZE + 40_000)
    expected = b64_checksum(algorithm, body)
    put = owner.put_object(
        Bucket=bucket, Key="crc", Body=body, **{f"Checksum{algorithm}": expected}
    )
    assert put[f"Checksum{algorithm}"] == expected
    got = owner.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == expected
    assert got["Body"].read() == body
    wrong = b64_checksum(algorithm, body[1:])
    request = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/crc",
        headers={f"x-amz-checksum-{algorithm.lower()}": wrong, "content-length": str(len(body))},
    )
    response = request.send(body)
    assert response.status_code == 400
    assert b"<Code>BadDigest</Code>" in response.content
    assert owner.get_object(Bucket=bucket, Key="crc")["Body"].read() == body


def _unsigned_trailer_body(chunks: list[bytes], trailer: tuple[str, str]) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return out + b"0\r\n" + f"{trailer[0]}:{trailer[1]}\r\n\r\n".encode()


def test_aws_chunked_bodies(
    owner: Any, bucket: str, account: NewAccount, server: RunningServer
) -> None:
    chunks = [os.urandom(70_000), os.urandom(70_000), b"end"]
    data = b"".join(chunks)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = _unsigned_trailer_body(chunks, ("x-amz-checksum-crc32", crc))
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
        "content-length": str(len(body)),
        "content-type": "application/x-test",
    }
    request = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/unsigned",
        headers=headers,
        payload_hash=STREAMING_UNSIGNED_TRAILER,
    )
    response = request.send(body)
    assert response.status_code == 200, response.text
    assert response.headers["x-amz-checksum-crc32"] == crc
    got = owner.get_object(Bucket=bucket, Key="unsigned")
    assert got["Body"].read() == data
    assert got["ContentType"] == "application/x-test"
    assert "ContentEncoding" not in got

    bad = _unsigned_trailer_body(chunks, ("x-amz-checksum-crc32", "AAAAAA=="))
    request = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/unsigned-bad",
        headers={**headers, "content-length": str(len(bad))},
        payload_hash=STREAMING_UNSIGNED_TRAILER,
    )
    response = request.send(bad)
    assert response.status_code == 400
    assert b"<Code>BadDigest</Code>" in response.content

    signed_headers = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
    }
    pieces = [data[:65536], data[65536:131072], data[131072:]]
    request = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/signed",
        headers=signed_headers,
        payload_hash=STREAMING_SIGNED,
    )
    encoded = encode_signed_chunks(request.chunk_signing, pieces)
    request.headers["content-length"] = str(len(encoded))
    response = request.send(encoded)
    assert response.status_code == 200, response.text
    assert owner.get_object(Bucket=bucket, Key="signed")["Body"].read() == data

    request = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/signed-bad",
        headers=signed_headers,
        payload_hash=STREAMING_SIGNED,
    )
    encoded = bytearray(encode_signed_chunks(request.chunk_signing, pieces))
    encoded[-200] ^= 1  # flip a bit of the last chunk's data
    request.headers["content-length"] = str(len(encoded))
    response = request.send(bytes(encoded))
    assert response.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in response.content
    keys = [o["Key"] for o in owner.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["signed", "unsigned"]
    assert temp_files(server) == 0


def test_entity_too_large(bucket: str, account: NewAccount, server: RunningServer) -> None:
    request = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/huge",
        headers={"content-length": str(6 * 1024**3)},
    )
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    lines = [f"PUT /{bucket}/huge HTTP/1.1"] + [f"{k}: {v}" for k, v in request.headers.items()]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sock.sendall(b"x" * 1024)
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"<Code>EntityTooLarge</Code>" in reply


def test_disconnect_mid_upload_leaves_nothing(
    owner: Any, bucket: str, account: NewAccount, server: RunningServer
) -> None:
    before = blob_files(server)
    request = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "PUT",
        f"/{bucket}/partial",
        headers={"content-length": str(20 * 1024 * 1024)},
    )
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    lines = [f"PUT /{bucket}/partial HTTP/1.1"] + [f"{k}: {v}" for k, v in request.headers.items()]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for _ in range(3):
            sock.sendall(os.urandom(1024 * 1024))
        time.sleep(0.3)
    deadline = time.monotonic() + 5
    while temp_files(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert temp_files(server) == 0
    assert blob_files(server) == before
    with pytest.raises(ClientError) as caught:
        owner.head_object(Bucket=bucket, Key="partial")
    assert error_of(caught) == ("404", 404)
    assert owner.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_concurrent_writers_end_with_one_complete_version(
    owner: Any, bucket: str, server: RunningServer
) -> None:
    bodies = [bytes([index]) * (512 * 1024 + index) for index in range(8)]
    before = blob_files(server)
    errors: list[BaseException] = []

    def write(body: bytes) -> None:
        try:
            owner.put_object(Bucket=bucket, Key="contended", Body=body)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = owner.get_object(Bucket=bucket, Key="contended")["Body"].read()
    assert final in bodies
    assert len(blob_files(server) - before) == 1


# ---------------------------------------------------------------------------- policies


def test_bucket_policy_round_trip_and_validation(owner: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        owner.get_bucket_policy(Bucket=bucket)
    assert error_of(caught) == ("NoSuchBucketPolicy", 404)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/public/*",
                }
            ],
        }
    )
    owner.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert json.loads(owner.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)
    for bad in (
        "not json",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::another-bucket/*",
                    }
                ],
            }
        ),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "iam:GetUser",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
    ):
        with pytest.raises(ClientError) as caught:
            owner.put_bucket_policy(Bucket=bucket, Policy=bad)
        assert error_of(caught) == ("MalformedPolicy", 400), bad
    owner.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        owner.get_bucket_policy(Bucket=bucket)
    assert error_of(caught) == ("NoSuchBucketPolicy", 404)


def test_anonymous_access_needs_a_public_policy(
    owner: Any, bucket: str, server: RunningServer
) -> None:
    owner.put_object(Bucket=bucket, Key="public/a", Body=b"open")
    owner.put_object(Bucket=bucket, Key="private/a", Body=b"closed")
    url = f"{server.url}/{bucket}/public/a"
    denied = httpx.get(url)
    assert denied.status_code == 403
    assert b"<Code>AccessDenied</Code>" in denied.content
    assert b"<Message>Access Denied</Message>" in denied.content
    assert b"<RequestId>" in denied.content
    owner.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/public/*",
                    }
                ],
            }
        ),
    )
    assert httpx.get(url).content == b"open"
    assert httpx.get(f"{server.url}/{bucket}/private/a").status_code == 403
    assert httpx.put(f"{server.url}/{bucket}/public/b", content=b"x").status_code == 403
    assert httpx.get(f"{server.url}/").status_code == 403


def test_identity_policy_conditions_on_list(
    account: NewAccount, client: ClientFactory, server: RunningServer, owner: Any, bucket: str
) -> None:
    iam = client("iam", account.access_key_id, account.secret_access_key)
    iam.create_user(UserName="lister")
    iam.put_user_policy(
        UserName="lister",
        PolicyName="home",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": f"arn:aws:s3:::{bucket}",
                        "Condition": {
                            "StringLike": {"s3:prefix": "home/${aws:username}/*"},
                            "NumericLessThanEquals": {"s3:max-keys": "10"},
                        },
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*",
                    },
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="lister")["AccessKey"]
    lister = s3_client(server, key["AccessKeyId"], key["SecretAccessKey"])
    lister.put_object(Bucket=bucket, Key="home/lister/x", Body=b"mine")
    assert lister.list_objects_v2(Bucket=bucket, Prefix="home/lister/", MaxKeys=5)["KeyCount"] == 1
    with pytest.raises(ClientError) as caught:
        lister.list_objects_v2(Bucket=bucket, Prefix="home/lister/", MaxKeys=50)
    assert error_of(caught) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        lister.list_objects_v2(Bucket=bucket, Prefix="home/other/", MaxKeys=5)
    assert error_of(caught) == ("AccessDenied", 403)
    message, _ = denied_message(caught)
    assert message == (
        f"User: arn:aws:iam::{account.account_id}:user/lister is not authorized to perform: "
        f's3:ListBucket on resource: "arn:aws:s3:::{bucket}" because no identity-based policy '
        "allows the s3:ListBucket action"
    )
    with pytest.raises(ClientError) as caught:
        lister.put_object(Bucket=bucket, Key="home/other/x", Body=b"theirs")
    assert error_of(caught) == ("AccessDenied", 403)
    # GetObject on a missing key without s3:ListBucket on the bucket: 403, not 404 (as AWS).
    with pytest.raises(ClientError) as caught:
        lister.get_object(Bucket=bucket, Key="home/lister/missing")
    assert error_of(caught) == ("AccessDenied", 403)


# ---------------------------------------------------------------------------- auth


def test_presigned_get_and_put_with_curl(
    account: NewAccount, server: RunningServer, owner: Any, bucket: str
) -> None:
    if shutil.which("curl") is None:  # pragma: no cover
        pytest.skip("curl is not installed")
    legacy_client = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
    )
    legacy = legacy_client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60
    )
    assert "Signature=" in legacy  # boto3's default in us-east-1: SigV2 (test_s3_sigv2.py)
    owner.put_object(Bucket=bucket, Key="k", Body=b"legacy")
    response = httpx.get(legacy)
    assert response.status_code == 200
    assert response.content == b"legacy"
    put_url = owner.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "via curl.txt"}, ExpiresIn=604800
    )
    done = subprocess.run(
        ["curl", "-sS", "-f", "-X", "PUT", "--data-binary", "sent by curl", put_url],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    get_url = owner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "via curl.txt"}, ExpiresIn=3600
    )
    fetched = subprocess.run(
        ["curl", "-sS", "-f", get_url], capture_output=True, timeout=30, check=False
    )
    assert fetched.stdout == b"sent by curl"
    tampered = get_url.replace("via%20curl.txt", "other.txt")
    assert httpx.get(tampered).status_code == 403
    too_long = owner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "via curl.txt"}, ExpiresIn=604801
    )
    response = httpx.get(too_long)
    assert response.status_code == 400
    assert b"AuthorizationQueryParametersError" in response.content


def test_expired_presigned_url(owner: Any, bucket: str, server: RunningServer) -> None:
    owner.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = owner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1
    )
    time.sleep(1.2)
    response = httpx.get(url)
    assert response.status_code == 403
    assert b"<Message>Request has expired</Message>" in response.content


def test_authentication_errors(
    account: NewAccount, server: RunningServer, bucket: str, client: ClientFactory
) -> None:
    wrong_secret = s3_client(server, account.access_key_id, "x" * 40)
    with pytest.raises(ClientError) as caught:
        wrong_secret.list_objects_v2(Bucket=bucket)
    assert error_of(caught) == ("SignatureDoesNotMatch", 403)
    unknown = s3_client(server, "AKIAUNKNOWNKEY000000", "x" * 40)
    with pytest.raises(ClientError) as caught:
        unknown.list_buckets()
    assert error_of(caught) == ("InvalidAccessKeyId", 403)

    skewed = Signed(
        server,
        account.access_key_id,
        account.secret_access_key,
        "GET",
        f"/{bucket}",
        query="list-type=2",
        when=datetime.now(UTC) - timedelta(minutes=20),
    )
    response = skewed.send()
    assert response.status_code == 403
    assert b"<Code>RequestTimeTooSkewed</Code>" in response.content

    sts = client("sts", account.access_key_id, account.secret_access_key)
    credentials = sts.get_session_token(DurationSeconds=900)["Credentials"]
    temporary = s3_client(
        server,
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    assert temporary.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    server.clock.advance(3600)
    with pytest.raises(ClientError) as caught:
        temporary.list_objects_v2(Bucket=bucket)
    assert error_of(caught) == ("ExpiredToken", 400)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
