"""Multipart uploads: create, upload a part, complete (the parts' blobs become the object's
blobs, in order: no bytes are copied), abort, and list parts and uploads."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..policy.request import ContextValue
from ..store.database import UnitOfWork
from ..wire.checksums import UnsupportedChecksumAlgorithm, composite_checksum, new_checksum
from . import catalog
from .body import build_ingest, receive
from .call import Call, acl_keys, owner, parse_int, quote_etag, respond
from .catalog import Bucket, Content, ObjectRecord, Part, Upload
from .context import MAX_MULTIPART_SIZE, MAX_OBJECT_SIZE, S3Context
from .errors import (
    S3Error,
    invalid_argument,
    invalid_request,
    malformed_xml,
    no_such_key,
    no_such_upload,
)
from .objects import commit_object, copy_source, copy_source_object, object_headers
from .storage import COPY_CHUNK, Ingest, IngestResult, entity_too_large

__all__ = [
    "abort_multipart_upload",
    "complete_multipart_upload",
    "create_multipart_upload",
    "list_multipart_uploads",
    "list_parts",
    "prepare_upload_part",
    "upload_part",
    "upload_part_copy",
]

_INVALID_PART = (
    "One or more of the specified parts could not be found.  The part may not have been "
    "uploaded, or the specified entity tag may not match the part's entity tag."
)


def _upload_for(
    context: S3Context, uow: UnitOfWork, call: Call, action: str | None = None
) -> tuple[Bucket, Upload]:
    bucket = context.authorized_bucket(uow, call, action, key=call.key)
    upload_id = call.query.get("uploadId", "")
    upload = catalog.get_upload(uow, upload_id, call.bucket, call.key)
    if upload is None:
        raise no_such_upload(upload_id)
    return bucket, upload


async def create_multipart_upload(context: S3Context, call: Call, request: Request) -> Response:
    headers = object_headers(call)
    algorithm = call.header("x-amz-checksum-algorithm")
    if algorithm:
        try:
            algorithm = new_checksum(algorithm).algorithm
        except UnsupportedChecksumAlgorithm:
            raise invalid_request("Checksum algorithm provided is unsupported.") from None
    keys = acl_keys(call)
    upload = Upload(
        upload_id=secrets.token_urlsafe(48),
        bucket=call.bucket,
        key=call.key,
        initiator_arn=call.info.caller.arn,
        initiator_id=call.info.caller.account_id,
        content_type=headers.content_type,
        headers=headers.headers,
        metadata=headers.metadata,
        checksum_algorithm=algorithm or None,
        initiated=context.database.clock.now(),
    )

    def run() -> None:
        with context.database.write() as uow:
            context.authorized_bucket(uow, call, key=call.key, keys=keys)
            catalog.create_upload(uow, replace(upload, initiated=uow.now))

    await context.thread(run)
    result: dict[str, Any] = {"Bucket": call.bucket, "Key": call.key, "UploadId": upload.upload_id}
    if upload.checksum_algorithm:
        result["ChecksumAlgorithm"] = upload.checksum_algorithm
        result["ChecksumType"] = "COMPOSITE"
    return respond("CreateMultipartUpload", result)


def _part_number(call: Call) -> int:
    raw_number = call.query.get("partNumber", "")
    if not raw_number.isdigit() or not 1 <= int(raw_number) <= 10000:
        raise invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            raw_number,
        )
    return int(raw_number)


def prepare_upload_part(
    context: S3Context, uow: UnitOfWork, call: Call
) -> tuple[int, Ingest, Upload]:
    """In the authenticating call: the part number, the blob being written, the upload."""
    number = _part_number(call)
    ingest = build_ingest(context.store, call, context.max_object_size)
    try:
        upload = _upload_for(context, uow, call)[1]
    except BaseException:
        ingest.abort()
        raise
    return number, ingest, upload


def _store_part(context: S3Context, upload: Upload, number: int, result: IngestResult) -> datetime:
    """Record a received part (replacing one with its number); its time. On failure the blob
    is removed; a replaced part's blob is released."""
    checksum_value = (
        result.checksum_value
        if upload.checksum_algorithm and result.checksum_algorithm == upload.checksum_algorithm
        else None
    )
    assert result.blob is not None  # parts are never inline
    try:
        with context.database.write() as uow:
            if not catalog.lock_upload(uow, upload.upload_id):
                raise no_such_upload(upload.upload_id)
            part = Part(number, result.blob, result.size, result.md5_hex, checksum_value, uow.now)
            old = catalog.put_part(uow, upload.upload_id, part)
    except BaseException:
        context.store.delete(result.blob)
        raise
    if old is not None:
        context.store.release([old])
    return part.last_modified


