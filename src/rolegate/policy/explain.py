"""What a denial tells: the decision, the statements that matched, the failures and the
request context, shaped like the JSON that AWS's `sts:DecodeAuthorizationMessage` returns.

The S3 AccessDenied seals it into its encoded message; the console shows it under a refusal.
Pure: a function of the request and the engine's decision.
"""

from __future__ import annotations

from typing import Any

from .evaluate import Decision, Effect
from .model import PolicyKind
from .request import Request

__all__ = ["failure_details"]


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
