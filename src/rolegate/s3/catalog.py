"""The S3 metadata in the store: buckets, object rows, multipart uploads and their parts.

Plain functions over a `UnitOfWork`. Writers to a bucket take the bucket row `FOR UPDATE`
(PostgreSQL; SQLite serializes writers with BEGIN IMMEDIATE), so an overwrite knows the blob
it replaced and a bucket cannot be deleted while an object is being committed into it.

Changing a bucket row (its policy, its deletion) bumps the owner account's generation, so
bucket rows cached by generation (`S3Context.buckets`) are reloaded on every node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ..analyzer.scan import bucket_changed, resource_removed
from ..store.database import UnitOfWork, as_utc
from ..store.driver import DriverStatement
from .schema import s3_buckets, s3_objects, s3_parts, s3_uploads

__all__ = [
    "Bucket",
    "Content",
    "ObjectRecord",
    "Part",
    "Upload",
    "create_bucket",
    "delete_bucket",
    "delete_object",
    "get_bucket",
    "get_object",
    "get_upload",
    "list_buckets",
    "put_object",
    "referenced_blobs",
]


@dataclass(frozen=True)
class Bucket:
    name: str
    account_id: str
    region: str
    policy: str | None
    created_at: datetime


@dataclass(frozen=True)
class Content:
    """Where an object's bytes are: in its row (`inline`), or in blob files read one after
    the other (`segments` of (blob, size): one, or one per part of a multipart upload)."""

    inline: bytes | None = None
    segments: tuple[tuple[str, int], ...] = ()

    @classmethod
    def blob(cls, blob: str, size: int) -> Content:
        return cls(segments=((blob, size),))

    @property
    def blobs(self) -> list[str]:
        return [blob for blob, _size in self.segments]


@dataclass(frozen=True)
class ObjectRecord:
    bucket: str
    key: str
    content: Content
    size: int
    etag: str
    last_modified: datetime
    content_type: str | None
    headers: Mapping[str, str]
    metadata: Mapping[str, str]
    checksum_algorithm: str | None = None
    checksum_value: str | None = None
    checksum_type: str | None = None
    parts_count: int | None = None


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiator_arn: str
    initiator_id: str
    content_type: str | None
    headers: Mapping[str, str]
    metadata: Mapping[str, str]
    checksum_algorithm: str | None
    initiated: datetime


@dataclass(frozen=True)
class Part:
    part_number: int
    blob: str
    size: int
    etag: str
    checksum_value: str | None
    last_modified: datetime


def _attributes(headers: Mapping[str, str], metadata: Mapping[str, str]) -> str:
    return json.dumps({"headers": dict(headers), "meta": dict(metadata)}, sort_keys=True)


def _read_attributes(text: str) -> tuple[dict[str, str], dict[str, str]]:
    loaded: dict[str, Any] = json.loads(text)
    return dict(loaded.get("headers", {})), dict(loaded.get("meta", {}))


# ---------------------------------------------------------------------------- buckets


# The statements of the per-object path, built once (bound at execution).
_GET_BUCKET = select(s3_buckets).where(s3_buckets.c.name == bindparam("name"))
_LOCK_BUCKET = _GET_BUCKET.with_for_update()
_OBJECT_WHERE = and_(s3_objects.c.bucket == bindparam("b"), s3_objects.c.key == bindparam("k"))
_GET_OBJECT = select(s3_objects).where(_OBJECT_WHERE)
_OBJECT_BLOBS = select(s3_objects.c.blob, s3_objects.c.segments).where(_OBJECT_WHERE)
_UPDATE_OBJECT = update(s3_objects).where(_OBJECT_WHERE)
_DELETE_OBJECT = delete(s3_objects).where(_OBJECT_WHERE)


def _bucket(row: Any) -> Bucket:
    return Bucket(row.name, row.account_id, row.region, row.policy, as_utc(row.created_at))


def get_bucket(uow: UnitOfWork, name: str, *, for_update: bool = False) -> Bucket | None:
    query = _LOCK_BUCKET if for_update else _GET_BUCKET
    row = uow.connection.execute(query, {"name": name}).first()
    return _bucket(row) if row is not None else None


def list_buckets(uow: UnitOfWork, account_id: str) -> list[Bucket]:
    rows = uow.connection.execute(
        select(s3_buckets).where(s3_buckets.c.account_id == account_id).order_by(s3_buckets.c.name)
    )
    return [_bucket(row) for row in rows]


def create_bucket(uow: UnitOfWork, name: str, account_id: str, region: str) -> bool:
    """Insert the bucket; False when the name is taken (by anyone)."""
    if get_bucket(uow, name) is not None:
        return False
    try:
        with uow.connection.begin_nested():
            uow.connection.execute(
                insert(s3_buckets).values(
                    name=name, account_id=account_id, region=region, created_at=uow.now
                )
            )
    except IntegrityError:
        return False
    return True


def bucket_is_empty(uow: UnitOfWork, name: str) -> bool:
    found = uow.connection.execute(
        select(s3_objects.c.key).where(s3_objects.c.bucket == name).limit(1)
    ).first()
    return found is None


def _bucket_changes(uow: UnitOfWork, name: str) -> None:
    owner = uow.connection.execute(
        select(s3_buckets.c.account_id).where(s3_buckets.c.name == name)
    ).scalar()
    if owner is not None:
        uow.lock_account(owner)


def delete_bucket(uow: UnitOfWork, name: str) -> list[str]:
    """Delete an empty bucket and its unfinished uploads; return the part blobs to remove."""
    _bucket_changes(uow, name)
    uploads = select(s3_uploads.c.upload_id).where(s3_uploads.c.bucket == name)
    blobs = [
        row.blob
        for row in uow.connection.execute(
            select(s3_parts.c.blob).where(s3_parts.c.upload_id.in_(uploads))
        )
    ]
    uow.connection.execute(delete(s3_parts).where(s3_parts.c.upload_id.in_(uploads)))
    uow.connection.execute(delete(s3_uploads).where(s3_uploads.c.bucket == name))
    uow.connection.execute(delete(s3_buckets).where(s3_buckets.c.name == name))
    resource_removed(uow, f"arn:aws:s3:::{name}")  # Access Analyzer's findings
    return blobs


def set_bucket_policy(uow: UnitOfWork, name: str, policy: str | None) -> None:
    _bucket_changes(uow, name)
    uow.connection.execute(
        update(s3_buckets).where(s3_buckets.c.name == name).values(policy=policy)
    )
    bucket_changed(uow, name)  # Access Analyzer's findings


# ---------------------------------------------------------------------------- objects


def _content_columns(content: Content) -> dict[str, Any]:
    single = len(content.segments) == 1
    return {
        "inline_data": content.inline,
        "blob": content.segments[0][0] if single else None,
        "segments": json.dumps(content.segments) if len(content.segments) > 1 else None,
    }


def _blobs_of(row: Any) -> list[str]:
    """The blob ids named by a row with `blob` and `segments` columns."""
    if row.segments is not None:
        return [str(blob) for blob, _size in json.loads(row.segments)]
    return [str(row.blob)] if row.blob is not None else []


def referenced_blobs(uow: UnitOfWork) -> set[str]:
    """Every blob id that an object row or an upload's part names."""
    named: set[str] = set()
    objects = select(s3_objects.c.blob, s3_objects.c.segments).where(
        s3_objects.c.blob.is_not(None) | s3_objects.c.segments.is_not(None)
    )
    for row in uow.connection.execute(objects):
        named.update(_blobs_of(row))
    named.update(str(blob) for blob in uow.connection.execute(select(s3_parts.c.blob)).scalars())
    return named


