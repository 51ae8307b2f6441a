"""Audit trail fixtures: the e2e server (SQLite and PostgreSQL) and readers of its events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

import e2e.conftest as e2e_fixtures
from e2e.server import RunningServer
from rolegate.audit.record import lookup_username
from rolegate.audit.recorder import AuditTrail
from rolegate.store.database import as_utc
from rolegate.store.schema import audit_data_events, audit_event_resources, audit_events

Events = Callable[..., list[dict[str, Any]]]

# The e2e fixtures as they are: the server on SQLite and PostgreSQL, fresh accounts, clients.
server = e2e_fixtures.server
make_account = e2e_fixtures.make_account
account = e2e_fixtures.account
client = e2e_fixtures.client
root_iam = e2e_fixtures.root_iam
_reset_clock = e2e_fixtures._reset_clock


def trail_of(running: RunningServer) -> AuditTrail:
    """The audit trail of the server's app (its gateway's)."""
    app: Any = running._server.config.app
    trail: AuditTrail = app.state.gateway.audit
    return trail


# How a data event (stored without the lookup columns) answers a column filter: its record.
_DATA_COLUMNS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "event_name": lambda record: record["eventName"],
    "event_source": lambda record: record["eventSource"],
    "read_only": lambda record: record["readOnly"],
    "username": lookup_username,
    "access_key_id": lambda record: record["userIdentity"].get("accessKeyId") or None,
    "event_category": lambda record: record["eventCategory"],
}


@pytest.fixture
def events(server: RunningServer) -> Events:
    """`events(account_id, **column_filters)`: the account's stored CloudTrail records, oldest
    first, after ingesting what the server journaled (management events and data events,
    which are stored apart)."""

    def read(account_id: str, **filters: Any) -> list[dict[str, Any]]:
        trail_of(server).flush()
        found: list[tuple[Any, str, dict[str, Any]]] = []
        with server.database.read() as uow:
            if filters.get("event_category", "Management") == "Management":
                query = select(
                    audit_events.c.event_time, audit_events.c.event_id, audit_events.c.record
                ).where(audit_events.c.account_id == account_id)
                for name, value in filters.items():
                    query = query.where(audit_events.c[name] == value)
                found.extend(
                    (as_utc(row.event_time), row.event_id, json.loads(row.record))
                    for row in uow.connection.execute(query)
                )
            query = select(
                audit_data_events.c.event_time,
                audit_data_events.c.event_id,
                audit_data_events.c.record,
            ).where(audit_data_events.c.account_id == account_id)
            for row in uow.connection.execute(query):
                record = json.loads(row.record)
                if all(_DATA_COLUMNS[name](record) == value for name, value in filters.items()):
                    found.append((as_utc(row.event_time), row.event_id, record))
        return [record for _, _, record in sorted(found, key=lambda item: item[0])]

    return read


@pytest.fixture
def rows(server: RunningServer) -> Callable[[str], list[Any]]:
    """`rows(event_id)`: the audit_events rows of one event id (and, attached, resources)."""

    def read(event_id: str) -> list[Any]:
        trail_of(server).flush()
        with server.database.read() as uow:
            found = list(
                uow.connection.execute(
                    select(audit_events).where(audit_events.c.event_id == event_id)
                )
            )
            resources = list(
                uow.connection.execute(
                    select(audit_event_resources).where(
                        audit_event_resources.c.event_id == event_id
                    )
                )
            )
        return [*found, *resources]

    return read
