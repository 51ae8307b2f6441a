"""s3 objects: bytes inline in the row (small objects), or several blobs (multipart)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("s3_objects") as batch:
        batch.alter_column("blob", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column("segments", sa.Text(), nullable=True))
        batch.add_column(sa.Column("inline_data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Refused by the NOT NULL while an inline or multi-blob object exists.
    with op.batch_alter_table("s3_objects") as batch:
        batch.drop_column("inline_data")
        batch.drop_column("segments")
        batch.alter_column("blob", existing_type=sa.String(length=64), nullable=False)