def _content(row: Any) -> Content:
    if row.inline_data is not None:
        return Content(inline=bytes(row.inline_data))
    if row.segments is not None:
        return Content(segments=tuple((str(b), int(n)) for b, n in json.loads(row.segments)))
    return Content.blob(row.blob, int(row.size))


def _object(row: Any) -> ObjectRecord:
    headers, metadata = _read_attributes(row.attributes)
    return ObjectRecord(
        bucket=row.bucket,
        key=row.key,
        content=_content(row),
        size=int(row.size),
        etag=row.etag,
        last_modified=as_utc(row.last_modified),
        content_type=row.content_type,
        headers=headers,
        metadata=metadata,
        checksum_algorithm=row.checksum_algorithm,
        checksum_value=row.checksum_value,
        checksum_type=row.checksum_type,
        parts_count=row.parts_count,
    )


def get_object(uow: UnitOfWork, bucket: str, key: str) -> ObjectRecord | None:
    row = uow.connection.execute(_GET_OBJECT, {"b": bucket, "k": key}).first()
    return _object(row) if row is not None else None


def _upsert_over_inline(dialect: str) -> Any:
    """Insert the row, or replace one whose object has no blobs (nothing to report)."""
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = build(s3_objects)
    columns = [c.name for c in s3_objects.columns if c.name not in ("bucket", "key")]
    return statement.on_conflict_do_update(
        index_elements=[s3_objects.c.bucket, s3_objects.c.key],
        set_={name: statement.excluded[name] for name in columns},
        where=s3_objects.c.blob.is_(None) & s3_objects.c.segments.is_(None),
    ).returning(s3_objects.c.size)  # a row when it wrote (rowcount is not portable here)


_UPSERT_OVER_INLINE = {
    name: DriverStatement(_upsert_over_inline(name)) for name in ("sqlite", "postgresql")
}


