"""The encoded authorization failure message of an S3 AccessDenied (EC2-style).

The decision details, shaped like the JSON AWS's `sts:DecodeAuthorizationMessage` returns,
are sealed with the gateway's key ring (`seal_message`): only a principal allowed
`sts:DecodeAuthorizationMessage` can read them. A caller denied on another account's bucket
sees no statement of that account's bucket policy in it, only its own side's.
"""

from __future__ import annotations

from typing import Any

from ..policy import Decision, PolicyKind
from ..policy.evaluate import Effect
from ..policy.request import Request
from ..sts.tokens import KeyRing, seal_message

__all__ = ["encoded_failure", "failure_details"]


def failure_details(
    request: Request, decision: Decision, *, caller_side_only: bool = False
) -> dict[str, Any]:
    """The decoded message: decision, matched statements, failures and request context."""
    principal = request.principal
    statements = [
        {
            "statementId": ref.sid or f"#{ref.index}",
            "effect": "DENY" if decision.effect is Effect.EXPLICIT_DENY else "ALLOW",
            "policyType": ref.kind.value,
            "policyId": ref.policy_id,
        }
        for ref in decision.statements
        if not (caller_side_only and ref.kind is PolicyKind.RESOURCE)
    ]
    failures = [reason.value for reason in decision.reasons]
    if decision.effect is Effect.EXPLICIT_DENY and decision.statements:
        failures.append(decision.aws_reason(request.action))
    conditions: dict[str, tuple[str, ...]] = {}
    for key, value in request.context.items():
        if isinstance(value, str):
            conditions[key] = (value,)
        elif isinstance(value, bool):
            conditions[key] = ("true" if value else "false",)
        elif isinstance(value, int | float):
            conditions[key] = (str(value),)
        else:
            conditions[key] = tuple(str(item) for item in value)
    present = {key.lower() for key in conditions}
    for key, values in principal.global_context.items():
        if key.lower() not in present:
            conditions[key] = tuple(values)
    return {
        "allowed": False,
        "explicitDeny": decision.effect is Effect.EXPLICIT_DENY,
        "matchedStatements": {"items": statements},
        "failures": {"items": failures},
        "context": {
            "principal": {
                "id": principal.unique_id or principal.account or "anonymous",
                "arn": principal.arn,
            },
            "action": request.action,
            "resource": request.resource,
            "conditions": {
                "items": [
                    {"key": key, "values": {"items": [{"value": value} for value in values]}}
                    for key, values in conditions.items()
                ]
            },
        },
    }


def encoded_failure(
    request: Request, decision: Decision, keys: KeyRing, *, caller_side_only: bool = False
) -> str:
    """The sealed blob to append to the AccessDenied message."""
    return seal_message(failure_details(request, decision, caller_side_only=caller_side_only), keys)
