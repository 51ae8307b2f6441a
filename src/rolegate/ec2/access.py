"""EC2's authorization: the engine asked with EC2's resource ARNs and condition keys.

Every EC2 operation authorizes itself through `authorize` (the registry's
`gateway_authorizes=False`): a multi-instance call asks once per instance with that
instance's tags and type, and any refusal fails the whole call before anything changes. A
refusal is EC2's `UnauthorizedOperation` (403) with the encoded authorization message that
sts:DecodeAuthorizationMessage opens (sealed as S3's AccessDenied is); `DryRun` answers
`DryRunOperation` (412) once every check passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from ..api.registry import OperationContext
from ..errors import ServiceError
from ..policy import Request, evaluate
from ..policy.explain import failure_details
from ..policy.request import ContextValue
from ..sts.tokens import seal_message
from .errors import ec2_error

__all__ = [
    "ALL_RESOURCES",
    "authorize",
    "finish_dry_run",
    "image_arn",
    "instance_arn",
    "instance_keys",
    "request_tag_keys",
]

ALL_RESOURCES: Final = "*"  # Describe* calls are authorized on every resource, as AWS does
_NOT_AUTHORIZED: Final = "You are not authorized to perform this operation."


def instance_arn(ctx: OperationContext, instance_id: str) -> str:
    return f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:instance/{instance_id}"


def image_arn(ctx: OperationContext, image_id: str) -> str:
    return f"arn:aws:ec2:{ctx.region}::image/{image_id}"


def instance_keys(tags: Mapping[str, str], instance_type: str) -> dict[str, ContextValue]:
    """The condition keys an existing instance brings: its tags and type."""
    keys: dict[str, ContextValue] = {"ec2:InstanceType": instance_type}
    for key, value in tags.items():
        keys[f"ec2:ResourceTag/{key}"] = value
        keys[f"aws:ResourceTag/{key}"] = value
    return keys


def request_tag_keys(tags: Iterable[Mapping[str, Any]]) -> dict[str, ContextValue]:
    """`aws:RequestTag/<key>` and `aws:TagKeys` of the tags a request sets."""
    keys: dict[str, ContextValue] = {}
    names: list[str] = []
    for tag in tags:
        key = str(tag.get("Key", ""))
        names.append(key)
        keys[f"aws:RequestTag/{key}"] = str(tag.get("Value", ""))
    keys["aws:TagKeys"] = names
    return keys


def authorize(
    ctx: OperationContext,
    action: str,
    resource: str,
    keys: Mapping[str, ContextValue] | None = None,
) -> None:
    """Raise UnauthorizedOperation unless the caller may do `action` on `resource`."""
    ctx.resources.append(resource)
    context: dict[str, ContextValue] = {
        **ctx.services.evaluation_context(ctx),
        "ec2:Region": ctx.region,
        **(keys or {}),
    }
    caller = ctx.caller
    request = Request(
        caller.principal, action, resource, context=context, resource_account=ctx.account_id
    )
    decision = evaluate(request, caller.policies)
    if decision.allowed:
        return
    details = failure_details(request, decision)
    reason = decision.aws_reason(action)
    # A Describe* refusal names no resource (it was asked on every resource).
    target = "" if resource == ALL_RESOURCES else f" on resource: {resource}"
    message = (
        f"{_NOT_AUTHORIZED} User: {caller.arn} is not authorized to perform: {action}"
        f"{target} {reason}"
    ).rstrip()
    sealed = seal_message(details, ctx.services.keys)
    raise ServiceError(
        f"{message}. Encoded authorization failure message: {sealed}",
        code="UnauthorizedOperation",
        http_status=403,
        explanation=details,
    )


def finish_dry_run(ctx: OperationContext) -> None:
    """After the checks of a `DryRun` call: it would have succeeded."""
    if ctx.params.get("DryRun"):
        raise ec2_error(
            "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
        )