def put_object(uow: UnitOfWork, record: ObjectRecord) -> list[str]:
    """Insert or replace the row (the caller holds the bucket lock); return the blobs of the
    object it replaced."""
    connection = uow.connection
    where = {"b": record.bucket, "k": record.key}
    values = {
        **_content_columns(record.content),
        "size": record.size,
        "etag": record.etag,
        "last_modified": record.last_modified,
        "content_type": record.content_type,
        "attributes": _attributes(record.headers, record.metadata),
        "checksum_algorithm": record.checksum_algorithm,
        "checksum_value": record.checksum_value,
        "checksum_type": record.checksum_type,
        "parts_count": record.parts_count,
    }
    upsert = _UPSERT_OVER_INLINE[connection.dialect.name]
    if upsert.rows(connection, {"bucket": record.bucket, "key": record.key, **values}):
        return []  # a new key, or an object that had no blobs: one statement
    old = connection.execute(_OBJECT_BLOBS, where).first()
    connection.execute(_UPDATE_OBJECT, {**where, **values})
    return _blobs_of(old)


def delete_object(uow: UnitOfWork, bucket: str, key: str) -> list[str]:
    """Delete the row; return its blobs (none when there was no such object)."""
    where = {"b": bucket, "k": key}
    old = uow.connection.execute(_OBJECT_BLOBS, where).first()
    if old is None:
        return []
    uow.connection.execute(_DELETE_OBJECT, where)
    return _blobs_of(old)


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    etag: str
    last_modified: datetime
    checksum_algorithm: str | None


