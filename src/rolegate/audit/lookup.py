"""LookupEvents: the recorded management events of one account, newest first, page by page.

CloudTrail's rules (Event history): at most one lookup attribute (EventId, EventName, ReadOnly,
Username, ResourceType, ResourceName, EventSource or AccessKeyId, matched exactly), an inclusive
StartTime/EndTime window (default: the last 90 days), 1-50 events a page (default 50), only
management events (data events are never returned: they are stored apart, in
`audit_data_events`; there are no Insights events, so EventCategory "insight" answers an empty
page), and each account sees only the events it received.

Paging is keyset pagination on (event_time, event_id), newest first: a page ends at a cursor
and the next one starts strictly after it, so events recorded meanwhile never shift a page (they
are newer than the cursor) and nothing repeats or goes missing. The window of the first page
(with its defaults resolved) travels in the NextToken, which is HMAC-SHA256 signed with the
token key ring's current key under its own derived key: a client can neither forge nor alter
one, and it is bound to the account and the query parameters (attribute, StartTime, EndTime,
EventCategory as sent), so reusing it with other parameters is InvalidNextTokenException.
MaxResults may change from page to page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.sql.elements import ColumnElement

from ..errors import ServiceError
from ..store.database import UnitOfWork, as_utc
from ..store.schema import audit_event_resources, audit_events
from ..sts.tokens import KeyRing

__all__ = [
    "ATTRIBUTE_KEYS",
    "DEFAULT_MAX_RESULTS",
    "LOOKUP_WINDOW",
    "InvalidEventCategory",
    "InvalidLookupAttributes",
    "InvalidMaxResults",
    "InvalidNextToken",
    "InvalidTimeRange",
    "LookedUpEvent",
    "LookupPage",
    "lookup_events",
]

ATTRIBUTE_KEYS: Final = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
DEFAULT_MAX_RESULTS: Final = 50
MAX_RESULTS: Final = 50
LOOKUP_WINDOW: Final = timedelta(days=90)

_TOKEN_MAGIC: Final = b"RGL1"
_MAC_BYTES: Final = 32
_TOKEN_KEY_LABEL: Final = b"rolegate/cloudtrail/LookupEvents/NextToken"
# Rows fetched per round when a resource filter may yield an event more than once.
_RESOURCE_BATCH_FACTOR: Final = 2


class InvalidLookupAttributes(ServiceError):
    code = "InvalidLookupAttributesException"
    http_status = 400


class InvalidTimeRange(ServiceError):
    code = "InvalidTimeRangeException"
    http_status = 400


class InvalidMaxResults(ServiceError):
    code = "InvalidMaxResultsException"
    http_status = 400


class InvalidNextToken(ServiceError):
    code = "InvalidNextTokenException"
    http_status = 400


class InvalidEventCategory(ServiceError):
    code = "InvalidEventCategoryException"
    http_status = 400


@dataclass(frozen=True)
class LookedUpEvent:
    event_id: str
    event_name: str
    read_only: bool
    access_key_id: str | None
    event_time: datetime
    event_source: str
    username: str | None
    record: str
    resources: list[tuple[str | None, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class LookupPage:
    events: list[LookedUpEvent]
    next_token: str | None = None


@dataclass(frozen=True)
class _Cursor:
    start: datetime
    end: datetime
    time: datetime | None = None
    event_id: str | None = None


# --------------------------------------------------------------------------- NextToken


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _binding(
    account_id: str,
    attribute: tuple[str, str] | None,
    start_time: datetime | None,
    end_time: datetime | None,
    category: str | None,
) -> bytes:
    """What a token is valid for: the account and the query parameters as sent."""
    parts = [
        account_id,
        attribute,
        start_time.isoformat() if start_time else None,
        end_time.isoformat() if end_time else None,
        category,
    ]
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).digest()


def _mac(key: bytes, signed: bytes, binding: bytes) -> bytes:
    token_key = hmac.new(key, _TOKEN_KEY_LABEL, hashlib.sha256).digest()
    return hmac.new(token_key, signed + binding, hashlib.sha256).digest()


def _seal_cursor(cursor: _Cursor, binding: bytes, keys: KeyRing) -> str:
    assert cursor.time is not None and cursor.event_id is not None
    key_id, key = keys.current()
    encoded_id = key_id.encode()
    payload = json.dumps(
        [
            cursor.start.isoformat(),
            cursor.end.isoformat(),
            cursor.time.isoformat(),
            cursor.event_id,
        ],
        separators=(",", ":"),
    ).encode()
    signed = _TOKEN_MAGIC + bytes([len(encoded_id)]) + encoded_id + payload
    return _b64(signed + _mac(key, signed, binding))


def _open_cursor(token: str, binding: bytes, keys: KeyRing) -> _Cursor:
    invalid = InvalidNextToken("The NextToken is not valid for this request.")
    try:
        raw = _unb64(token)
    except (binascii.Error, ValueError) as error:
        raise invalid from error
    header = len(_TOKEN_MAGIC) + 1
    if len(raw) < header + _MAC_BYTES or not raw.startswith(_TOKEN_MAGIC):
        raise invalid
    id_end = header + raw[len(_TOKEN_MAGIC)]
    signed, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if id_end > len(signed):
        raise invalid
    key = keys.get(signed[header:id_end].decode("utf-8", "replace"))
    if key is None or not hmac.compare_digest(mac, _mac(key, signed, binding)):
        raise invalid
    try:
        start, end, moment, event_id = json.loads(signed[id_end:])
        return _Cursor(
            as_utc(datetime.fromisoformat(start)),
            as_utc(datetime.fromisoformat(end)),
            as_utc(datetime.fromisoformat(moment)),
            str(event_id),
        )
    except (ValueError, TypeError) as error:  # signed by us, so only a format change
        raise invalid from error


# --------------------------------------------------------------------------- queries


def _attribute(lookup_attributes: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    if len(lookup_attributes) > 1:
        raise InvalidLookupAttributes(
            "You can specify only one lookup attribute: LookupAttributes can contain only one item."
        )
    if not lookup_attributes:
        return None
    item = lookup_attributes[0]
    key, value = item.get("AttributeKey"), item.get("AttributeValue")
    if key not in ATTRIBUTE_KEYS:
        raise InvalidLookupAttributes(
            f"The attribute key '{key}' is not valid. Valid keys: {', '.join(ATTRIBUTE_KEYS)}."
        )
    if not isinstance(value, str) or not 1 <= len(value) <= 2000:
        raise InvalidLookupAttributes("The attribute value must be 1 to 2000 characters long.")
    return str(key), value


def _event_filter(attribute: tuple[str, str] | None) -> list[ColumnElement[bool]] | None:
    """Conditions on audit_events for the attribute (None: nothing can match)."""
    e = audit_events.c
    if attribute is None:
        return []
    key, value = attribute
    if key == "ReadOnly":
        lowered = value.lower()
        if lowered not in ("true", "false"):
            return None
        return [e.read_only == (lowered == "true")]
    column = {
        "EventId": e.event_id,
        "EventName": e.event_name,
        "Username": e.username,
        "EventSource": e.event_source,
        "AccessKeyId": e.access_key_id,
    }[key]
    return [column == value]


def _after(time_column: Any, id_column: Any, cursor: _Cursor) -> list[ColumnElement[bool]]:
    """Strictly older than the cursor in (time, id) order: `time <= t` keeps the index range."""
    if cursor.time is None:
        return []
    return [
        time_column <= cursor.time,
        or_(time_column < cursor.time, id_column < cursor.event_id),
    ]


def _event_rows(
    uow: UnitOfWork,
    account_id: str,
    attribute: tuple[str, str] | None,
    cursor: _Cursor,
    limit: int,
) -> list[Any]:
    e = audit_events.c
    if attribute is not None and attribute[0] in ("ResourceType", "ResourceName"):
        return _resource_rows(uow, account_id, attribute, cursor, limit)
    conditions = _event_filter(attribute)
    if conditions is None:
        return []
    query = (
        select(audit_events)
        .where(
            e.account_id == account_id,
            e.event_time >= cursor.start,
            e.event_time <= cursor.end,
            *conditions,
            *_after(e.event_time, e.event_id, cursor),
        )
        .order_by(e.event_time.desc(), e.event_id.desc())
        .limit(limit)
    )
    return list(uow.connection.execute(query))


def _resource_rows(
    uow: UnitOfWork,
    account_id: str,
    attribute: tuple[str, str],
    cursor: _Cursor,
    limit: int,
) -> list[Any]:
    """Events with a resource of that type or name, driven by the resource index; an event
    named twice by its resources comes once (adjacent in this order, so dropped on the fly)."""
    e, r = audit_events.c, audit_event_resources.c
    column = r.resource_type if attribute[0] == "ResourceType" else r.resource_name
    found: list[Any] = []
    position = cursor
    batch = limit * _RESOURCE_BATCH_FACTOR
    while True:
        query = (
            select(audit_events)
            .select_from(
                audit_event_resources.join(audit_events, e.event_id == r.event_id),
            )
            .where(
                r.account_id == account_id,
                column == attribute[1],
                r.event_time >= position.start,
                r.event_time <= position.end,
                *_after(r.event_time, r.event_id, position),
                e.account_id == account_id,
            )
            .order_by(r.event_time.desc(), r.event_id.desc())
            .limit(batch)
        )
        rows = list(uow.connection.execute(query))
        for row in rows:
            if not found or found[-1].event_id != row.event_id:
                found.append(row)
        if len(found) >= limit or len(rows) < batch:
            return found[:limit]
        last = rows[-1]
        position = _Cursor(position.start, position.end, as_utc(last.event_time), last.event_id)


def _resources_of(uow: UnitOfWork, event_ids: list[str]) -> dict[str, list[Any]]:
    r = audit_event_resources.c
    found: dict[str, list[Any]] = {event_id: [] for event_id in event_ids}
    if event_ids:
        query = select(r.event_id, r.resource_type, r.resource_name).where(
            r.event_id.in_(event_ids)
        )
        for row in uow.connection.execute(query):
            found[row.event_id].append((row.resource_type, row.resource_name))
    return found


def _events(uow: UnitOfWork, rows: list[Any]) -> Iterator[LookedUpEvent]:
    resources = _resources_of(uow, [row.event_id for row in rows])
    for row in rows:
        yield LookedUpEvent(
            event_id=row.event_id,
            event_name=row.event_name,
            read_only=bool(row.read_only),
            access_key_id=row.access_key_id,
            event_time=as_utc(row.event_time),
            event_source=row.event_source,
            username=row.username,
            record=row.record,
            resources=resources[row.event_id],
        )


# --------------------------------------------------------------------------- entry point


def lookup_events(
    uow: UnitOfWork,
    keys: KeyRing,
    account_id: str,
    *,
    lookup_attributes: Sequence[Mapping[str, Any]] = (),
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    event_category: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> LookupPage:
    """One page of the account's management events, newest first (CloudTrail's rules)."""
    attribute = _attribute(lookup_attributes)
    if event_category is not None and event_category != "insight":
        raise InvalidEventCategory(f"The event category '{event_category}' is not valid.")
    size = DEFAULT_MAX_RESULTS if max_results is None else max_results
    if not 1 <= size <= MAX_RESULTS:
        raise InvalidMaxResults(f"MaxResults must be between 1 and {MAX_RESULTS}, got {size}.")
    start = as_utc(start_time) if start_time is not None else None
    end = as_utc(end_time) if end_time is not None else None
    if start is not None and end is not None and start > end:
        raise InvalidTimeRange("The start time must not be after the end time.")
    binding = _binding(account_id, attribute, start, end, event_category)
    if next_token is not None:
        cursor = _open_cursor(next_token, binding, keys)
    else:
        resolved_end = end or uow.now
        if start is not None and start > resolved_end:
            raise InvalidTimeRange("The start time must not be after the end time.")
        cursor = _Cursor(start or uow.now - LOOKUP_WINDOW, resolved_end)
    if event_category == "insight" or cursor.start > cursor.end:
        return LookupPage([])  # no Insights events are recorded
    rows = _event_rows(uow, account_id, attribute, cursor, size + 1)
    more = len(rows) > size
    rows = rows[:size]
    token = None
    if more:
        last = rows[-1]
        after = _Cursor(cursor.start, cursor.end, as_utc(last.event_time), last.event_id)
        token = _seal_cursor(after, binding, keys)
    return LookupPage(list(_events(uow, rows)), token)
