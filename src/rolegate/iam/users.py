"""IAM users."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, insert

from ..errors import EntityAlreadyExists
from ..ids import USER_ID_PREFIX, iam_arn, new_unique_id
from ..store.database import UnitOfWork, as_utc
from ..store.schema import (
    access_keys,
    group_members,
    login_profiles,
    mfa_devices,
    users,
)
from .boundaries import boundary_shape, resolve_boundary
from .common import (
    POLICY_CONFLICTS,
    delete_named,
    find_named,
    get_user,
    list_named,
    list_tags,
    put_tags,
    rename_named,
)

__all__ = [
    "create_user",
    "delete_user",
    "describe_user",
    "list_users",
    "update_user",
    "user_arn",
]


def user_arn(row: Row[Any]) -> str:
    return iam_arn(row.account_id, "user", row.path, row.name)


def describe_user(uow: UnitOfWork, row: Row[Any], *, with_tags: bool = False) -> dict[str, Any]:
    """The `User` shape of the IAM API."""
    shape: dict[str, Any] = {
        "Path": row.path,
        "UserName": row.name,
        "UserId": row.id,
        "Arn": user_arn(row),
        "CreateDate": as_utc(row.created_at),
    }
    if row.password_last_used is not None:
        shape["PasswordLastUsed"] = as_utc(row.password_last_used)
    boundary = boundary_shape(row.boundary_arn)
    if boundary is not None:
        shape["PermissionsBoundary"] = boundary
    if with_tags:
        tags = list_tags(uow, row.id)
        if tags:
            shape["Tags"] = tags
    return shape


def create_user(
    uow: UnitOfWork,
    account_id: str,
    name: str,
    *,
    path: str = "/",
    tags: Sequence[Mapping[str, str]] = (),
    boundary_arn: str | None = None,
) -> Row[Any]:
    uow.lock_account(account_id)
    if find_named(uow, users, account_id, name) is not None:
        raise EntityAlreadyExists(f"User with name {name} already exists.")
    if boundary_arn is not None:
        boundary_arn = resolve_boundary(uow, account_id, boundary_arn)
    user_id = new_unique_id(USER_ID_PREFIX)
    uow.connection.execute(
        insert(users).values(
            id=user_id,
            account_id=account_id,
            name=name,
            name_key=name.lower(),
            path=path,
            boundary_arn=boundary_arn,
            created_at=uow.now,
        )
    )
    if tags:
        put_tags(uow, user_id, tags)
    return get_user(uow, account_id, name)


def list_users(uow: UnitOfWork, account_id: str, path_prefix: str = "/") -> list[Row[Any]]:
    return list_named(uow, users, account_id, path_prefix)


def update_user(
    uow: UnitOfWork,
    account_id: str,
    name: str,
    *,
    new_name: str | None = None,
    new_path: str | None = None,
) -> None:
    uow.lock_account(account_id)
    row = get_user(uow, account_id, name)
    rename_named(uow, users, row, "User", new_name, new_path)


def delete_user(uow: UnitOfWork, account_id: str, name: str) -> None:
    uow.lock_account(account_id)
    row = get_user(uow, account_id, name)
    delete_named(
        uow,
        users,
        row,
        (
            (access_keys, access_keys.c.user_id, "must delete access keys first"),
            (login_profiles, login_profiles.c.user_id, "must delete login profile first"),
            (mfa_devices, mfa_devices.c.user_id, "must delete MFA device first"),
            (group_members, group_members.c.user_id, "must remove users from group first"),
            *POLICY_CONFLICTS,
        ),
    )