def prefix_end(prefix: str) -> str | None:
    """The smallest string above every string that starts with `prefix` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            following = last + 1
            if 0xD800 <= following <= 0xDFFF:
                following = 0xE000
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


def _scan(
    uow: UnitOfWork,
    bucket: str,
    *,
    lower: str | None,
    inclusive: bool,
    upper: str | None,
    limit: int,
) -> list[Listed]:
    column = s3_objects.c.key
    conditions = [s3_objects.c.bucket == bucket]
    if lower is not None:
        conditions.append(column >= lower if inclusive else column > lower)
    if upper is not None:
        conditions.append(column < upper)
    rows = uow.connection.execute(
        select(
            column,
            s3_objects.c.size,
            s3_objects.c.etag,
            s3_objects.c.last_modified,
            s3_objects.c.checksum_algorithm,
        )
        .where(and_(*conditions))
        .order_by(column)
        .limit(limit)
    )
    return [
        Listed(r.key, int(r.size), r.etag, as_utc(r.last_modified), r.checksum_algorithm)
        for r in rows
    ]


@dataclass(frozen=True)
class Page:
    contents: list[Listed]
    common_prefixes: list[str]
    truncated: bool
    last: str | None  # the last key or common prefix returned
    last_is_prefix: bool


def list_page(
    uow: UnitOfWork,
    bucket: str,
    *,
    prefix: str,
    delimiter: str,
    after: str | None,
    after_is_prefix: bool = False,
    max_keys: int,
) -> Page:
    """One page of a listing in UTF-8 byte order, keys under a delimiter rolled up into
    common prefixes (each counts as one entry); `after` is exclusive (a prefix: skipped)."""
    upper = prefix_end(prefix) if prefix else None
    lower: str | None = prefix or None
    inclusive = True
    skip: str | None = None
    if after is not None and (lower is None or after >= lower):
        if after_is_prefix or (
            delimiter
            and after.endswith(delimiter)
            and after.startswith(prefix)
            and after.find(delimiter, len(prefix)) == len(after) - len(delimiter)
        ):
            skip = after
            end = prefix_end(after)
            lower, inclusive = (end, True) if end is not None else (after, False)
        else:
            lower, inclusive = after, False
    items: list[tuple[Listed | None, str | None]] = []
    batch = min(max_keys + 1, 1000)
    while len(items) <= max_keys:
        rows = _scan(uow, bucket, lower=lower, inclusive=inclusive, upper=upper, limit=batch)
        jumped = False
        for row in rows:
            lower, inclusive = row.key, False
            if not row.key.startswith(prefix) or (skip is not None and row.key.startswith(skip)):
                continue
            if delimiter:
                found = row.key.find(delimiter, len(prefix))
                if found >= 0:
                    common = row.key[: found + len(delimiter)]
                    items.append((None, common))
                    skip = common
                    end = prefix_end(common)
                    if end is not None:
                        lower, inclusive, jumped = end, True, True
                        break
                    if len(items) > max_keys:
                        break
                    continue
            items.append((row, None))
            if len(items) > max_keys:
                break
        if not jumped and len(rows) < batch:
            break
    truncated = len(items) > max_keys
    items = items[:max_keys]
    contents = [row for row, _ in items if row is not None]
    prefixes = [common for _, common in items if common is not None]
    last_row, last_prefix = items[-1] if items else (None, None)
    last = last_prefix if last_prefix is not None else (last_row.key if last_row else None)
    return Page(contents, prefixes, truncated, last, last_prefix is not None)


def count_objects(uow: UnitOfWork, bucket: str) -> int:
    return int(
        uow.connection.execute(
            select(func.count()).select_from(s3_objects).where(s3_objects.c.bucket == bucket)
        ).scalar_one()
    )


# ---------------------------------------------------------------------------- uploads


def _upload(row: Any) -> Upload:
    headers, metadata = _read_attributes(row.attributes)
    return Upload(
        upload_id=row.upload_id,
        bucket=row.bucket,
        key=row.key,
        initiator_arn=row.initiator_arn,
        initiator_id=row.initiator_id,
        content_type=row.content_type,
        headers=headers,
        metadata=metadata,
        checksum_algorithm=row.checksum_algorithm,
        initiated=as_utc(row.initiated),
    )


def create_upload(uow: UnitOfWork, upload: Upload) -> None:
    uow.connection.execute(
        insert(s3_uploads).values(
            upload_id=upload.upload_id,
            bucket=upload.bucket,
            key=upload.key,
            initiator_arn=upload.initiator_arn,
            initiator_id=upload.initiator_id,
            content_type=upload.content_type,
            attributes=_attributes(upload.headers, upload.metadata),
            checksum_algorithm=upload.checksum_algorithm,
            initiated=upload.initiated,
        )
    )


def get_upload(uow: UnitOfWork, upload_id: str, bucket: str, key: str) -> Upload | None:
    row = uow.connection.execute(
        select(s3_uploads).where(
            and_(
                s3_uploads.c.upload_id == upload_id,
                s3_uploads.c.bucket == bucket,
                s3_uploads.c.key == key,
            )
        )
    ).first()
    return _upload(row) if row is not None else None


def list_uploads(
    uow: UnitOfWork, bucket: str, *, prefix: str, key_marker: str | None, limit: int
) -> list[Upload]:
    conditions = [s3_uploads.c.bucket == bucket]
    if prefix:
        conditions.append(s3_uploads.c.key >= prefix)
        upper = prefix_end(prefix)
        if upper is not None:
            conditions.append(s3_uploads.c.key < upper)
    if key_marker:
        conditions.append(s3_uploads.c.key > key_marker)
    rows = uow.connection.execute(
        select(s3_uploads)
        .where(and_(*conditions))
        .order_by(s3_uploads.c.key, s3_uploads.c.initiated, s3_uploads.c.upload_id)
        .limit(limit)
    )
    return [_upload(row) for row in rows if row.key.startswith(prefix)]


def _part(row: Any) -> Part:
    return Part(
        int(row.part_number),
        row.blob,
        int(row.size),
        row.etag,
        row.checksum_value,
        as_utc(row.last_modified),
    )


def list_parts(
    uow: UnitOfWork, upload_id: str, *, after: int = 0, limit: int | None = None
) -> list[Part]:
    query = (
        select(s3_parts)
        .where(and_(s3_parts.c.upload_id == upload_id, s3_parts.c.part_number > after))
        .order_by(s3_parts.c.part_number)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_part(row) for row in uow.connection.execute(query)]


def put_part(uow: UnitOfWork, upload_id: str, part: Part) -> str | None:
    """Insert or replace a part; return the blob it replaced."""
    where = and_(s3_parts.c.upload_id == upload_id, s3_parts.c.part_number == part.part_number)
    old = uow.connection.execute(select(s3_parts.c.blob).where(where)).scalar()
    values = {
        "blob": part.blob,
        "size": part.size,
        "etag": part.etag,
        "checksum_value": part.checksum_value,
        "last_modified": part.last_modified,
    }
    if old is None:
        uow.connection.execute(
            insert(s3_parts).values(upload_id=upload_id, part_number=part.part_number, **values)
        )
    else:
        uow.connection.execute(update(s3_parts).where(where).values(**values))
    return str(old) if old is not None else None


def delete_upload(uow: UnitOfWork, upload_id: str) -> list[str]:
    """Remove the upload and its parts; return the part blobs."""
    blobs = [
        row.blob
        for row in uow.connection.execute(
            select(s3_parts.c.blob).where(s3_parts.c.upload_id == upload_id)
        )
    ]
    uow.connection.execute(delete(s3_parts).where(s3_parts.c.upload_id == upload_id))
    uow.connection.execute(delete(s3_uploads).where(s3_uploads.c.upload_id == upload_id))
    return blobs


def lock_upload(uow: UnitOfWork, upload_id: str) -> bool:
    """Lock the upload row (PostgreSQL); False when it no longer exists."""
    row = uow.connection.execute(
        select(s3_uploads.c.upload_id).where(s3_uploads.c.upload_id == upload_id).with_for_update()
    ).first()
    return row is not None
