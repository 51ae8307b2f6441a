"""access analyzer: analyzers, findings, archive rules

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "analyzers",
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        _when("created_at"),
        sa.Column("last_resource_analyzed", sa.String(length=2048), nullable=True),
        _when("last_resource_analyzed_at", nullable=True),
        sa.PrimaryKeyConstraint("arn"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_analyzers_account_name"),
    )
    op.create_table(
        "analyzer_archive_rules",
        sa.Column("analyzer_arn", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("analyzer_arn", "name"),
    )
    op.create_table(
        "analyzer_findings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("analyzer_arn", sa.String(length=1024), nullable=False),
        sa.Column("resource_arn", sa.String(length=2048), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_owner_account", sa.String(length=12), nullable=False),
        sa.Column("grant_key", sa.String(length=2048), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sources", sa.Text(), nullable=True),
        sa.Column("witness", sa.Text(), nullable=True),
        _when("created_at"),
        _when("analyzed_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_analyzer_findings_resource", "analyzer_findings", ["analyzer_arn", "resource_arn"]
    )
    op.create_table(
        "analyzed_resources",
        sa.Column("analyzer_arn", sa.String(length=1024), nullable=False),
        sa.Column("resource_arn", sa.String(length=2048), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_owner_account", sa.String(length=12), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        _when("created_at"),
        _when("analyzed_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("analyzer_arn", "resource_arn"),
    )


def downgrade() -> None:
    op.drop_table("analyzed_resources")
    op.drop_index("ix_analyzer_findings_resource", table_name="analyzer_findings")
    op.drop_table("analyzer_findings")
    op.drop_table("analyzer_archive_rules")
    op.drop_table("analyzers")
