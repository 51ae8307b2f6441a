"""Resource ARNs and pagination shared by the IAM adapters."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from ..errors import ValidationError
from ..iam.common import find_named
from ..ids import iam_arn
from ..store.schema import groups, roles, users
from .registry import OperationContext, ResourceFn

__all__ = [
    "account_resource",
    "collection_resource",
    "group_resource",
    "page",
    "policy_resource",
    "role_resource",
    "target_user",
    "user_resource",
]

_DEFAULT_MAX_ITEMS: Final = 100
T = TypeVar("T")


def account_resource(ctx: OperationContext) -> str:
    return "*"


def collection_resource(kind: str) -> ResourceFn:
    """`arn:aws:iam::A:user/` style resource of List* calls."""
    return lambda ctx: iam_arn(ctx.account_id, kind, ctx.params.get("PathPrefix", "/"))


def _named_resource(table: Any, kind: str, param: str) -> ResourceFn:
    def resource(ctx: OperationContext) -> str:
        name = ctx.params[param]
        row = find_named(ctx.uow, table, ctx.account_id, name)
        path = row.path if row is not None else ctx.params.get("Path", "/")
        return iam_arn(ctx.account_id, kind, path, row.name if row is not None else name)

    return resource


def group_resource(param: str = "GroupName") -> ResourceFn:
    return _named_resource(groups, "group", param)


def role_resource(param: str = "RoleName") -> ResourceFn:
    return _named_resource(roles, "role", param)


def target_user(ctx: OperationContext, param: str = "UserName") -> str | None:
    """The user an optional UserName names: the caller itself when absent (None for root)."""
    name = ctx.params.get(param)
    if name is not None:
        return str(name)
    return ctx.caller.user_name


def user_resource(param: str = "UserName") -> ResourceFn:
    named = _named_resource(users, "user", param)

    def resource(ctx: OperationContext) -> str:
        if param in ctx.params:
            return named(ctx)
        return ctx.caller.arn

    return resource


def policy_resource(param: str = "PolicyArn") -> ResourceFn:
    return lambda ctx: str(ctx.params[param])


def _decode_marker(marker: str) -> int:
    try:
        offset = int(base64.urlsafe_b64decode(marker.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ValidationError("Invalid Marker.") from error
    if offset < 0:
        raise ValidationError("Invalid Marker.")
    return offset


def page(
    ctx: OperationContext,
    items: Sequence[T],
    key: str,
    render: Callable[[T], Any] = lambda item: item,
) -> dict[str, Any]:
    """One page of a List* result with IsTruncated and Marker (MaxItems default 100)."""
    start = _decode_marker(ctx.params["Marker"]) if "Marker" in ctx.params else 0
    size = int(ctx.params.get("MaxItems", _DEFAULT_MAX_ITEMS))
    chunk = items[start : start + size]
    result: dict[str, Any] = {key: [render(item) for item in chunk]}
    truncated = start + size < len(items)
    result["IsTruncated"] = truncated
    if truncated:
        result["Marker"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return result
