"""CloudTrail adapters (JSON protocol): LookupEvents over the recorded audit trail.

LookupEvents has no resource-level permissions (the Service Authorization Reference lists no
resource type for it): the gateway authorizes `cloudtrail:LookupEvents` on `*`.
"""

from __future__ import annotations

from typing import Any

from ..audit.lookup import LookedUpEvent, lookup_events
from ..wire.json_protocol import get_json_protocol
from .registry import OperationContext, operation

__all__ = ["lookup_events_handler"]

# Constraint violations of these members are CloudTrail's own errors, not ValidationException.
get_json_protocol("cloudtrail").set_member_errors(
    "LookupEvents",
    {
        "LookupAttributes": "InvalidLookupAttributesException",
        "MaxResults": "InvalidMaxResultsException",
        "EventCategory": "InvalidEventCategoryException",
    },
)


def _event(event: LookedUpEvent) -> dict[str, Any]:
    resources = [
        {
            key: value
            for key, value in (("ResourceType", kind), ("ResourceName", name))
            if value is not None
        }
        for kind, name in event.resources
    ]
    return {
        "EventId": event.event_id,
        "EventName": event.event_name,
        "ReadOnly": "true" if event.read_only else "false",
        "AccessKeyId": event.access_key_id,
        "EventTime": event.event_time,
        "EventSource": event.event_source,
        "Username": event.username,
        "Resources": resources,
        "CloudTrailEvent": event.record,
    }


@operation("cloudtrail", "LookupEvents", resource=lambda ctx: "*")
def lookup_events_handler(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    page = lookup_events(
        ctx.uow,
        ctx.services.keys,
        ctx.account_id,
        lookup_attributes=params.get("LookupAttributes", ()),
        start_time=params.get("StartTime"),
        end_time=params.get("EndTime"),
        event_category=params.get("EventCategory"),
        max_results=params.get("MaxResults"),
        next_token=params.get("NextToken"),
    )
    return {"Events": [_event(event) for event in page.events], "NextToken": page.next_token}
