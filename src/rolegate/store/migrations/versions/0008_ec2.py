"""ec2: instances and their tags

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ec2_instances",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("reservation_id", sa.String(length=32), nullable=False),
        sa.Column("image_id", sa.String(length=32), nullable=False),
        sa.Column("instance_type", sa.String(length=32), nullable=False),
        sa.Column("key_name", sa.String(length=255), nullable=True),
        sa.Column("subnet_id", sa.String(length=32), nullable=True),
        sa.Column("private_ip", sa.String(length=15), nullable=False),
        sa.Column("launch_index", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("launch_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disable_api_termination", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ec2_instances_account", "ec2_instances", ["account_id", "region", "id"])
    op.create_table(
        "ec2_tags",
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "key"),
    )
    op.create_index("ix_ec2_tags_account", "ec2_tags", ["account_id", "key"])


def downgrade() -> None:
    op.drop_index("ix_ec2_tags_account", table_name="ec2_tags")
    op.drop_table("ec2_tags")
    op.drop_index("ix_ec2_instances_account", table_name="ec2_instances")
    op.drop_table("ec2_instances")
