"""CloudTrail Event history: the account's management events, filtered and paged, and one
event's CloudTrail record.

Both pages call CloudTrail's LookupEvents through the API as the page's identity (never the
store directly), so `cloudtrail:LookupEvents` is decided by the engine and each account sees
only the events it received; a refusal shows AWS's message with the engine's explanation.
The filter form is a GET form (nothing changes), so a page's address is shareable; its
values travel unchanged into the "Next page" link with the NextToken, which LookupEvents binds
to the same filters. Times in the form are `datetime-local` values read as UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from botocore.exceptions import ParamValidationError  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .aws import AwsCallError
from .web import Console, Identity, error_context, page

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_PAGE_SIZE",
    "EventFilters",
    "event_view",
    "parse_filters",
    "routes",
]

# The lookup attributes as the form names them (CloudTrail's keys, its console's labels).
ATTRIBUTES: Final = (
    ("EventName", "Event name"),
    ("Username", "User name"),
    ("ResourceType", "Resource type"),
    ("ResourceName", "Resource name"),
    ("EventSource", "Event source"),
    ("EventId", "Event ID"),
    ("ReadOnly", "Read only"),
    ("AccessKeyId", "AWS access key"),
)
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 50
# Longer than any valid value (LookupEvents allows 2000 characters): the API says why.
_FIELD_LIMIT: Final = 4096
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S UTC"
_TITLE: Final = "Event history"


@dataclass(frozen=True)
class EventFilters:
    """The filter form's values as typed (for the form and the paging links), the
    LookupEvents parameters they make, and the form's own complaints."""

    key: str = "EventName"
    value: str = ""
    start: str = ""
    end: str = ""
    size: str = ""
    token: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def query(self, *, token: str | None = None) -> str:
        """The page's query string with these filters (and `token`, if any)."""
        items = [
            (name, text)
            for name, text in (
                ("key", self.key if self.value else ""),
                ("value", self.value),
                ("start", self.start),
                ("end", self.end),
                ("size", self.size),
                ("token", token or ""),
            )
            if text
        ]
        return urlencode(items)


def _text(source: Mapping[str, Any], name: str) -> str:
    value = source.get(name)
    return value.strip()[:_FIELD_LIMIT] if isinstance(value, str) else ""


def _time(text: str, label: str, problems: list[str]) -> datetime | None:
    """A `datetime-local` value (`YYYY-MM-DDTHH:MM[:SS]`) as a UTC time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"{label} is not a date and time (YYYY-MM-DDTHH:MM, in UTC).")
        return None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    if moment.year < 1970:
        problems.append(f"{label} must be in 1970 or later.")
        return None
    return moment.replace(tzinfo=UTC)


def parse_filters(source: Mapping[str, Any]) -> EventFilters:
    """The form's query parameters as LookupEvents parameters. What only the form can judge
    (a date that is no date, a page size that is no number) is a problem of the form; what
    LookupEvents judges (a value too long, an unknown key, a reversed time range, a page size
    over 50, a forged NextToken) goes to it, so the page shows CloudTrail's own error."""
    key = _text(source, "key") or "EventName"
    value, token = _text(source, "value"), _text(source, "token")
    start, end, size = _text(source, "start"), _text(source, "end"), _text(source, "size")
    problems: list[str] = []
    params: dict[str, Any] = {}
    if value:
        params["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
    start_time = _time(start, "Start time", problems)
    end_time = _time(end, "End time", problems)
    if start_time is not None:
        params["StartTime"] = start_time
    if end_time is not None:
        params["EndTime"] = end_time
    if size:
        try:
            count = int(size)
        except ValueError:
            count = 0
        if count < 1:
            problems.append(f"Page size must be a whole number from 1 to {MAX_PAGE_SIZE}.")
        else:
            params["MaxResults"] = count
    if token:
        params["NextToken"] = token
    return EventFilters(key, value, start, end, size, token, params, problems)


def _resources(event: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "type": str(resource.get("ResourceType") or ""),
            "name": str(resource.get("ResourceName") or ""),
        }
        for resource in event.get("Resources") or ()
    ]


def _pretty(record: str) -> tuple[str, dict[str, Any]]:
    """The CloudTrail record re-dumped with indent 2 (as stored if it is no JSON object)."""
    try:
        parsed = json.loads(record)
    except ValueError:
        return record, {}
    text = json.dumps(parsed, indent=2, ensure_ascii=False)
    return text, parsed if isinstance(parsed, dict) else {}


