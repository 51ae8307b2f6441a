"""s3: object bytes shared by several nodes (blobs in PostgreSQL, cut into chunks)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "s3_blobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "s3_blob_chunks",
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["blob"], ["s3_blobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("blob", "seq", name="pk_s3_blob_chunks"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Object bytes rarely compress: store them out of line without trying.
        op.execute("ALTER TABLE s3_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("s3_blob_chunks")
    op.drop_table("s3_blobs")
