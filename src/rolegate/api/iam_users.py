"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, user tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..iam import users
from ..iam.boundaries import set_boundary
from ..iam.common import get_user, list_tags, put_tags, remove_tags
from ..ids import iam_arn
from ..store.schema import users as users_table
from .iam_common import collection_resource, page, user_resource
from .registry import OperationContext, operation

__all__: list[str] = []


@operation("iam", "CreateUser", resource=user_resource(), writes=True)
def create_user(ctx: OperationContext) -> Mapping[str, Any]:
    params = ctx.params
    row = users.create_user(
        ctx.uow,
        ctx.account_id,
        params["UserName"],
        path=params.get("Path", "/"),
        tags=params.get("Tags", []),
        boundary_arn=params.get("PermissionsBoundary"),
    )
    return {"User": users.describe_user(ctx.uow, row, with_tags=True)}


@operation("iam", "GetUser", resource=user_resource())
def get_user_operation(ctx: OperationContext) -> Mapping[str, Any]:
    name = ctx.params.get("UserName") or ctx.caller.user_name
    if name is None:
        # The account root: AWS answers with the root user's identity.
        account_id = ctx.account_id
        return {
            "User": {
                "UserId": account_id,
                "Arn": iam_arn(account_id, "root"),
                "CreateDate": ctx.now,
                "Path": "/",
                "UserName": "",
            }
        }
    row = get_user(ctx.uow, ctx.account_id, name)
    return {"User": users.describe_user(ctx.uow, row, with_tags=True)}


@operation("iam", "ListUsers", resource=collection_resource("user"))
def list_users(ctx: OperationContext) -> Mapping[str, Any]:
    rows = users.list_users(ctx.uow, ctx.account_id, ctx.params.get("PathPrefix", "/"))
    return page(ctx, rows, "Users", lambda row: users.describe_user(ctx.uow, row))


@operation("iam", "UpdateUser", resource=user_resource(), writes=True)
def update_user(ctx: OperationContext) -> None:
    users.update_user(
        ctx.uow,
        ctx.account_id,
        ctx.params["UserName"],
        new_name=ctx.params.get("NewUserName"),
        new_path=ctx.params.get("NewPath"),
    )


@operation("iam", "DeleteUser", resource=user_resource(), writes=True)
def delete_user(ctx: OperationContext) -> None:
    users.delete_user(ctx.uow, ctx.account_id, ctx.params["UserName"])


@operation("iam", "TagUser", resource=user_resource(), writes=True)
def tag_user(ctx: OperationContext) -> None:
    ctx.uow.lock_account(ctx.account_id)
    row = get_user(ctx.uow, ctx.account_id, ctx.params["UserName"])
    put_tags(ctx.uow, row.id, ctx.params["Tags"])


@operation("iam", "UntagUser", resource=user_resource(), writes=True)
def untag_user(ctx: OperationContext) -> None:
    ctx.uow.lock_account(ctx.account_id)
    row = get_user(ctx.uow, ctx.account_id, ctx.params["UserName"])
    remove_tags(ctx.uow, row.id, ctx.params["TagKeys"])


@operation("iam", "ListUserTags", resource=user_resource())
def list_user_tags(ctx: OperationContext) -> Mapping[str, Any]:
    row = get_user(ctx.uow, ctx.account_id, ctx.params["UserName"])
    return page(ctx, list_tags(ctx.uow, row.id), "Tags")


@operation("iam", "PutUserPermissionsBoundary", resource=user_resource(), writes=True)
def put_user_boundary(ctx: OperationContext) -> None:
    set_boundary(
        ctx.uow,
        users_table,
        ctx.account_id,
        ctx.params["UserName"],
        ctx.params["PermissionsBoundary"],
    )


@operation("iam", "DeleteUserPermissionsBoundary", resource=user_resource(), writes=True)
def delete_user_boundary(ctx: OperationContext) -> None:
    set_boundary(ctx.uow, users_table, ctx.account_id, ctx.params["UserName"], None)