def event_view(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the templates show of one LookupEvents event."""
    moment = event.get("EventTime")
    when = moment.astimezone(UTC) if isinstance(moment, datetime) else None
    record, parsed = _pretty(str(event.get("CloudTrailEvent") or ""))
    identity = parsed.get("userIdentity")
    event_id = str(event.get("EventId") or "")
    return {
        "id": event_id,
        "url": "/console/cloudtrail/event?" + urlencode({"id": event_id}),
        "time": when.strftime(_TIME_FORMAT) if when else "",
        "name": str(event.get("EventName") or ""),
        "user": str(event.get("Username") or ""),
        "source": str(event.get("EventSource") or ""),
        "access_key": str(event.get("AccessKeyId") or ""),
        "read_only": str(event.get("ReadOnly") or "").lower() == "true",
        "resources": _resources(event),
        "json": record,
        "arn": str(identity.get("arn") or "") if isinstance(identity, dict) else "",
        "identity_type": str(identity.get("type") or "") if isinstance(identity, dict) else "",
        "region": str(parsed.get("awsRegion") or ""),
        "source_ip": str(parsed.get("sourceIPAddress") or ""),
        "error_code": str(parsed.get("errorCode") or ""),
        "error_message": str(parsed.get("errorMessage") or ""),
        "event_type": str(parsed.get("eventType") or ""),
        "request_id": str(parsed.get("requestID") or ""),
    }


def _form_problem(message: str) -> dict[str, Any]:
    """A form problem in `aws_error`'s shape."""
    return {"code": "Invalid filter", "message": message, "explanation": None}


def routes(console: Console) -> list[Route]:
    async def lookup(
        request: Request, identity: Identity, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            return await console.call(request, identity, "cloudtrail", "lookup_events", **params)
        except ParamValidationError as error:  # refused by botocore before it is sent
            raise AwsCallError(
                "ValidationException", str(error.kwargs.get("report", error)), 400, None
            ) from None

    async def event_history(request: Request, identity: Identity) -> Response:
        filters = parse_filters(request.query_params)
        context: dict[str, Any] = {
            "title": _TITLE,
            "filters": filters,
            "attributes": ATTRIBUTES,
            "events": [],
            "next_url": None,
            "first_url": None,
            "error": None,
            "default_size": DEFAULT_PAGE_SIZE,
            "max_size": MAX_PAGE_SIZE,
        }
        if filters.token:
            context["first_url"] = "/console/cloudtrail" + (
                f"?{query}" if (query := filters.query()) else ""
            )
        if filters.problems:
            context["error"] = _form_problem(" ".join(filters.problems))
            return console.render(
                request, "cloudtrail_events.html", identity, status=400, **context
            )
        try:
            result = await lookup(request, identity, filters.params)
        except AwsCallError as error:
            context["error"] = error_context(error)
            return console.render(
                request, "cloudtrail_events.html", identity, status=error.status, **context
            )
        context["events"] = [event_view(event) for event in result.get("Events") or ()]
        next_token = result.get("NextToken")
        if next_token:
            context["next_url"] = "/console/cloudtrail?" + filters.query(token=str(next_token))
        return console.render(request, "cloudtrail_events.html", identity, **context)

    async def event_detail(request: Request, identity: Identity) -> Response:
        event_id = _text(request.query_params, "id")
        context: dict[str, Any] = {"title": _TITLE, "event_id": event_id, "event": None}
        if not event_id:
            context["error"] = _form_problem("Which event? The address names no event ID.")
            return console.render(request, "cloudtrail_event.html", identity, status=400, **context)
        params = {
            "LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": event_id}],
            "MaxResults": 1,
        }
        try:
            result = await lookup(request, identity, params)
        except AwsCallError as error:
            context["error"] = error_context(error)
            return console.render(
                request, "cloudtrail_event.html", identity, status=error.status, **context
            )
        events = result.get("Events") or []
        if not events:
            return console.render(request, "cloudtrail_event.html", identity, status=404, **context)
        event = event_view(events[0])
        context.update(event=event, title=f"{event['name']} · {_TITLE}")
        return console.render(request, "cloudtrail_event.html", identity, **context)

    return [
        Route("/console/cloudtrail", page(console, event_history), methods=["GET"]),
        Route("/console/cloudtrail/event", page(console, event_detail), methods=["GET"]),
    ]
