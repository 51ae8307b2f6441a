"""The S3 tables, on the store's shared `metadata` (migration 0003 creates them).

Object bytes live in blobs: files (`rolegate.s3.storage`) on SQLite, rows of `s3_blobs` /
`s3_blob_chunks` (`rolegate.s3.shared_blobs`, migration 0009) on PostgreSQL, where every node
reads them. A row names its blob, or its blobs in order (`segments`, a completed multipart
upload); a small object's bytes are in its row (`inline_data`, the last column so listings
never read it).
Keys sort by their UTF-8 bytes as S3 lists them: SQLite's default BINARY collation does
that, PostgreSQL needs the "C" collation on the key columns.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from ..store.schema import metadata

__all__ = [
    "KEY_TYPE",
    "s3_blob_chunks",
    "s3_blobs",
    "s3_buckets",
    "s3_objects",
    "s3_parts",
    "s3_uploads",
]


def key_type() -> TypeEngine[str]:
    """A 1024-character key compared bytewise on every backend."""
    return String(1024).with_variant(String(1024, collation="C"), "postgresql")


KEY_TYPE = key_type()


def _when(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


s3_buckets = Table(
    "s3_buckets",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("policy", Text, nullable=True),
    _when("created_at"),
)

s3_objects = Table(
    "s3_objects",
    metadata,
    Column("bucket", String(63), ForeignKey("s3_buckets.name"), nullable=False),
    Column("key", key_type(), nullable=False),
    Column("blob", String(64), nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),
    _when("last_modified"),
    Column("content_type", String(256), nullable=True),
    # JSON: {"headers": {Content-Encoding, Cache-Control, ...}, "meta": {x-amz-meta-*}}
    Column("attributes", Text, nullable=False),
    Column("checksum_algorithm", String(16), nullable=True),
    Column("checksum_value", String(128), nullable=True),
    Column("checksum_type", String(16), nullable=True),
    Column("parts_count", Integer, nullable=True),
    Column("segments", Text, nullable=True),  # JSON [[blob, size], ...] of 2+ blobs
    Column("inline_data", LargeBinary, nullable=True),
    PrimaryKeyConstraint("bucket", "key", name="pk_s3_objects"),
)

s3_uploads = Table(
    "s3_uploads",
    metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("bucket", String(63), ForeignKey("s3_buckets.name"), nullable=False, index=True),
    Column("key", key_type(), nullable=False),
    Column("initiator_arn", String(2048), nullable=False),
    Column("initiator_id", String(128), nullable=False),
    Column("content_type", String(256), nullable=True),
    Column("attributes", Text, nullable=False),
    Column("checksum_algorithm", String(16), nullable=True),
    _when("initiated"),
)

s3_parts = Table(
    "s3_parts",
    metadata,
    Column("upload_id", String(64), ForeignKey("s3_uploads.upload_id"), nullable=False),
    Column("part_number", Integer, nullable=False),
    Column("blob", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("checksum_value", String(128), nullable=True),
    _when("last_modified"),
    PrimaryKeyConstraint("upload_id", "part_number", name="pk_s3_parts"),
)

# Blobs in the store (PostgreSQL): committed, immutable, cut into chunks of a fixed size
# (`shared_blobs.CHUNK_SIZE`) so that a byte offset names its chunk. `created_at` is the
# commit time (the orphan sweep's age).
s3_blobs = Table(
    "s3_blobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    _when("created_at"),
)

s3_blob_chunks = Table(
    "s3_blob_chunks",
    metadata,
    Column("blob", String(64), ForeignKey("s3_blobs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("blob", "seq", name="pk_s3_blob_chunks"),
)