def _part_checksums(result: IngestResult) -> dict[str, Any]:
    if result.checksum_algorithm and result.checksum_value:
        return {f"Checksum{result.checksum_algorithm}": result.checksum_value}
    return {}


async def upload_part(context: S3Context, call: Call, request: Request) -> Response:
    number, ingest, upload = call.prepared

    def commit(result: IngestResult) -> IngestResult:
        _store_part(context, upload, number, result)
        return result

    result = await receive(request, ingest, commit)
    response: dict[str, Any] = {"ETag": quote_etag(result.md5_hex)}
    response.update(_part_checksums(result))
    return respond("UploadPart", response)


_COPY_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def _copy_source_range(value: str | None, size: int) -> tuple[int, int]:
    """(first byte, length) to copy: `x-amz-copy-source-range`, or the whole source."""
    if value is None:
        if size > MAX_OBJECT_SIZE:
            raise invalid_request(
                "The specified copy source is larger than the maximum allowable size for a "
                f"copy source: {MAX_OBJECT_SIZE}"
            )
        return 0, size
    found = _COPY_RANGE.fullmatch(value.strip())
    if found is None or int(found.group(1)) > int(found.group(2)):
        raise invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where "
            "first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            value,
        )
    first, last = int(found.group(1)), int(found.group(2))
    if last >= size:
        raise invalid_argument(f"Range specified is not valid for source object of size: {size}")
    if last - first + 1 > MAX_OBJECT_SIZE:
        raise entity_too_large(last - first + 1, MAX_OBJECT_SIZE)
    return first, last - first + 1


def _copy_into_part(
    context: S3Context, source: ObjectRecord, start: int, length: int, algorithm: str | None
) -> IngestResult:
    """The source's bytes [start, start + length) as a new part blob, hashed as a body is
    (FileNotFoundError when the source was overwritten before its blobs were opened)."""
    ingest = Ingest(
        context.store,
        max_size=length,
        expected_size=length,
        checksums={algorithm: None} if algorithm else None,
    )
    try:
        if source.content.inline is not None:
            ingest.feed(source.content.inline[start : start + length])
        else:
            chain = context.store.open_chain(source.content.segments)
            try:
                offset, end = start, start + length
                while offset < end:
                    piece = chain.pread(min(COPY_CHUNK, end - offset), offset)
                    if not piece:
                        raise OSError(f"blob ended early at offset {offset}")
                    ingest.feed(piece)
                    offset += len(piece)
            finally:
                chain.close()
        return ingest.finish()
    except BaseException:
        ingest.abort()
        raise


async def upload_part_copy(context: S3Context, call: Call, request: Request) -> Response:
    """A part copied from an existing object (whole, or `x-amz-copy-source-range`): needs
    s3:PutObject on the upload's key and s3:GetObject on the source."""
    number = _part_number(call)
    source_bucket, source_key = copy_source(call.header("x-amz-copy-source") or "")
    raw_range = call.header("x-amz-copy-source-range")

    def run() -> tuple[IngestResult, datetime]:
        for attempt in range(2):
            with context.database.read() as uow:
                _, upload = _upload_for(context, uow, call)
                source = copy_source_object(context, uow, call, source_bucket, source_key)
            start, length = _copy_source_range(raw_range, source.size)
            try:
                result = _copy_into_part(context, source, start, length, upload.checksum_algorithm)
            except FileNotFoundError:  # overwritten meanwhile: copy what is there now
                if attempt:
                    raise no_such_key(source_key) from None
                continue
            return result, _store_part(context, upload, number, result)
        raise AssertionError("unreachable")

    result, modified = await context.thread(run)
    copied: dict[str, Any] = {"ETag": quote_etag(result.md5_hex), "LastModified": modified}
    copied.update(_part_checksums(result))
    return respond("UploadPartCopy", {"CopyPartResult": copied})


