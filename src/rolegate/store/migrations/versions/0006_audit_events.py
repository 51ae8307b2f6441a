"""audit trail: CloudTrail-shaped events (management and data) and their resources

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_name", sa.String(length=128), nullable=False),
        sa.Column("event_source", sa.String(length=64), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("username", sa.String(length=256), nullable=True),
        sa.Column("access_key_id", sa.String(length=32), nullable=True),
        sa.Column("event_category", sa.String(length=16), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_audit_events_account_time",
        "audit_events",
        ["account_id", "event_time"],
    )
    for name, column in (
        ("name", "event_name"),
        ("source", "event_source"),
        ("username", "username"),
        ("key", "access_key_id"),
        ("read_only", "read_only"),
    ):
        op.create_index(
            f"ix_audit_events_{name}",
            "audit_events",
            ["account_id", column, "event_time"],
        )
    op.create_index("ix_audit_events_time", "audit_events", ["event_time"])
    op.create_table(
        "audit_data_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_name", sa.String(length=128), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_audit_data_events_account_time", "audit_data_events", ["account_id", "event_time"]
    )
    op.create_index("ix_audit_data_events_time", "audit_data_events", ["event_time"])
    op.create_table(
        "audit_event_resources",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource_type", sa.String(length=128), nullable=True),
        sa.Column("resource_name", sa.String(length=2048), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["audit_events.event_id"], ondelete="CASCADE"),
    )
    op.create_index(
        "ix_audit_resources_name",
        "audit_event_resources",
        ["account_id", "resource_name", "event_time"],
    )
    op.create_index(
        "ix_audit_resources_type",
        "audit_event_resources",
        ["account_id", "resource_type", "event_time"],
    )
    op.create_index("ix_audit_resources_event", "audit_event_resources", ["event_id"])


def downgrade() -> None:
    op.drop_table("audit_data_events")
    op.drop_table("audit_event_resources")
    op.drop_table("audit_events")
