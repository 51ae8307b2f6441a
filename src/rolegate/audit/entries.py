"""Journal lines and the rows they become: encoding a request's capture or records as one
line, decoding lines back into entries (a capture's records are built here, at ingestion),
inserting entries in batches, pruning old events.

The line format: `<meta JSON>\t<record JSON>\n` for a record (meta: the row's filter
columns), `<capture JSON>\n` for a captured request (`audit.capture`; JSON text has no raw
tab or newline, a capture is an object and a meta a list).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

import orjson
from sqlalchemy import delete, select

from ..store.database import Database
from ..store.schema import audit_data_events, audit_event_resources, audit_events
from .capture import records_of_capture
from .record import DATA, lookup_username

__all__ = [
    "Entry",
    "decode_lines",
    "encode_capture",
    "encode_records",
    "prune_events",
    "store_entries",
]

log = logging.getLogger("rolegate.audit")

_CAPTURE_START: Final = ord("{")  # a captured request's line; a record's starts with "["
_INSERT_CHUNK: Final = 500


# --------------------------------------------------------------------------- journal lines
class Entry(NamedTuple):
    """One journal line: the row's filter columns and the record's JSON text."""

    event_id: str
    account_id: str
    event_time: float  # epoch seconds
    event_name: str
    event_source: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    event_category: str
    resources: list[list[str | None]]  # [type, name] pairs
    record: str


def _resource_pairs(record: Mapping[str, Any]) -> list[tuple[str | None, str | None]]:
    """The lookup side table's rows of a record. None for Data events: LookupEvents never
    returns them, and an object event's two resource rows cost more than its event row (the
    record itself keeps its `resources`)."""
    if record.get("eventCategory") == "Data":
        return []
    return [
        (item.get("type"), item.get("ARN") or item.get("ARNPrefix"))
        for item in record.get("resources") or ()
    ]


def _meta(record: Mapping[str, Any], moment: float | None) -> tuple[Any, ...]:
    """An Entry's filter columns of a record (`moment`: its exact time, else eventTime)."""
    identity = record.get("userIdentity") or {}
    category = record.get("eventCategory", "Management")
    return (
        record["eventID"],
        record["recipientAccountId"],
        moment if moment is not None else _parse_time(record["eventTime"]),
        record["eventName"],
        record["eventSource"],
        bool(record.get("readOnly", False)),
        lookup_username(record) if category != DATA else None,
        identity.get("accessKeyId") or None,
        category,
        _resource_pairs(record),
    )


def encode_records(records: Iterable[Mapping[str, Any]], at: datetime | None = None) -> bytes:
    """Journal lines: `<meta JSON>\t<record JSON>\n` (JSON text has no raw tab or newline).
    `at` is the exact event time (the record's eventTime has whole seconds)."""
    moment = at.timestamp() if at is not None else None
    return b"".join(
        b"%b\t%b\n" % (orjson.dumps(_meta(record, moment)), orjson.dumps(record))
        for record in records
    )


def encode_capture(capture: Mapping[str, Any]) -> bytes:
    """The journal line of a captured request (`audit.capture`): its JSON object, whose
    records are built when it is ingested. orjson, not the json module: this runs on the
    request path of every call."""
    return orjson.dumps(capture) + b"\n"


def _captured_entries(text: str | bytes | memoryview) -> list[Entry]:
    capture = orjson.loads(text)
    if type(capture) is not dict:
        raise ValueError("not a journal line")
    return [
        Entry._make([*_meta(record, capture["time"]), orjson.dumps(record).decode()])
        for record in records_of_capture(capture)
    ]


def _parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _entry(meta_text: str | bytes | memoryview, record: str) -> Entry:
    meta = orjson.loads(meta_text)
    if type(meta) is not list or len(meta) != 10:
        raise ValueError("not a journal line")
    return Entry._make([*meta, record])