def _chosen_parts(
    context: S3Context, upload: Upload, stored: dict[int, Part], requested: list[Any]
) -> list[Part]:
    """The parts named by CompleteMultipartUpload, checked against what was uploaded."""
    chosen: list[Part] = []
    previous = 0
    for item in requested:
        number = int(item.get("PartNumber", 0))
        if number <= previous:
            raise S3Error(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by "
                "part number.",
                400,
                extra={"UploadId": upload.upload_id},
            )
        previous = number
        part = stored.get(number)
        etag = str(item.get("ETag", "")).strip().strip('"')
        invalid = S3Error(
            "InvalidPart",
            _INVALID_PART,
            400,
            extra={"UploadId": upload.upload_id, "PartNumber": number, "ETag": etag},
        )
        if part is None or part.etag != etag:
            raise invalid
        if upload.checksum_algorithm and part.checksum_value:
            sent = item.get(f"Checksum{upload.checksum_algorithm}")
            if sent is not None and sent != part.checksum_value:
                raise invalid
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < context.min_part_size:
            raise S3Error(
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
                400,
                extra={
                    "ProposedSize": part.size,
                    "MinSizeAllowed": context.min_part_size,
                    "PartNumber": part.part_number,
                    "ETag": part.etag,
                },
            )
    total = sum(p.size for p in chosen)
    if total > MAX_MULTIPART_SIZE:
        raise entity_too_large(total, MAX_MULTIPART_SIZE)
    return chosen


async def complete_multipart_upload(context: S3Context, call: Call, request: Request) -> Response:
    params = call.parse("CompleteMultipartUpload")
    requested = (params.get("MultipartUpload") or {}).get("Parts") or []
    if not requested:
        raise malformed_xml()

    def run() -> tuple[Upload, ObjectRecord]:
        with context.database.read() as uow:
            _, upload = _upload_for(context, uow, call)
            stored = {p.part_number: p for p in catalog.list_parts(uow, upload.upload_id)}
        chosen = _chosen_parts(context, upload, stored, requested)
        md5s = b"".join(bytes.fromhex(p.etag) for p in chosen)
        etag = f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(chosen)}"
        checksum_value = None
        if upload.checksum_algorithm and all(p.checksum_value for p in chosen):
            checksum_value = composite_checksum(
                upload.checksum_algorithm, [p.checksum_value or "" for p in chosen]
            )
        record = ObjectRecord(
            bucket=call.bucket,
            key=call.key,
            content=Content(segments=tuple((p.blob, p.size) for p in chosen)),
            size=sum(p.size for p in chosen),
            etag=etag,
            last_modified=context.database.clock.now(),
            content_type=upload.content_type,
            headers=upload.headers,
            metadata=upload.metadata,
            checksum_algorithm=upload.checksum_algorithm if checksum_value else None,
            checksum_value=checksum_value,
            checksum_type="COMPOSITE" if checksum_value else None,
            parts_count=len(chosen),
        )
        commit_object(context, call, record, upload_id=upload.upload_id)
        return upload, record

    upload, record = await context.thread(run)
    result: dict[str, Any] = {
        "Location": f"/{call.bucket}/{call.key}",
        "Bucket": call.bucket,
        "Key": call.key,
        "ETag": quote_etag(record.etag),
    }
    if record.checksum_value and upload.checksum_algorithm:
        result[f"Checksum{upload.checksum_algorithm}"] = record.checksum_value
        result["ChecksumType"] = "COMPOSITE"
    return respond("CompleteMultipartUpload", result)


