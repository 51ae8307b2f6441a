"""Inline policies of users, groups and roles: Put/Get/List/Delete{User,Group,Role}Policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..iam import inline_policies
from ..iam.common import encode_document
from .iam_common import group_resource, page, role_resource, user_resource
from .registry import OperationContext, ResourceFn, operation

__all__: list[str] = []


def _register(kind: str, label: str, resource: ResourceFn) -> None:
    """Register the four inline-policy operations of one entity kind."""
    param = f"{label}Name"

    def put(ctx: OperationContext) -> None:
        inline_policies.put_inline_policy(
            ctx.uow,
            ctx.account_id,
            kind,
            ctx.params[param],
            ctx.params["PolicyName"],
            ctx.params["PolicyDocument"],
        )

    def get(ctx: OperationContext) -> Mapping[str, Any]:
        found = inline_policies.get_inline_policy(
            ctx.uow, ctx.account_id, kind, ctx.params[param], ctx.params["PolicyName"]
        )
        return {
            param: found.entity_name,
            "PolicyName": found.policy_name,
            "PolicyDocument": encode_document(found.document),
        }

    def list_names(ctx: OperationContext) -> Mapping[str, Any]:
        names = inline_policies.list_inline_policy_names(
            ctx.uow, ctx.account_id, kind, ctx.params[param]
        )
        return page(ctx, names, "PolicyNames")

    def delete(ctx: OperationContext) -> None:
        inline_policies.delete_inline_policy(
            ctx.uow, ctx.account_id, kind, ctx.params[param], ctx.params["PolicyName"]
        )

    operation("iam", f"Put{label}Policy", resource=resource, writes=True)(put)
    operation("iam", f"Get{label}Policy", resource=resource)(get)
    operation("iam", f"List{label}Policies", resource=resource)(list_names)
    operation("iam", f"Delete{label}Policy", resource=resource, writes=True)(delete)


_register("user", "User", user_resource())
_register("group", "Group", group_resource())
_register("role", "Role", role_resource())
