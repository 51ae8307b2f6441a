"""DriverStatement runs a Core statement on the SQLite driver with the same results."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, bindparam, insert, select

from rolegate.store.database import Database, default_sqlite_url
from rolegate.store.driver import DriverStatement

_metadata = MetaData()
_events = Table(
    "events",
    _metadata,
    Column("n", Integer, primary_key=True),
    Column("kind", String(8)),
    Column("at", DateTime(timezone=True)),
)


def test_same_rows_and_stored_values_as_core(tmp_path: Path) -> None:
    database = Database(default_sqlite_url(tmp_path))
    _metadata.create_all(database.engine)
    moment = datetime(2026, 11, 29, 10, 30, 5, 123456, tzinfo=UTC)
    add = DriverStatement(insert(_events).returning(_events.c.n))
    query = select(_events.c.n, _events.c.kind).where(
        (_events.c.kind == "keep") & (_events.c.n > bindparam("after"))
    )  # "keep" is a value bound in the statement itself
    try:
        with database.write() as uow:
            assert add.rows(uow.connection, {"n": 1, "kind": "keep", "at": moment}) == [(1,)]
            uow.connection.execute(insert(_events).values(n=2, kind="drop", at=moment))
            add.rows(uow.connection, {"n": 3, "kind": "keep", "at": moment})
        with database.read() as uow:
            # DATETIME went through SQLAlchemy's own bind processor: Core reads it back.
            stored = uow.connection.execute(select(_events.c.at).order_by(_events.c.n)).all()
            assert [row.at.replace(tzinfo=UTC) for row in stored] == [moment] * 3
            core = [tuple(row) for row in uow.connection.execute(query, {"after": 0})]
            assert DriverStatement(query).rows(uow.connection, {"after": 0}) == core
            assert core == [(1, "keep"), (3, "keep")]
    finally:
        database.dispose()