async def abort_multipart_upload(context: S3Context, call: Call, request: Request) -> Response:
    def run() -> None:
        with context.database.write() as uow:
            _, upload = _upload_for(context, uow, call)
            catalog.lock_upload(uow, upload.upload_id)
            blobs = catalog.delete_upload(uow, upload.upload_id)
        context.store.release(blobs)

    await context.thread(run)
    return respond("AbortMultipartUpload", None)


async def list_parts(context: S3Context, call: Call, request: Request) -> Response:
    max_parts = min(parse_int(call.query.get("max-parts"), "max-parts", 1000), 1000)
    marker = parse_int(call.query.get("part-number-marker"), "part-number-marker", 0)

    def run() -> tuple[Bucket, Upload, list[Part]]:
        with context.database.read() as uow:
            bucket, upload = _upload_for(context, uow, call)
            parts = catalog.list_parts(uow, upload.upload_id, after=marker, limit=max_parts + 1)
        return bucket, upload, parts

    bucket, upload, parts = await context.thread(run)
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    listed = []
    for part in parts:
        entry: dict[str, Any] = {
            "PartNumber": part.part_number,
            "LastModified": part.last_modified,
            "ETag": quote_etag(part.etag),
            "Size": part.size,
        }
        if part.checksum_value and upload.checksum_algorithm:
            entry[f"Checksum{upload.checksum_algorithm}"] = part.checksum_value
        listed.append(entry)
    result: dict[str, Any] = {
        "Bucket": call.bucket,
        "Key": call.key,
        "UploadId": upload.upload_id,
        "PartNumberMarker": marker,
        "MaxParts": max_parts,
        "IsTruncated": truncated,
        "Parts": listed or None,
        "Initiator": {"ID": upload.initiator_arn, "DisplayName": upload.initiator_id},
        "Owner": owner(bucket.account_id),
        "StorageClass": "STANDARD",
    }
    if parts:
        result["NextPartNumberMarker"] = parts[-1].part_number
    if upload.checksum_algorithm:
        result["ChecksumAlgorithm"] = upload.checksum_algorithm
    return respond("ListParts", result)


async def list_multipart_uploads(context: S3Context, call: Call, request: Request) -> Response:
    prefix = call.query.get("prefix", "")
    key_marker = call.query.get("key-marker") or None
    max_uploads = min(parse_int(call.query.get("max-uploads"), "max-uploads", 1000), 1000)
    keys: dict[str, ContextValue] = {}
    if "prefix" in call.query:
        keys["s3:prefix"] = prefix

    def run() -> tuple[Bucket, list[Upload]]:
        with context.database.read() as uow:
            bucket = context.authorized_bucket(uow, call, keys=keys)
            uploads = catalog.list_uploads(
                uow, call.bucket, prefix=prefix, key_marker=key_marker, limit=max_uploads + 1
            )
        return bucket, uploads

    bucket, uploads = await context.thread(run)
    truncated = len(uploads) > max_uploads
    uploads = uploads[:max_uploads]
    result: dict[str, Any] = {
        "Bucket": call.bucket,
        "KeyMarker": key_marker or "",
        "UploadIdMarker": call.query.get("upload-id-marker", ""),
        "Prefix": prefix,
        "MaxUploads": max_uploads,
        "IsTruncated": truncated,
        "Uploads": [
            {
                "UploadId": u.upload_id,
                "Key": u.key,
                "Initiated": u.initiated,
                "StorageClass": "STANDARD",
                "Owner": owner(bucket.account_id),
                "Initiator": {"ID": u.initiator_arn, "DisplayName": u.initiator_id},
                **({"ChecksumAlgorithm": u.checksum_algorithm} if u.checksum_algorithm else {}),
            }
            for u in uploads
        ]
        or None,
    }
    if truncated and uploads:
        result["NextKeyMarker"] = uploads[-1].key
        result["NextUploadIdMarker"] = uploads[-1].upload_id
    return respond("ListMultipartUploads", result)