def decode_lines(data: bytes, source: str) -> list[Entry]:
    """The entries of complete journal lines. Each record is decoded straight from the read
    buffer (one copy: slicing lines, then records, then decoding them copied ~2 KiB three
    times per event, and fresh memory costs page faults)."""
    entries = []
    view = memoryview(data)
    find = data.find
    start, size = 0, len(data)
    while start < size:
        end = find(b"\n", start)
        if end < 0:
            end = size
        if end > start:
            try:
                if data[start] == _CAPTURE_START:
                    entries.extend(_captured_entries(view[start:end]))
                else:
                    tab = find(b"\t", start, end)
                    if tab < 0:
                        raise ValueError("not a journal line")
                    entries.append(_entry(view[start:tab], str(view[tab + 1 : end], "utf-8")))
            except (ValueError, TypeError, KeyError, IndexError):
                log.warning("skipping a malformed audit journal line in %s", source)
        start = end + 1
    return entries


# --------------------------------------------------------------------------- the store
# Ingestion runs on the DBAPI cursor: SQLAlchemy's per-row parameter machinery cost ~10x the
# inserts themselves (measured: 240 -> ~40 us per event).
_EVENT_COLUMNS: Final = (
    "event_id, account_id, event_time, event_name, event_source, read_only, username, "
    "access_key_id, event_category, record"
)
_DATA_COLUMNS: Final = "event_id, account_id, event_time, event_name, record"
_RESOURCE_COLUMNS: Final = "event_id, account_id, event_time, resource_type, resource_name"


class _Statements(NamedTuple):
    events: str  # INSERT ... VALUES (the groups follow)
    data_events: str
    resources: str
    ignore_tail: str  # after the groups of an insert that skips the ids already stored
    mark: str  # the DBAPI placeholder


# Rows go in multi-row VALUES statements: one statement (one step, one GIL release) per
# `_ROWS_PER_STATEMENT` rows; executemany released and re-took the GIL around every row, and
# that hand-off with the request threads cost more CPU than the inserts.
_SQL: Final = {
    "sqlite": _Statements(
        f"INSERT OR IGNORE INTO audit_events ({_EVENT_COLUMNS}) VALUES ",
        f"INSERT OR IGNORE INTO audit_data_events ({_DATA_COLUMNS}) VALUES ",
        f"INSERT INTO audit_event_resources ({_RESOURCE_COLUMNS}) VALUES ",
        "",
        "?",
    ),
    "postgresql": _Statements(
        f"INSERT INTO audit_events ({_EVENT_COLUMNS}) VALUES ",
        f"INSERT INTO audit_data_events ({_DATA_COLUMNS}) VALUES ",
        f"INSERT INTO audit_event_resources ({_RESOURCE_COLUMNS}) VALUES ",
        " ON CONFLICT (event_id) DO NOTHING",
        "%s",
    ),
}
_ROWS_PER_STATEMENT: Final = 200


def _insert_rows(cursor: Any, head: str, tail: str, mark: str, rows: list[tuple[Any, ...]]) -> int:
    """`rows` in multi-row INSERT statements; the number of rows inserted."""
    if not rows:
        return 0
    inserted = 0
    group = "(" + ", ".join([mark] * len(rows[0])) + ")"
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        sql = head + ", ".join([group] * len(chunk)) + tail
        cursor.execute(sql, [value for row in chunk for value in row])
        inserted += max(cursor.rowcount, 0)
    return inserted


_SQLITE_SECONDS: dict[int, str] = {}


def _sqlite_time(epoch: float) -> str:
    """SQLAlchemy's SQLite DATETIME text (UTC), so Core reads and compares it as its own:
    `datetime.fromtimestamp(epoch, UTC)`'s, microseconds rounded half-even as it does, the
    whole second formatted once."""
    fraction, whole = math.modf(epoch)
    second = int(whole)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    elif micro < 0:
        second, micro = second - 1, micro + 1_000_000
    text = _SQLITE_SECONDS.get(second)
    if text is None:
        if len(_SQLITE_SECONDS) >= 4096:
            _SQLITE_SECONDS.clear()
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        _SQLITE_SECONDS[second] = text
    return f"{text}.{micro:06d}"


