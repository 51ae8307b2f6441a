"""The IAM policy simulator: Simulate{Principal,Custom}Policy, GetContextKeysFor*Policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..iam import simulation
from .iam_common import account_resource, page, policy_resource
from .registry import OperationContext, operation

__all__: list[str] = []

# SimulatePrincipalPolicy and GetContextKeysForPrincipalPolicy are authorized on the ARN of the
# simulated user, group or role; the custom variants on "*" (as AWS's IAM actions table says).
_principal_resource = policy_resource("PolicySourceArn")


@operation("iam", "SimulatePrincipalPolicy", resource=_principal_resource)
def simulate_principal_policy(ctx: OperationContext) -> Mapping[str, Any]:
    results = simulation.simulate_principal(ctx.uow, ctx.account_id, ctx.params)
    return page(ctx, results, "EvaluationResults")


@operation("iam", "SimulateCustomPolicy", resource=account_resource)
def simulate_custom_policy(ctx: OperationContext) -> Mapping[str, Any]:
    results = simulation.simulate_custom(ctx.uow, ctx.account_id, ctx.params)
    return page(ctx, results, "EvaluationResults")


@operation("iam", "GetContextKeysForPrincipalPolicy", resource=_principal_resource)
def get_context_keys_for_principal_policy(ctx: OperationContext) -> Mapping[str, Any]:
    keys = simulation.principal_context_keys(
        ctx.uow,
        ctx.account_id,
        ctx.params["PolicySourceArn"],
        ctx.params.get("PolicyInputList", []),
    )
    return {"ContextKeyNames": keys}


@operation("iam", "GetContextKeysForCustomPolicy", resource=account_resource)
def get_context_keys_for_custom_policy(ctx: OperationContext) -> Mapping[str, Any]:
    return {"ContextKeyNames": simulation.custom_context_keys(ctx.params["PolicyInputList"])}
