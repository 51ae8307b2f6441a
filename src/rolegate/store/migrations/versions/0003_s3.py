"""s3 buckets, objects, multipart uploads and parts

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    # Keys list in UTF-8 byte order: the "C" collation on PostgreSQL (SQLite's BINARY default).
    return sa.String(length=1024).with_variant(sa.String(length=1024, collation="C"), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "s3_buckets",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        _when("created_at"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "s3_objects",
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("key", _key(), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        _when("last_modified"),
        sa.Column("content_type", sa.String(length=256), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("checksum_algorithm", sa.String(length=16), nullable=True),
        sa.Column("checksum_value", sa.String(length=128), nullable=True),
        sa.Column("checksum_type", sa.String(length=16), nullable=True),
        sa.Column("parts_count", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["bucket"], ["s3_buckets.name"]),
        sa.PrimaryKeyConstraint("bucket", "key", name="pk_s3_objects"),
    )
    op.create_table(
        "s3_uploads",
        sa.Column("upload_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("key", _key(), nullable=False),
        sa.Column("initiator_arn", sa.String(length=2048), nullable=False),
        sa.Column("initiator_id", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=256), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("checksum_algorithm", sa.String(length=16), nullable=True),
        _when("initiated"),
        sa.ForeignKeyConstraint(["bucket"], ["s3_buckets.name"]),
        sa.PrimaryKeyConstraint("upload_id"),
    )
    op.create_index("ix_s3_uploads_bucket", "s3_uploads", ["bucket"])
    op.create_table(
        "s3_parts",
        sa.Column("upload_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.Integer(), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("checksum_value", sa.String(length=128), nullable=True),
        _when("last_modified"),
        sa.ForeignKeyConstraint(["upload_id"], ["s3_uploads.upload_id"]),
        sa.PrimaryKeyConstraint("upload_id", "part_number", name="pk_s3_parts"),
    )


def downgrade() -> None:
    op.drop_table("s3_parts")
    op.drop_index("ix_s3_uploads_bucket", table_name="s3_uploads")
    op.drop_table("s3_uploads")
    op.drop_table("s3_objects")
    op.drop_table("s3_buckets")
