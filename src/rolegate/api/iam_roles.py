"""IAM roles: Create/Get/List/Update/DeleteRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, role tags and permissions boundaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..iam import roles
from ..iam.boundaries import set_boundary
from ..iam.common import get_role, list_tags
from ..store.schema import roles as roles_table
from .iam_common import collection_resource, page, role_resource
from .registry import OperationContext, operation

__all__: list[str] = []


@operation("iam", "CreateRole", resource=role_resource(), writes=True)
def create_role(ctx: OperationContext) -> Mapping[str, Any]:
    params = ctx.params
    row = roles.create_role(
        ctx.uow,
        ctx.account_id,
        params["RoleName"],
        params["AssumeRolePolicyDocument"],
        path=params.get("Path", "/"),
        description=params.get("Description"),
        max_session_duration=params.get("MaxSessionDuration"),
        boundary_arn=params.get("PermissionsBoundary"),
        tags=params.get("Tags", []),
    )
    role = roles.describe_role(ctx.uow, row, tags=True, boundary=True, max_session=False)
    return {"Role": role}


@operation("iam", "GetRole", resource=role_resource())
def get_role_operation(ctx: OperationContext) -> Mapping[str, Any]:
    row = get_role(ctx.uow, ctx.account_id, ctx.params["RoleName"])
    role = roles.describe_role(ctx.uow, row, tags=True, boundary=True, last_used=True)
    return {"Role": role}


@operation("iam", "ListRoles", resource=collection_resource("role"))
def list_roles(ctx: OperationContext) -> Mapping[str, Any]:
    rows = roles.list_roles(ctx.uow, ctx.account_id, ctx.params.get("PathPrefix", "/"))
    cache: dict[str, str | None] = {}
    return page(ctx, rows, "Roles", lambda row: roles.describe_role(ctx.uow, row, cache=cache))


@operation("iam", "UpdateRole", resource=role_resource(), writes=True)
def update_role(ctx: OperationContext) -> Mapping[str, Any]:
    roles.update_role(
        ctx.uow,
        ctx.account_id,
        ctx.params["RoleName"],
        description=ctx.params.get("Description"),
        max_session_duration=ctx.params.get("MaxSessionDuration"),
    )
    return {}


@operation("iam", "UpdateRoleDescription", resource=role_resource(), writes=True)
def update_role_description(ctx: OperationContext) -> Mapping[str, Any]:
    row = roles.update_role(
        ctx.uow, ctx.account_id, ctx.params["RoleName"], description=ctx.params["Description"]
    )
    return {"Role": roles.describe_role(ctx.uow, row)}


@operation("iam", "UpdateAssumeRolePolicy", resource=role_resource(), writes=True)
def update_assume_role_policy(ctx: OperationContext) -> None:
    roles.update_trust_policy(
        ctx.uow, ctx.account_id, ctx.params["RoleName"], ctx.params["PolicyDocument"]
    )


@operation("iam", "DeleteRole", resource=role_resource(), writes=True)
def delete_role(ctx: OperationContext) -> None:
    roles.delete_role(ctx.uow, ctx.account_id, ctx.params["RoleName"])


@operation("iam", "TagRole", resource=role_resource(), writes=True)
def tag_role(ctx: OperationContext) -> None:
    roles.tag_role(ctx.uow, ctx.account_id, ctx.params["RoleName"], ctx.params["Tags"])


@operation("iam", "UntagRole", resource=role_resource(), writes=True)
def untag_role(ctx: OperationContext) -> None:
    roles.untag_role(ctx.uow, ctx.account_id, ctx.params["RoleName"], ctx.params["TagKeys"])


@operation("iam", "ListRoleTags", resource=role_resource())
def list_role_tags(ctx: OperationContext) -> Mapping[str, Any]:
    row = get_role(ctx.uow, ctx.account_id, ctx.params["RoleName"])
    return page(ctx, list_tags(ctx.uow, row.id), "Tags")


@operation("iam", "PutRolePermissionsBoundary", resource=role_resource(), writes=True)
def put_role_boundary(ctx: OperationContext) -> None:
    set_boundary(
        ctx.uow,
        roles_table,
        ctx.account_id,
        ctx.params["RoleName"],
        ctx.params["PermissionsBoundary"],
    )


@operation("iam", "DeleteRolePermissionsBoundary", resource=role_resource(), writes=True)
def delete_role_boundary(ctx: OperationContext) -> None:
    set_boundary(ctx.uow, roles_table, ctx.account_id, ctx.params["RoleName"], None)
