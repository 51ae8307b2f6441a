"""IAM groups: create, describe, list, update, delete, and membership of users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select

from ..errors import EntityAlreadyExists, LimitExceeded, NoSuchEntity
from ..ids import GROUP_ID_PREFIX, iam_arn, new_unique_id
from ..store.database import UnitOfWork, as_utc
from ..store.schema import (
    group_members,
    groups,
    users,
)
from .common import (
    POLICY_CONFLICTS,
    QUOTAS,
    count,
    delete_named,
    find_named,
    get_group,
    get_user,
    list_named,
    rename_named,
)

__all__ = [
    "add_user_to_group",
    "create_group",
    "delete_group",
    "describe_group",
    "group_arn",
    "group_users",
    "list_groups",
    "list_groups_for_user",
    "remove_user_from_group",
    "update_group",
]


def group_arn(row: Row[Any]) -> str:
    return iam_arn(row.account_id, "group", row.path, row.name)


def describe_group(row: Row[Any]) -> dict[str, Any]:
    """The `Group` shape of the IAM API."""
    return {
        "Path": row.path,
        "GroupName": row.name,
        "GroupId": row.id,
        "Arn": group_arn(row),
        "CreateDate": as_utc(row.created_at),
    }


def create_group(uow: UnitOfWork, account_id: str, name: str, *, path: str = "/") -> Row[Any]:
    uow.lock_account(account_id)
    if find_named(uow, groups, account_id, name) is not None:
        raise EntityAlreadyExists(f"Group with name {name} already exists.")
    uow.connection.execute(
        insert(groups).values(
            id=new_unique_id(GROUP_ID_PREFIX),
            account_id=account_id,
            name=name,
            name_key=name.lower(),
            path=path,
            created_at=uow.now,
        )
    )
    return get_group(uow, account_id, name)


def list_groups(uow: UnitOfWork, account_id: str, path_prefix: str = "/") -> list[Row[Any]]:
    return list_named(uow, groups, account_id, path_prefix)


def group_users(uow: UnitOfWork, group_id: str) -> list[Row[Any]]:
    """The member users of a group, by name."""
    return list(
        uow.connection.execute(
            select(users)
            .select_from(users.join(group_members, group_members.c.user_id == users.c.id))
            .where(group_members.c.group_id == group_id)
            .order_by(users.c.name_key)
        )
    )


def list_groups_for_user(uow: UnitOfWork, account_id: str, user_name: str) -> list[Row[Any]]:
    user = get_user(uow, account_id, user_name)
    return list(
        uow.connection.execute(
            select(groups)
            .select_from(groups.join(group_members, group_members.c.group_id == groups.c.id))
            .where(group_members.c.user_id == user.id)
            .order_by(groups.c.name_key)
        )
    )


def update_group(
    uow: UnitOfWork,
    account_id: str,
    name: str,
    *,
    new_name: str | None = None,
    new_path: str | None = None,
) -> None:
    uow.lock_account(account_id)
    row = get_group(uow, account_id, name)
    rename_named(uow, groups, row, "Group", new_name, new_path)


def delete_group(uow: UnitOfWork, account_id: str, name: str) -> None:
    uow.lock_account(account_id)
    row = get_group(uow, account_id, name)
    delete_named(
        uow,
        groups,
        row,
        (
            (group_members, group_members.c.group_id, "must remove users from group first"),
            *POLICY_CONFLICTS,
        ),
    )


def _is_member(uow: UnitOfWork, group_id: str, user_id: str) -> bool:
    return bool(
        count(
            uow,
            group_members,
            group_members.c.group_id == group_id,
            group_members.c.user_id == user_id,
        )
    )


def add_user_to_group(uow: UnitOfWork, account_id: str, group_name: str, user_name: str) -> None:
    """Add a user to a group (a no-op when it already is a member); 10 groups per user."""
    uow.lock_account(account_id)
    group = get_group(uow, account_id, group_name)
    user = get_user(uow, account_id, user_name)
    if _is_member(uow, group.id, user.id):
        return
    quota = QUOTAS["GroupsPerUser"]
    if count(uow, group_members, group_members.c.user_id == user.id) >= quota:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {quota}")
    uow.connection.execute(insert(group_members).values(group_id=group.id, user_id=user.id))


def remove_user_from_group(
    uow: UnitOfWork, account_id: str, group_name: str, user_name: str
) -> None:
    uow.lock_account(account_id)
    group = get_group(uow, account_id, group_name)
    user = get_user(uow, account_id, user_name)
    if not _is_member(uow, group.id, user.id):
        raise NoSuchEntity(f"The user with name {user_name} cannot be found.")
    uow.connection.execute(
        delete(group_members).where(
            group_members.c.group_id == group.id, group_members.c.user_id == user.id
        )
    )
