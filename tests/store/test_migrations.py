"""Migrations: the schema they build is the one the code declares, and data survives them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from rolegate.s3 import catalog
from rolegate.s3.catalog import Content
from rolegate.store.database import Database, default_sqlite_url
from rolegate.store.migrate import alembic_config
from rolegate.store.schema import metadata


def _migrated(tmp_path: Path) -> Database:
    database = Database(default_sqlite_url(tmp_path))
    database.migrate()
    return database


def test_migrations_build_the_declared_schema(tmp_path: Path) -> None:
    database = _migrated(tmp_path)
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    database.dispose()
    assert differences == []


def test_objects_written_before_0004_still_read(tmp_path: Path) -> None:
    database = Database(default_sqlite_url(tmp_path))
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        connection.execute(
            text(
                "INSERT INTO accounts (id, alias, generation, created_at) "
                "VALUES ('111122223333', 'old', 0, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO s3_buckets (name, account_id, region, created_at) "
                "VALUES ('old-bucket', '111122223333', 'us-east-1', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO s3_objects (bucket, key, blob, size, etag, last_modified, "
                "attributes) VALUES ('old-bucket', 'k', 'ab12', 5, 'e', :now, '{}')"
            ),
            {"now": now},
        )
    database.migrate()
    with database.read() as uow:
        record = catalog.get_object(uow, "old-bucket", "k")
    database.dispose()
    assert record is not None
    assert record.content == Content.blob("ab12", 5)
