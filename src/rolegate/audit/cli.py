"""`rolegate audit tail|export`: the stored CloudTrail records as JSON lines.

The commands read the store directly, management and data events (two tables) merged in
time order. Before reading they ingest the journals that stopped
servers of this store left behind (`recorder.ingest_journals`: only journals no live process
holds); a running server's latest events reach the store within its ingestion interval.
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import click
from sqlalchemy import Select, Table, select

from ..cli_store import open_store, store_options
from ..store.database import Database, as_utc
from ..store.schema import audit_data_events, audit_events
from .entries import prune_events
from .recorder import (
    DEFAULT_RETENTION_DAYS,
    SignalFlag,
    ingest_journals,
    journal_directory,
    run_ingester,
)

__all__ = ["audit"]

_PAGE = 1000
_PR_SET_PDEATHSIG: Final = 1


def _open(data: str, db: str | None) -> Database:
    database = open_store(data, db)
    directory = journal_directory(database.url, Path(data) / "s3-objects")
    if directory is not None:
        ingest_journals(database, directory)
    return database


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text}", param_hint=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_TABLES: Final = (audit_events, audit_data_events)  # management events, data events


def _query(table: Table, account: str | None) -> Select[Any]:
    query = select(table.c.event_id, table.c.event_time, table.c.record)
    if account is not None:
        query = query.where(table.c.account_id == account)
    return query


def _table_pages(
    database: Database,
    table: Table,
    account: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Iterator[tuple[datetime, str, str]]:
    """One table's events oldest first, read in pages keyed by (event_time, event_id)."""
    c = table.c
    after: tuple[datetime, str] | None = None
    while True:
        query = _query(table, account)
        if since is not None:
            query = query.where(c.event_time >= since)
        if until is not None:
            query = query.where(c.event_time < until)
        if after is not None:
            moment, event_id = after
            query = query.where(
                (c.event_time > moment) | ((c.event_time == moment) & (c.event_id > event_id))
            )
        query = query.order_by(c.event_time, c.event_id).limit(_PAGE)
        with database.read() as uow:
            rows = list(uow.connection.execute(query))
        for row in rows:
            yield as_utc(row.event_time), row.event_id, row.record
        if len(rows) < _PAGE:
            return
        after = (rows[-1].event_time, rows[-1].event_id)


def _pages(
    database: Database, account: str | None, since: datetime | None, until: datetime | None
) -> Iterator[tuple[str, datetime, str]]:
    """Events of both tables oldest first, (event_time, event_id) order."""
    merged = heapq.merge(
        *(_table_pages(database, table, account, since, until) for table in _TABLES)
    )
    for moment, event_id, record in merged:
        yield event_id, moment, record


def _latest(database: Database, account: str | None, lines: int) -> list[tuple[datetime, str, str]]:
    """The `lines` latest events of both tables, oldest first."""
    found: list[tuple[datetime, str, str]] = []
    with database.read() as uow:
        for table in _TABLES:
            query = _query(table, account).order_by(
                table.c.event_time.desc(), table.c.event_id.desc()
            )
            found.extend(
                (as_utc(row.event_time), row.event_id, row.record)
                for row in uow.connection.execute(query.limit(lines))
            )
    return sorted(found)[-lines:] if lines else []


@click.group()
def audit() -> None:
    """Read the audit trail (CloudTrail records, one JSON object a line)."""


@audit.command("export")
@click.option("--account", default=None, help="Only this account's events (default: all).")
@click.option("--since", default=None, help="From this time (ISO 8601, inclusive).")
@click.option("--until", default=None, help="Up to this time (ISO 8601, exclusive).")
@store_options
def export(
    account: str | None, since: str | None, until: str | None, data: str, db: str | None
) -> None:
    """Print the events, oldest first."""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    database = _open(data, db)
    try:
        for _, _, record in _pages(database, account, start, end):
            click.echo(record)
    finally:
        database.dispose()


@audit.command("tail")
@click.option("--account", default=None, help="Only this account's events (default: all).")
@click.option("--lines", "-n", default=20, show_default=True, type=click.IntRange(0))
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they arrive.")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.05))
@store_options
def tail(
    account: str | None, lines: int, follow: bool, interval: float, data: str, db: str | None
) -> None:
    """Print the latest events (oldest of them first); with --follow, then the new ones."""
    database = _open(data, db)
    try:
        seen: dict[str, datetime] = {}
        for moment, event_id, record in _latest(database, account, lines):
            click.echo(record)
            seen[event_id] = moment
        if not follow:
            return
        since = max(seen.values(), default=database.clock.now())
        while True:
            time.sleep(interval)
            # Events arrive a little late (ingestion batches): look back a few seconds.
            window = datetime.fromtimestamp(since.timestamp() - 10, tz=UTC)
            for event_id, moment, record in _pages(database, account, window, None):
                if event_id in seen:
                    continue
                click.echo(record)
                moment = as_utc(moment)
                seen[event_id] = moment
                since = max(since, moment)
            horizon = since.timestamp() - 60
            for event_id in [key for key, value in seen.items() if value.timestamp() < horizon]:
                del seen[event_id]
    except KeyboardInterrupt:
        pass
    finally:
        database.dispose()


def _stop_orphaned(stop: SignalFlag, orphaned: SignalFlag) -> None:
    orphaned.set()
    stop.set()


def _hang_up_with(parent: int) -> None:
    """Be sent SIGHUP when the parent process ends (Linux; elsewhere `run_ingester` notices
    within its interval), so that a killed server's journal is stored at once."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGHUP)
    if os.getppid() != parent:  # it ended before that took effect
        os.kill(os.getpid(), signal.SIGHUP)


@audit.command("ingest")
@click.option("--follow", is_flag=True, help="Keep ingesting what servers journal until stopped.")
@click.option("--parent", type=int, default=None, help="With --follow: stop when this PID ends.")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.05))
@click.option(
    "--retention-days",
    default=DEFAULT_RETENTION_DAYS,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
)
@store_options
def ingest(
    follow: bool,
    parent: int | None,
    interval: float,
    retention_days: float,
    data: str,
    db: str | None,
) -> None:
    """Store the journaled events that no running server holds and prune old ones; with
    --follow, every interval (the ingesting process `rolegate serve` starts)."""
    database = open_store(data, db)
    directory = journal_directory(database.url, Path(data).resolve() / "s3-objects")
    try:
        if directory is None:
            return
        if not follow:
            stored = ingest_journals(database, directory)
            pruned = prune_events(database, retention_days)
            click.echo(f"{stored} events stored, {pruned} pruned")
            return
        stop, orphaned = SignalFlag(), SignalFlag()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, lambda *_: stop.set())
        if parent is not None:
            signal.signal(signal.SIGHUP, lambda *_: _stop_orphaned(stop, orphaned))
            _hang_up_with(parent)
        run_ingester(
            database,
            directory,
            retention_days,
            interval=interval,
            parent=parent,
            stop=stop,
            orphaned=orphaned,
        )
    finally:
        database.dispose()
