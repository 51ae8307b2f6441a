"""Statements on the per-request path, run straight on the SQLite driver.

SQLAlchemy's per-execution machinery (execution context, parameter processing, result set
up) costs about 100-150 us per statement here, several times the statement itself: the
small-object upsert measured 214 us through Core against 21 us on the driver, transaction
included. A `DriverStatement` is the same Core statement, compiled once per dialect; on
SQLite it runs on the DBAPI connection of the current transaction with the compiled
statement's own bind processors (SQLite's DATETIME formatting, say), elsewhere through Core
as usual. `rows` gives plain tuples (for results that need no type processing); `records`
gives named tuples with the columns' own result processing (DATETIME text to datetime),
read by attribute like Core's rows.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Executable

__all__ = ["DriverStatement"]

_Prepared = tuple[Any, str, Sequence[str], Mapping[str, Callable[[Any], Any]]]
_Records = tuple[Any, Sequence[Callable[[Any], Any] | None]]


class DriverStatement:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._sqlite: _Prepared | None = None
        self._records: _Records | None = None

    def records(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        """The rows as named tuples (attributes named as the selected columns' keys)."""
        if connection.dialect.name != "sqlite":
            return list(connection.execute(self.statement, dict(params)))
        record, converters = self._records or self._prepare_records(connection)
        return [
            record._make(
                [
                    value if convert is None else convert(value)
                    for value, convert in zip(row, converters, strict=True)
                ]
            )
            for row in self._sqlite_rows(connection, params)
        ]

    def _prepare_records(self, connection: Connection) -> _Records:
        columns = list(self.statement.selected_columns)  # type: ignore[attr-defined]
        record = namedtuple("Record", [column.key for column in columns], rename=True)  # type: ignore[misc]
        converters = [
            column.type._cached_result_processor(connection.dialect, None) for column in columns
        ]
        self._records = (record, converters)
        return self._records

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if connection.dialect.name != "sqlite":
            return [tuple(row) for row in connection.execute(self.statement, dict(params))]
        return self._sqlite_rows(connection, params)

    def _sqlite_rows(
        self, connection: Connection, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        compiled, sql, names, processors = self._sqlite or self._prepare(connection)
        bound = compiled.construct_params(params)  # with the statement's own bound values
        values = [
            processors[name](bound[name]) if name in processors else bound[name] for name in names
        ]
        driver = connection.connection.driver_connection
        assert driver is not None
        return list(driver.execute(sql, values).fetchall())

    def _prepare(self, connection: Connection) -> _Prepared:
        compiled = self.statement.compile(dialect=connection.dialect)  # type: ignore[attr-defined]
        names = list(compiled.positiontup or ())
        prepared = (compiled, compiled.string, names, compiled._bind_processors)
        self._sqlite = prepared
        return prepared
