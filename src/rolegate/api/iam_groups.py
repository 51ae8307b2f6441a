"""IAM groups: Create/Get/List/Update/DeleteGroup, AddUserToGroup, RemoveUserFromGroup,
ListGroupsForUser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..iam import groups
from ..iam.common import get_group
from ..iam.users import describe_user
from .iam_common import collection_resource, group_resource, page, user_resource
from .registry import OperationContext, operation

__all__: list[str] = []


@operation("iam", "CreateGroup", resource=group_resource(), writes=True)
def create_group(ctx: OperationContext) -> Mapping[str, Any]:
    row = groups.create_group(
        ctx.uow, ctx.account_id, ctx.params["GroupName"], path=ctx.params.get("Path", "/")
    )
    return {"Group": groups.describe_group(row)}


@operation("iam", "GetGroup", resource=group_resource())
def get_group_operation(ctx: OperationContext) -> Mapping[str, Any]:
    row = get_group(ctx.uow, ctx.account_id, ctx.params["GroupName"])
    members = groups.group_users(ctx.uow, row.id)
    result = page(ctx, members, "Users", lambda user: describe_user(ctx.uow, user))
    result["Group"] = groups.describe_group(row)
    return result


@operation("iam", "ListGroups", resource=collection_resource("group"))
def list_groups(ctx: OperationContext) -> Mapping[str, Any]:
    rows = groups.list_groups(ctx.uow, ctx.account_id, ctx.params.get("PathPrefix", "/"))
    return page(ctx, rows, "Groups", groups.describe_group)


@operation("iam", "UpdateGroup", resource=group_resource(), writes=True)
def update_group(ctx: OperationContext) -> None:
    groups.update_group(
        ctx.uow,
        ctx.account_id,
        ctx.params["GroupName"],
        new_name=ctx.params.get("NewGroupName"),
        new_path=ctx.params.get("NewPath"),
    )


@operation("iam", "DeleteGroup", resource=group_resource(), writes=True)
def delete_group(ctx: OperationContext) -> None:
    groups.delete_group(ctx.uow, ctx.account_id, ctx.params["GroupName"])


@operation("iam", "AddUserToGroup", resource=group_resource(), writes=True)
def add_user_to_group(ctx: OperationContext) -> None:
    groups.add_user_to_group(
        ctx.uow, ctx.account_id, ctx.params["GroupName"], ctx.params["UserName"]
    )


@operation("iam", "RemoveUserFromGroup", resource=group_resource(), writes=True)
def remove_user_from_group(ctx: OperationContext) -> None:
    groups.remove_user_from_group(
        ctx.uow, ctx.account_id, ctx.params["GroupName"], ctx.params["UserName"]
    )


@operation("iam", "ListGroupsForUser", resource=user_resource())
def list_groups_for_user(ctx: OperationContext) -> Mapping[str, Any]:
    rows = groups.list_groups_for_user(ctx.uow, ctx.account_id, ctx.params["UserName"])
    return page(ctx, rows, "Groups", groups.describe_group)
