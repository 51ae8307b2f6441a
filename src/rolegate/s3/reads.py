"""GetObject and HeadObject: conditional requests, single byte ranges, response overrides.

`open_object` runs in the call that authenticated the request (same transaction): it
authorizes, reads the row and opens the blobs, and reads a small object whole (or takes it
from the row), so a small GET is one call; a large one streams from the open files in
MB reads.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..store.database import UnitOfWork
from ..wire.restxml import serialize_rest_response
from . import catalog
from .access import denial
from .call import (
    Call,
    etag_matches,
    format_http_date,
    http_date,
    quote_etag,
    whole_seconds,
)
from .catalog import ObjectRecord
from .context import S3Context, bucket_decision
from .errors import S3Error, invalid_request, no_such_key, precondition_failed
from .names import bucket_arn
from .storage import BlobReader

__all__ = [
    "STORED_HEADERS",
    "get_object",
    "head_object",
    "open_object",
    "open_object_head",
    "parse_range",
]

READ_SIZE: Final = 8 * 1024 * 1024
SMALL_OBJECT: Final = 256 * 1024  # read whole in the opening call
_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")
STORED_HEADERS: Final = (
    ("cache-control", "CacheControl"),
    ("content-disposition", "ContentDisposition"),
    ("content-encoding", "ContentEncoding"),
    ("content-language", "ContentLanguage"),
    ("expires", "ExpiresString"),
)
_RESPONSE_OVERRIDES: Final = (
    ("response-cache-control", "Cache-Control"),
    ("response-content-disposition", "Content-Disposition"),
    ("response-content-encoding", "Content-Encoding"),
    ("response-content-language", "Content-Language"),
    ("response-content-type", "Content-Type"),
    ("response-expires", "Expires"),
)
_OPEN_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class Opened:
    """The object row and its bytes: read whole (`data`), open `blobs`, or neither (HEAD)."""

    record: ObjectRecord
    blobs: BlobReader | None = None
    data: bytes | None = None

    def close(self) -> None:
        if self.blobs is not None:
            self.blobs.close()


def _find(context: S3Context, uow: UnitOfWork, call: Call) -> ObjectRecord:
    """Authorize s3:GetObject and read the row (NoSuchKey only to a caller who may list)."""
    if "partNumber" in call.query:
        raise S3Error("NotImplemented", "partNumber is not implemented", 501)
    bucket = context.authorized_bucket(uow, call, "s3:GetObject", key=call.key)
    record = catalog.get_object(uow, call.bucket, call.key)
    if record is None:
        resource = bucket_arn(call.bucket)
        decision = bucket_decision(call, "s3:ListBucket", resource, bucket)
        if not decision.allowed:
            raise denial(call.info, "s3:ListBucket", resource, decision, bucket.account_id)
        raise no_such_key(call.key)
    return record


def open_object_head(context: S3Context, uow: UnitOfWork, call: Call) -> Opened:
    return Opened(_find(context, uow, call))


def open_object(context: S3Context, uow: UnitOfWork, call: Call) -> Opened:
    """Open the blobs (retrying if an overwrite removed them between the row and the open)."""
    record = _find(context, uow, call)
    for _attempt in range(_OPEN_ATTEMPTS):
        if record.content.inline is not None:
            return Opened(record, data=record.content.inline)
        try:
            blobs = context.store.open_chain(record.content.segments)
        except FileNotFoundError:
            with context.database.read() as fresh:
                record = _find(context, fresh, call)
            continue
        if record.size > SMALL_OBJECT:
            return Opened(record, blobs=blobs)
        try:
            return Opened(record, data=blobs.read_all())
        finally:
            blobs.close()
    raise S3Error("InternalError", "We encountered an internal error. Please try again.", 500)


async def head_object(context: S3Context, call: Call, request: Request) -> Response:
    return _respond(call, call.prepared, head=True)


async def get_object(context: S3Context, call: Call, request: Request) -> Response:
    return _respond(call, call.prepared, head=False)


def _respond(call: Call, opened: Opened, *, head: bool) -> Response:
    record = opened.record
    try:
        status = _check_read_conditions(call, record)
        byte_range = None
        if status is None:
            byte_range = parse_range(call.header("range"), record.size)
        result: dict[str, Any] = {
            "AcceptRanges": "bytes",
            "LastModified": record.last_modified,
            "ETag": quote_etag(record.etag),
            "ContentType": record.content_type,
            "Metadata": dict(record.metadata) or None,
        }
        for header, member in STORED_HEADERS:
            if header in record.headers:
                result[member] = record.headers[header]
        if status == 304:
            headers = {
                "ETag": quote_etag(record.etag),
                "Last-Modified": format_http_date(record.last_modified),
            }
            return Response(None, 304, headers)
        start, length = 0, record.size
        if byte_range is not None:
            start, end = byte_range
            length = end - start + 1
            result["ContentRange"] = f"bytes {start}-{end}/{record.size}"
        elif (
            (call.header("x-amz-checksum-mode") or "").upper() == "ENABLED"
            and record.checksum_algorithm
            and record.checksum_value
        ):
            result[f"Checksum{record.checksum_algorithm}"] = record.checksum_value
            result["ChecksumType"] = record.checksum_type or "FULL_OBJECT"
        result["ContentLength"] = length
        operation = "HeadObject" if head else "GetObject"
        code, header_items, _ = serialize_rest_response(operation, result)
        headers = dict(header_items)
        for query_name, header in _RESPONSE_OVERRIDES:
            if query_name in call.query:
                if call.info.anonymous:
                    raise invalid_request(
                        "Request specific response headers cannot be used for anonymous "
                        "GET requests."
                    )
                headers = {k: v for k, v in headers.items() if k.lower() != header.lower()}
                headers[header] = call.query[query_name]
        headers["Content-Length"] = str(length)
        code = 206 if byte_range is not None else code
        if head:
            return Response(None, code, headers)
        if opened.data is not None:
            return Response(opened.data[start : start + length], code, headers)
        assert opened.blobs is not None
        blobs, opened = opened.blobs, Opened(record)  # the stream owns the files now
        return _BlobResponse(blobs, start, length, code, headers)
    finally:
        opened.close()


class _BlobResponse(StreamingResponse):
    """Streams a range of open blobs and closes them however the response ends (a client
    gone before the first byte never starts the stream, whose own cleanup would not run)."""

    def __init__(
        self, blobs: BlobReader, start: int, length: int, status: int, headers: dict[str, str]
    ) -> None:
        self.blobs = blobs
        super().__init__(_stream(blobs, start, length), status, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.blobs.close()


async def _stream(blobs: BlobReader, start: int, length: int) -> AsyncIterator[bytes | memoryview]:
    """The range in windows of `READ_SIZE`; the next window is read (mapped) in a worker
    thread while the loop sends the current one."""
    ahead: asyncio.Future[bytes | memoryview] | None = None
    try:
        offset, end = start, start + length

        def fetch(at: int) -> asyncio.Future[bytes | memoryview]:
            return asyncio.ensure_future(
                run_in_threadpool(blobs.window, min(READ_SIZE, end - at), at)
            )

        ahead = fetch(offset)
        while ahead is not None:
            chunk = await ahead
            ahead = None
            if not chunk:
                break
            offset += len(chunk)
            if offset < end:
                ahead = fetch(offset)
            yield chunk
            del chunk
    finally:
        if ahead is not None:  # the worker call runs to its end: wait before closing
            with anyio.CancelScope(shield=True):
                await asyncio.wait([ahead])
            if not ahead.cancelled():
                ahead.exception()  # retrieved: the stream's own error is the one raised
        blobs.close()


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range; None to send the whole object."""
    if not value:
        return None
    found = _RANGE.fullmatch(value.strip())
    if found is None or (not found.group(1) and not found.group(2)):
        return None
    first_text, last_text = found.groups()
    if first_text:
        first = int(first_text)
        if first >= size:
            raise _invalid_range(value, size)
        last = int(last_text) if last_text else size - 1
        if last < first:
            return None
        return first, min(last, size - 1)
    suffix = int(last_text)
    if suffix == 0 or size == 0:
        raise _invalid_range(value, size)
    return max(0, size - suffix), size - 1


def _invalid_range(value: str, size: int) -> S3Error:
    return S3Error(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        extra={"RangeRequested": value, "ActualObjectSize": size},
        headers={"Content-Range": f"bytes */{size}"},
    )


def _check_read_conditions(call: Call, record: ObjectRecord) -> int | None:
    """None to proceed, 304 for Not Modified; raise 412 PreconditionFailed."""
    modified = whole_seconds(record.last_modified)
    if_match = call.header("if-match")
    if_none_match = call.header("if-none-match")
    if if_match is not None and not etag_matches(if_match, record.etag):
        raise precondition_failed("If-Match")
    since = http_date(call.header("if-unmodified-since"))
    if if_match is None and since is not None and modified > since:
        raise precondition_failed("If-Unmodified-Since")
    if if_none_match is not None and etag_matches(if_none_match, record.etag):
        return 304
    modified_since = http_date(call.header("if-modified-since"))
    if if_none_match is None and modified_since is not None and modified <= modified_since:
        return 304
    return None
