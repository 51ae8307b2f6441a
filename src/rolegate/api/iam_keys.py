"""IAM access keys: Create/Update/Delete/ListAccessKeys, GetAccessKeyLastUsed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..iam import access_keys
from ..iam.common import get_user
from .iam_common import account_resource, page, target_user, user_resource
from .registry import OperationContext, operation

__all__: list[str] = []


def _key_owner(ctx: OperationContext) -> tuple[str | None, str | None]:
    """(user id, user name) the call is about: UserName, else the caller (None for root)."""
    name = target_user(ctx)
    if name is None:
        return None, None
    row = get_user(ctx.uow, ctx.account_id, name)
    return row.id, row.name


@operation("iam", "CreateAccessKey", resource=user_resource(), writes=True)
def create_access_key(ctx: OperationContext) -> Mapping[str, Any]:
    user_id, user_name = _key_owner(ctx)
    key = access_keys.create_access_key(ctx.uow, ctx.account_id, user_id, user_name)
    return {"AccessKey": key}


@operation("iam", "UpdateAccessKey", resource=user_resource(), writes=True)
def update_access_key(ctx: OperationContext) -> None:
    user_id, _ = _key_owner(ctx)
    access_keys.update_access_key(
        ctx.uow, ctx.account_id, user_id, ctx.params["AccessKeyId"], ctx.params["Status"]
    )


@operation("iam", "DeleteAccessKey", resource=user_resource(), writes=True)
def delete_access_key(ctx: OperationContext) -> None:
    user_id, _ = _key_owner(ctx)
    access_keys.delete_access_key(ctx.uow, ctx.account_id, user_id, ctx.params["AccessKeyId"])


@operation("iam", "ListAccessKeys", resource=user_resource())
def list_access_keys(ctx: OperationContext) -> Mapping[str, Any]:
    user_id, user_name = _key_owner(ctx)
    keys = access_keys.list_access_keys(ctx.uow, ctx.account_id, user_id, user_name)
    return page(ctx, keys, "AccessKeyMetadata")


@operation("iam", "GetAccessKeyLastUsed", resource=account_resource)
def get_access_key_last_used(ctx: OperationContext) -> Mapping[str, Any]:
    user_name, used = access_keys.key_last_used(ctx.uow, ctx.account_id, ctx.params["AccessKeyId"])
    result: dict[str, Any] = {"AccessKeyLastUsed": used}
    if user_name is not None:
        result["UserName"] = user_name
    return result
