"""Request bodies: object data streamed to a blob (checksums, aws-chunked), small bodies
buffered and checked against their digests.

Object data is received on the event loop in batches of a few MB; each batch is hashed and
written in one worker-thread call while the next one arrives (hashlib and zlib release the
GIL), and the last batch, the verification, the fsync and rename and the metadata commit
share one worker call. SHA-256 is only computed for a signed hex payload hash.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..wire.aws_chunked import AwsChunkedDecoder, AwsChunkedError
from ..wire.checksums import (
    UnsupportedChecksumAlgorithm,
    algorithm_for_header,
    b64_checksum,
    new_checksum,
)
from .authn import HEX64, STREAMING_PREFIX
from .call import Call, parse_int
from .errors import S3Error, invalid_request
from .storage import Blobs, Ingest, IngestResult, entity_too_large

__all__ = [
    "FEED_SIZE",
    "MAX_SMALL_BODY",
    "build_ingest",
    "read_small_body",
    "receive",
    "verify_body_digests",
]

MAX_SMALL_BODY: Final = 8 * 1024 * 1024
FEED_SIZE: Final = 4 * 1024 * 1024

T = TypeVar("T")


async def read_small_body(request: Request) -> bytes:
    """The whole body of a non-object request (MaxMessageLengthExceeded over 8 MB)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_SMALL_BODY:
            raise S3Error("MaxMessageLengthExceeded", "Your request was too big.", 400)
        chunks.append(chunk)
    return b"".join(chunks)


def build_ingest(store: Blobs, call: Call, max_size: int, inline_limit: int = 0) -> Ingest:
    """The ingest of an object body as the request's headers describe it (bodies of at most
    `inline_limit` bytes are kept in memory, not written to a blob)."""
    mode = (call.header("x-amz-content-sha256") or "").strip()
    encodings = [e.strip().lower() for e in (call.header("content-encoding") or "").split(",")]
    chunked = mode.startswith(STREAMING_PREFIX) or "aws-chunked" in encodings
    raw_length = call.header("content-length")
    if raw_length is None and not chunked:
        raise S3Error(
            "MissingContentLength", "You must provide the Content-Length HTTP header.", 411
        )
    length = parse_int(raw_length, "Content-Length", 0) if raw_length is not None else None
    declared = call.header("x-amz-decoded-content-length") if chunked else raw_length
    if declared is not None and declared.strip().isdigit() and int(declared) > max_size:
        raise entity_too_large(int(declared), max_size)
    content_md5 = call.header("content-md5")
    if chunked:
        try:
            decoder = AwsChunkedDecoder.from_headers(call.header_list, signing=call.signing)
        except AwsChunkedError as error:
            raise S3Error(error.code, error.message, error.status) from error
        return Ingest(
            store,
            max_size=max_size,
            expected_size=length,
            decoder=decoder,
            content_md5=content_md5,
            inline_limit=inline_limit,
        )
    checksums: dict[str, str | None] = {}
    for name, value in call.headers.items():
        algorithm = algorithm_for_header(name)
        if algorithm is not None:
            checksums[algorithm] = value
    sdk_algorithm = call.header("x-amz-sdk-checksum-algorithm")
    if sdk_algorithm and not checksums:
        try:
            new_checksum(sdk_algorithm)
        except UnsupportedChecksumAlgorithm:
            raise invalid_request("Checksum algorithm provided is unsupported.") from None
        checksums[sdk_algorithm.strip().upper()] = None
    expected_sha256 = mode if HEX64.fullmatch(mode) else None
    return Ingest(
        store,
        max_size=max_size,
        expected_size=length,
        expected_sha256=expected_sha256,
        checksums=checksums,
        content_md5=content_md5,
        inline_limit=inline_limit,
    )


async def receive(request: Request, ingest: Ingest, then: Callable[[IngestResult], T]) -> T:
    """Stream the body into the blob, verify it, and run `then` (the metadata commit) on the
    result in the same worker call as the last batch. On a failure before `then` (or a
    disconnect) nothing remains; `then` cleans up after itself."""
    feeding: asyncio.Future[None] | None = None
    finishing = False
    try:
        pending: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            if not chunk:
                continue
            pending.append(chunk)
            size += len(chunk)
            if size >= FEED_SIZE:
                if feeding is not None:
                    await feeding
                feeding = asyncio.ensure_future(run_in_threadpool(ingest.feed_all, pending))
                pending, size = [], 0
        if feeding is not None:
            await feeding
            feeding = None
        request.state.body_received = True

        def last() -> T:
            try:
                ingest.feed_all(pending)
                result = ingest.finish()
            except BaseException:
                ingest.abort()
                raise
            return then(result)

        finishing = True
        return await run_in_threadpool(last)
    except BaseException:
        if not finishing:
            with anyio.CancelScope(shield=True):
                if feeding is not None:
                    await asyncio.wait([feeding])
                    if not feeding.cancelled():
                        feeding.exception()  # retrieved: the first error is the one raised
                await run_in_threadpool(ingest.abort)
        raise


def verify_body_digests(headers: Mapping[str, str], body: bytes) -> None:
    """Content-MD5 and x-amz-checksum-* of a small (buffered) body."""
    content_md5 = headers.get("content-md5")
    if content_md5 is not None:
        try:
            expected = base64.b64decode(content_md5.strip(), validate=True)
        except (ValueError, binascii.Error):
            raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.") from None
        if not hmac.compare_digest(expected, hashlib.md5(body, usedforsecurity=False).digest()):
            raise S3Error(
                "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
    for name, value in headers.items():
        algorithm = algorithm_for_header(name)
        if algorithm is None:
            continue
        if not hmac.compare_digest(
            b64_checksum(algorithm, body).encode(), value.strip().encode("ascii", "replace")
        ):
            raise S3Error(
                "BadDigest", f"The {algorithm} you specified did not match the calculated checksum."
            )
