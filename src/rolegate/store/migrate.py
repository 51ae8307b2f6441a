"""Apply Alembic migrations programmatically (on server start and before CLI commands)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

__all__ = ["alembic_config", "upgrade_to_head"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 7_240_519


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_to_head(
    engine: Engine, transaction: Callable[..., AbstractContextManager[Connection]]
) -> None:
    """Migrate in one write transaction (`transaction(writing=True)`, the store's own)."""
    config = alembic_config()
    with transaction(writing=True) as connection:
        if engine.dialect.name == "postgresql":
            # Several nodes may start at once: one migrates, the others wait.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
