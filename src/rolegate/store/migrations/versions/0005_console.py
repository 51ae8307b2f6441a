"""console: root passwords, the account password policy, console sessions, sign-in failures

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("root_password_hash", sa.String(length=256), nullable=True))
    with op.batch_alter_table("login_profiles") as batch:
        batch.add_column(
            sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("previous_hashes", sa.Text(), nullable=True))
    op.create_table(
        "password_policies",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("minimum_length", sa.Integer(), nullable=False),
        sa.Column("require_symbols", sa.Boolean(), nullable=False),
        sa.Column("require_numbers", sa.Boolean(), nullable=False),
        sa.Column("require_uppercase", sa.Boolean(), nullable=False),
        sa.Column("require_lowercase", sa.Boolean(), nullable=False),
        sa.Column("allow_users_to_change", sa.Boolean(), nullable=False),
        sa.Column("max_age_days", sa.Integer(), nullable=True),
        sa.Column("reuse_prevention", sa.Integer(), nullable=True),
        sa.Column("hard_expiry", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("principal_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "signin_failures",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("signin_failures")
    op.drop_table("console_sessions")
    op.drop_table("password_policies")
    with op.batch_alter_table("login_profiles") as batch:
        batch.drop_column("previous_hashes")
        batch.drop_column("password_changed_at")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("root_password_hash")