def _aware_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _store_management(cursor: Any, sql: _Statements, as_time: Any, entries: Sequence[Entry]) -> int:
    """Management events and their resources: the ids already stored are skipped (their
    resource rows are there too)."""
    ids = [entry.event_id for entry in entries]
    existing: set[str] = set()
    for start in range(0, len(ids), _INSERT_CHUNK):
        chunk = ids[start : start + _INSERT_CHUNK]
        marks = ", ".join([sql.mark] * len(chunk))
        cursor.execute(f"SELECT event_id FROM audit_events WHERE event_id IN ({marks})", chunk)
        existing.update(row[0] for row in cursor.fetchall())
    events: list[tuple[Any, ...]] = []
    resources: list[tuple[Any, ...]] = []
    for entry in entries:
        if entry.event_id in existing:
            continue
        moment = as_time(entry.event_time)
        events.append(
            (
                entry.event_id,
                entry.account_id,
                moment,
                entry.event_name,
                entry.event_source,
                entry.read_only,
                entry.username,
                entry.access_key_id,
                entry.event_category,
                entry.record,
            )
        )
        resources.extend(
            (entry.event_id, entry.account_id, moment, kind, name) for kind, name in entry.resources
        )
    _insert_rows(cursor, sql.events, sql.ignore_tail, sql.mark, events)
    _insert_rows(cursor, sql.resources, "", sql.mark, resources)
    return len(events)


def store_entries(database: Database, entries: Sequence[Entry]) -> int:
    """Insert the events not stored yet in one write transaction (management events with
    their resources into `audit_events`, data events into `audit_data_events`); the number
    inserted. Re-ingesting a line is a no-op: the insert skips the ids already stored."""
    unique = {entry.event_id: entry for entry in entries}
    if not unique:
        return 0
    management = [entry for entry in unique.values() if entry.event_category != DATA]
    data = [entry for entry in unique.values() if entry.event_category == DATA]
    with database.write() as uow:
        connection = uow.connection
        dialect = connection.dialect.name
        sql = _SQL[dialect]
        as_time = _sqlite_time if dialect == "sqlite" else _aware_time
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            stored = _store_management(cursor, sql, as_time, management) if management else 0
            rows = [
                (
                    entry.event_id,
                    entry.account_id,
                    as_time(entry.event_time),
                    entry.event_name,
                    entry.record,
                )
                for entry in data
            ]
            # Data events have no side rows: the primary key alone skips those stored.
            stored += _insert_rows(cursor, sql.data_events, sql.ignore_tail, sql.mark, rows)
        finally:
            cursor.close()
    return stored


def _prune_table(database: Database, table: Any, cutoff: datetime, batch: int) -> int:
    removed = 0
    while True:
        with database.write() as uow:
            connection = uow.connection
            ids = list(
                connection.execute(
                    select(table.c.event_id)
                    .where(table.c.event_time < cutoff)
                    .order_by(table.c.event_time)
                    .limit(batch)
                ).scalars()
            )
            if ids:
                if table is audit_events:
                    connection.execute(
                        delete(audit_event_resources).where(
                            audit_event_resources.c.event_id.in_(ids)
                        )
                    )
                connection.execute(delete(table).where(table.c.event_id.in_(ids)))
        removed += len(ids)
        if len(ids) < batch:
            return removed


def prune_events(database: Database, retention_days: float, batch: int = 1000) -> int:
    """Delete the events (management events with their resources, and data events) older
    than `retention_days` of the store's clock, oldest first through the event time indexes,
    `batch` events per transaction."""
    cutoff = database.clock.now() - timedelta(days=retention_days)
    return _prune_table(database, audit_events, cutoff, batch) + _prune_table(
        database, audit_data_events, cutoff, batch
    )
