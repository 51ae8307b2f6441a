"""The console's EC2 page: the instances of the identity's account in the console's region,
with Stop, Start and Terminate.

Every action is an EC2 call as the signed-in identity (the role session after Switch Role)
through `console.call`: the real EC2 endpoint and the engine decide per instance, and a
refusal (UnauthorizedOperation) shows AWS's message with the engine's explanation, under the
error's HTTP status, above the list as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .aws import AwsCallError
from .web import Console, Identity, error_dict, format_time, page

__all__ = ["ACTIONS", "INSTANCES_PATH", "instance_view", "routes"]

INSTANCES_PATH: Final = "/console/ec2/instances"
# Form action -> (EC2 operation, notice after it).
ACTIONS: Final = {
    "stop": ("stop_instances", "Stopping instance {id}."),
    "start": ("start_instances", "Starting instance {id}."),
    "terminate": ("terminate_instances", "Terminating instance {id}."),
}
_ID_LIMIT: Final = 64


def instance_view(instance: Mapping[str, Any]) -> dict[str, Any]:
    """What the template shows of one DescribeInstances instance."""
    tags = {str(tag.get("Key")): str(tag.get("Value", "")) for tag in instance.get("Tags") or ()}
    state = str((instance.get("State") or {}).get("Name", ""))
    return {
        "id": str(instance.get("InstanceId", "")),
        "name": tags.get("Name", ""),
        "tags": sorted(tags.items()),
        "state": state,
        "type": str(instance.get("InstanceType", "")),
        "zone": str((instance.get("Placement") or {}).get("AvailabilityZone", "")),
        "ip": str(instance.get("PrivateIpAddress", "")),
        "launched": format_time(instance.get("LaunchTime")),
        "can_stop": state in ("pending", "running"),
        "can_start": state == "stopped",
        "can_terminate": state not in ("shutting-down", "terminated"),
    }


def routes(console: Console) -> list[Route]:
    async def listing(
        request: Request,
        identity: Identity,
        *,
        error: AwsCallError | None = None,
        notice: str | None = None,
    ) -> Response:
        instances: list[dict[str, Any]] = []
        list_error: AwsCallError | None = None
        try:
            pages = []
            params: dict[str, Any] = {}
            while True:
                result = await console.call(
                    request, identity, "ec2", "describe_instances", **params
                )
                pages.append(result)
                token = result.get("NextToken")
                if not token:
                    break
                params = {"NextToken": token}
        except AwsCallError as failure:
            list_error = failure
        else:
            for result in pages:
                for reservation in result.get("Reservations") or ():
                    instances.extend(instance_view(i) for i in reservation.get("Instances") or ())
            instances.sort(key=lambda view: (view["name"] or "~", view["id"]))
        failed = error or list_error
        return console.render(
            request,
            "ec2_instances.html",
            identity,
            status=failed.status if failed is not None else 200,
            title="Instances",
            instances=instances,
            error=error_dict(error),
            list_error=error_dict(list_error),
            notice=notice,
        )

    async def instances_page(request: Request, identity: Identity) -> Response:
        done = request.query_params.get("done", "")
        instance_id = request.query_params.get("id", "")[:_ID_LIMIT]
        found = ACTIONS.get(done)
        notice = found[1].format(id=instance_id) if found and instance_id else None
        return await listing(request, identity, notice=notice)

    async def instance_action(request: Request, identity: Identity) -> Response:
        form = await request.form()
        action = form.get("action")
        instance_id = form.get("instance_id")
        if not isinstance(action, str) or action not in ACTIONS or not isinstance(instance_id, str):
            return console.render(
                request,
                "error.html",
                identity,
                status=400,
                title="Instances",
                message="The form names no instance action.",
            )
        instance_id = instance_id[:_ID_LIMIT]
        operation = ACTIONS[action][0]
        try:
            await console.call(request, identity, "ec2", operation, InstanceIds=[instance_id])
        except AwsCallError as error:
            return await listing(request, identity, error=error)
        query = urlencode({"done": action, "id": instance_id})
        return RedirectResponse(f"{INSTANCES_PATH}?{query}", 303)

    async def ec2_home(request: Request, identity: Identity) -> Response:
        return RedirectResponse(INSTANCES_PATH, 303)

    return [
        Route("/console/ec2", page(console, ec2_home), methods=["GET"]),
        Route(INSTANCES_PATH, page(console, instances_page), methods=["GET"]),
        Route(f"{INSTANCES_PATH}/action", page(console, instance_action), methods=["POST"]),
    ]
