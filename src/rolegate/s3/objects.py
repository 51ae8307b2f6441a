"""Object writes: PutObject, CopyObject, DeleteObject, DeleteObjects, and the commit that
points a key at new content (temp file, fsync, rename, then the metadata row; a small
object's bytes go into the row itself)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Final
from urllib.parse import unquote

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from ..store.database import UnitOfWork
from ..wire.checksums import algorithm_for_header
from . import catalog
from .access import denied_message
from .body import build_ingest, receive
from .call import Call, acl_keys, etag_matches, http_date, quote_etag, respond, whole_seconds
from .catalog import Content, ObjectRecord
from .context import MAX_OBJECT_SIZE, S3Context, bucket_decision
from .errors import (
    S3Error,
    invalid_argument,
    invalid_request,
    malformed_xml,
    no_such_bucket,
    no_such_key,
    no_such_upload,
    precondition_failed,
)
from .names import object_arn
from .reads import STORED_HEADERS
from .storage import Ingest, IngestResult

__all__ = [
    "ObjectHeaders",
    "commit_object",
    "complete_small_put_object",
    "content_of",
    "copy_object",
    "copy_source",
    "copy_source_object",
    "delete_object",
    "delete_objects",
    "object_headers",
    "prepare_put_object",
    "put_object",
]

MAX_METADATA_SIZE: Final = 2048


@dataclass(frozen=True)
class ObjectHeaders:
    """What a write stores besides the bytes: Content-Type, standard headers, user metadata."""

    content_type: str
    headers: dict[str, str]
    metadata: dict[str, str]


def object_headers(call: Call) -> ObjectHeaders:
    """The stored headers of a write (MetadataTooLarge over 2 KB of user metadata)."""
    content_type = call.header("content-type") or "binary/octet-stream"
    stored: dict[str, str] = {}
    for header, _ in STORED_HEADERS:
        value = call.header(header)
        if value is None:
            continue
        if header == "content-encoding":
            value = ",".join(
                part.strip()
                for part in value.split(",")
                if part.strip() and part.strip().lower() != "aws-chunked"
            )
            if not value:
                continue
        stored[header] = value
    metadata = {
        name.removeprefix("x-amz-meta-"): value
        for name, value in call.headers.items()
        if name.startswith("x-amz-meta-") and len(name) > len("x-amz-meta-")
    }
    size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if size > MAX_METADATA_SIZE:
        raise S3Error(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
            400,
            extra={"Size": size, "MaxSizeAllowed": MAX_METADATA_SIZE},
        )
    return ObjectHeaders(content_type, stored, metadata)


def commit_object(
    context: S3Context, call: Call, record: ObjectRecord, *, upload_id: str | None = None
) -> None:
    """Point the key at the new content, then release the blobs it replaced (deleted after
    the response). If this fails, the new blobs are removed again. With `upload_id`, the
    upload ends in the same commit: its parts are the new content's blobs, the parts not used
    are released. Blocking (a transaction): a worker thread, or the loop for a small object on
    SQLite."""
    if_none_match = call.header("if-none-match") if call.method in ("PUT", "POST") else None
    if_match = call.header("if-match") if call.method in ("PUT", "POST") else None
    try:
        replaced = context.commits.run(
            partial(
                _commit,
                record=record,
                upload_id=upload_id,
                if_none_match=if_none_match,
                if_match=if_match,
            )
        )
    except BaseException:
        if upload_id is None:
            context.store.delete_all(record.content.blobs)
        raise
    kept = set(record.content.blobs)
    context.store.release([blob for blob in replaced if blob not in kept])


def _commit(
    uow: UnitOfWork,
    record: ObjectRecord,
    upload_id: str | None,
    if_none_match: str | None,
    if_match: str | None,
) -> list[str]:
    """The metadata commit; returns the blobs no longer referenced."""
    record_now = replace(record, last_modified=uow.now)
    # Row locks keep a concurrent overwrite from reporting the same replaced blobs; a
    # serialized store needs none, and a missing bucket fails the insert's foreign key.
    if not uow.serialized and catalog.get_bucket(uow, record.bucket, for_update=True) is None:
        raise no_such_bucket(record.bucket)
    parts: list[str] = []
    if upload_id is not None:
        if not catalog.lock_upload(uow, upload_id):
            raise no_such_upload(upload_id)
        parts = catalog.delete_upload(uow, upload_id)
        if not set(record.content.blobs) <= set(parts):  # a part was uploaded again meanwhile
            raise no_such_upload(upload_id)
    if if_none_match is not None or if_match is not None:
        existing = catalog.get_object(uow, record.bucket, record.key)
        if (
            if_none_match is not None
            and existing is not None
            and etag_matches(if_none_match, existing.etag)
        ):
            raise precondition_failed("If-None-Match")
        if if_match is not None and (existing is None or not etag_matches(if_match, existing.etag)):
            if existing is None:
                raise no_such_key(record.key)
            raise precondition_failed("If-Match")
    try:
        return catalog.put_object(uow, record_now) + parts
    except IntegrityError:  # the bucket was deleted since the request was authorized
        raise no_such_bucket(record.bucket) from None


@dataclass(frozen=True)
class _PutPlan:
    headers: ObjectHeaders
    ingest: Ingest
    result: IngestResult | None = None  # set when the body was small and already committed


def prepare_put_object(context: S3Context, uow: UnitOfWork, call: Call) -> _PutPlan:
    """In the authenticating call: check the headers, prepare the ingest, authorize."""
    headers = object_headers(call)
    ingest = build_ingest(context.store, call, context.max_object_size, context.inline_object_size)
    try:
        context.authorized_bucket(uow, call, key=call.key, keys=acl_keys(call))
    except BaseException:
        ingest.abort()
        raise
    return _PutPlan(headers, ingest)


def complete_small_put_object(context: S3Context, call: Call) -> _PutPlan:
    """After authorization, in the same call: a body that was read whole (small) is
    verified and committed here, so a small PUT takes one call."""
    plan: _PutPlan = call.prepared
    if call.object_data is None:
        return plan
    try:
        plan.ingest.feed(call.object_data)
        result = plan.ingest.finish()
    except BaseException:
        plan.ingest.abort()
        raise
    return replace(plan, result=_commit_put(context, call, plan, result))


def _commit_put(
    context: S3Context, call: Call, plan: _PutPlan, result: IngestResult
) -> IngestResult:
    record = ObjectRecord(
        bucket=call.bucket,
        key=call.key,
        content=content_of(result),
        size=result.size,
        etag=result.md5_hex,
        last_modified=context.database.clock.now(),
        content_type=plan.headers.content_type,
        headers=plan.headers.headers,
        metadata=plan.headers.metadata,
        checksum_algorithm=result.checksum_algorithm,
        checksum_value=result.checksum_value,
        checksum_type="FULL_OBJECT" if result.checksum_algorithm else None,
    )
    commit_object(context, call, record)
    return result


async def put_object(context: S3Context, call: Call, request: Request) -> Response:
    plan: _PutPlan = call.prepared
    result = plan.result
    if result is None:
        result = await receive(request, plan.ingest, partial(_commit_put, context, call, plan))
    response: dict[str, Any] = {"ETag": quote_etag(result.md5_hex)}
    if result.checksum_algorithm and result.checksum_value:
        response[f"Checksum{result.checksum_algorithm}"] = result.checksum_value
        response["ChecksumType"] = "FULL_OBJECT"
    return respond("PutObject", response)


async def copy_object(context: S3Context, call: Call, request: Request) -> Response:
    source_bucket, source_key = copy_source(call.header("x-amz-copy-source") or "")
    directive = (call.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", directive)
    replaced = object_headers(call) if directive == "REPLACE" else None
    keys = acl_keys(call)

    def run() -> ObjectRecord:
        with context.database.read() as uow:
            context.authorized_bucket(uow, call, key=call.key, keys=keys)
            source = copy_source_object(context, uow, call, source_bucket, source_key)
        if source_bucket == call.bucket and source_key == call.key and directive == "COPY":
            raise invalid_request(
                "This copy request is illegal because it is trying to copy an object to "
                "itself without changing the object's metadata, storage class, website "
                "redirect location or encryption attributes."
            )
        if source.size > MAX_OBJECT_SIZE:
            raise invalid_request(
                "The specified copy source is larger than the maximum allowable size for a "
                f"copy source: {MAX_OBJECT_SIZE}"
            )
        try:
            content = _duplicate(context, source.content)
        except FileNotFoundError:  # overwritten meanwhile: copy what is there now
            with context.database.read() as uow:
                fresh = catalog.get_object(uow, source_bucket, source_key)
            if fresh is None:
                raise no_such_key(source_key) from None
            source = fresh
            content = _duplicate(context, source.content)
        copied = replace(source, bucket=call.bucket, key=call.key, content=content)
        if replaced is not None:
            copied = replace(
                copied,
                content_type=replaced.content_type,
                headers=replaced.headers,
                metadata=replaced.metadata,
            )
        copied = replace(copied, last_modified=context.database.clock.now())
        commit_object(context, call, copied)
        return copied

    copied = await context.thread(run)
    result: dict[str, Any] = {"ETag": quote_etag(copied.etag), "LastModified": copied.last_modified}
    full = copied.checksum_type == "FULL_OBJECT"
    if copied.checksum_algorithm and copied.checksum_value and full:
        result[f"Checksum{copied.checksum_algorithm}"] = copied.checksum_value
    return respond("CopyObject", {"CopyObjectResult": result})


async def delete_object(context: S3Context, call: Call, request: Request) -> Response:
    def run() -> None:
        with context.database.write() as uow:
            context.authorized_bucket(uow, call, key=call.key)
            catalog.get_bucket(uow, call.bucket, for_update=True)
            old = catalog.delete_object(uow, call.bucket, call.key)
        context.store.release(old)

    await context.thread(run)
    return respond("DeleteObject", None)


async def delete_objects(context: S3Context, call: Call, request: Request) -> Response:
    if not call.body:
        raise malformed_xml()
    if call.header("content-md5") is None and not any(
        algorithm_for_header(name) for name in call.headers
    ):
        raise invalid_request("Missing required header for this request: Content-Md5")
    params = call.parse("DeleteObjects")
    spec = params.get("Delete") or {}
    objects = spec.get("Objects") or []
    if not objects or len(objects) > 1000:
        raise malformed_xml()
    quiet = bool(spec.get("Quiet"))

    def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        deleted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        blobs: list[str] = []
        with context.database.write() as uow:
            bucket = catalog.get_bucket(uow, call.bucket, for_update=True)
            if bucket is None:
                context.authorized_bucket(uow, call, "s3:DeleteObject", key="*")
                raise no_such_bucket(call.bucket)
            for item in objects:
                key = item.get("Key", "")
                resource = object_arn(call.bucket, key)
                decision = bucket_decision(call, "s3:DeleteObject", resource, bucket)
                if not decision.allowed:
                    message = denied_message(
                        call.info, "s3:DeleteObject", resource, decision, bucket.account_id
                    )
                    errors.append({"Key": key, "Code": "AccessDenied", "Message": message})
                    continue
                blobs.extend(catalog.delete_object(uow, call.bucket, key))
                if not quiet:
                    deleted.append({"Key": key})
        context.store.release(blobs)
        return deleted, errors

    deleted, errors = await context.thread(run)
    return respond("DeleteObjects", {"Deleted": deleted or None, "Errors": errors or None})


def content_of(result: IngestResult) -> Content:
    if result.inline is not None:
        return Content(inline=result.inline)
    assert result.blob is not None
    return Content.blob(result.blob, result.size)


def _duplicate(context: S3Context, content: Content) -> Content:
    """The same bytes under new blob ids (FileNotFoundError when a blob is gone)."""
    segments: list[tuple[str, int]] = []
    try:
        for blob, size in content.segments:
            segments.append((context.store.duplicate(blob), size))
    except BaseException:
        context.store.delete_all([blob for blob, _size in segments])
        raise
    return Content(inline=content.inline, segments=tuple(segments))


def copy_source_object(
    context: S3Context, uow: UnitOfWork, call: Call, bucket: str, key: str
) -> ObjectRecord:
    """The object `x-amz-copy-source` names, which the caller may read (s3:GetObject) and
    which meets the `x-amz-copy-source-if-*` conditions."""
    context.authorized_bucket(uow, call, "s3:GetObject", key=key, bucket_name=bucket)
    source = catalog.get_object(uow, bucket, key)
    if source is None:
        raise no_such_key(key)
    _check_copy_conditions(call, source)
    return source


def _check_copy_conditions(call: Call, source: ObjectRecord) -> None:
    modified = whole_seconds(source.last_modified)
    if_match = call.header("x-amz-copy-source-if-match")
    if if_match is not None and not etag_matches(if_match, source.etag):
        raise precondition_failed("x-amz-copy-source-If-Match")
    if_none_match = call.header("x-amz-copy-source-if-none-match")
    if if_none_match is not None and etag_matches(if_none_match, source.etag):
        raise precondition_failed("x-amz-copy-source-If-None-Match")
    since = http_date(call.header("x-amz-copy-source-if-unmodified-since"))
    if since is not None and modified > since:
        raise precondition_failed("x-amz-copy-source-If-Unmodified-Since")
    modified_since = http_date(call.header("x-amz-copy-source-if-modified-since"))
    if modified_since is not None and modified <= modified_since:
        raise precondition_failed("x-amz-copy-source-If-Modified-Since")


def copy_source(value: str) -> tuple[str, str]:
    source = unquote(value.strip())
    source, _, version = source.partition("?versionId=")
    source = source.removeprefix("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    if version and version != "null":
        raise S3Error("NoSuchVersion", "The specified version does not exist.", 404)
    return bucket, key
