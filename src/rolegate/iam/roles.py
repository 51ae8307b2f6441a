"""IAM roles: create, describe, list, update, trust policy, boundary, tags, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Row, insert, update

from ..analyzer.scan import resource_changed, resource_removed
from ..errors import EntityAlreadyExists, LimitExceeded
from ..ids import ROLE_ID_PREFIX, iam_arn, new_unique_id
from ..policy import PolicyKind
from ..store.database import UnitOfWork, as_utc
from ..store.schema import roles
from .boundaries import boundary_shape, resolve_boundary
from .common import (
    POLICY_CONFLICTS,
    QUOTAS,
    check_policy_document,
    delete_named,
    encode_document,
    find_named,
    get_role,
    list_named,
    list_tags,
    put_tags,
    remove_tags,
)
from .principal_binding import bind_principals, render_principals

__all__ = [
    "DEFAULT_MAX_SESSION_DURATION",
    "check_trust_policy",
    "create_role",
    "delete_role",
    "describe_role",
    "list_roles",
    "role_arn",
    "tag_role",
    "untag_role",
    "update_role",
    "update_trust_policy",
]

DEFAULT_MAX_SESSION_DURATION: Final = 3600
_TRUST_QUOTA_NAME: Final = "ACLSizePerRole"


def role_arn(row: Row[Any]) -> str:
    return iam_arn(row.account_id, "role", row.path, row.name)


def check_trust_policy(text: str) -> str:
    """Validate a trust policy (AssumeRolePolicyDocument) as IAM does.

    Too large (whitespace not counted): LimitExceeded `Cannot exceed quota for
    ACLSizePerRole: 2048`; invalid: MalformedPolicyDocument naming the location.
    """
    quota = QUOTAS["AssumeRolePolicySizePerRole"]
    try:
        return check_policy_document(text, PolicyKind.TRUST, max_size=quota)
    except LimitExceeded as error:
        raise LimitExceeded(f"Cannot exceed quota for {_TRUST_QUOTA_NAME}: {quota}") from error


def describe_role(
    uow: UnitOfWork,
    row: Row[Any],
    *,
    tags: bool = False,
    boundary: bool = False,
    last_used: bool = False,
    max_session: bool = True,
    cache: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """The `Role` shape of the IAM API; the flags pick the optional members an operation
    returns (GetRole: all of them; ListRoles: no tags, boundary or last use)."""
    document = render_principals(uow, row.trust_policy, cache)
    shape: dict[str, Any] = {
        "Path": row.path,
        "RoleName": row.name,
        "RoleId": row.id,
        "Arn": role_arn(row),
        "CreateDate": as_utc(row.created_at),
        "AssumeRolePolicyDocument": encode_document(document),
    }
    if row.description:
        shape["Description"] = row.description
    if max_session:
        shape["MaxSessionDuration"] = row.max_session_duration
    if boundary:
        boundary_member = boundary_shape(row.boundary_arn)
        if boundary_member is not None:
            shape["PermissionsBoundary"] = boundary_member
    if tags:
        listed = list_tags(uow, row.id)
        if listed:
            shape["Tags"] = listed
    if last_used:
        used: dict[str, Any] = {}
        if row.last_used_at is not None:
            used["LastUsedDate"] = as_utc(row.last_used_at)
            if row.last_used_region:
                used["Region"] = row.last_used_region
        shape["RoleLastUsed"] = used
    return shape


def create_role(
    uow: UnitOfWork,
    account_id: str,
    name: str,
    trust_policy: str,
    *,
    path: str = "/",
    description: str | None = None,
    max_session_duration: int | None = None,
    boundary_arn: str | None = None,
    tags: Sequence[Mapping[str, str]] = (),
) -> Row[Any]:
    check_trust_policy(trust_policy)
    uow.lock_account(account_id)
    if find_named(uow, roles, account_id, name) is not None:
        raise EntityAlreadyExists(f"Role with name {name} already exists.")
    stored = bind_principals(uow, trust_policy)
    if boundary_arn is not None:
        boundary_arn = resolve_boundary(uow, account_id, boundary_arn)
    role_id = new_unique_id(ROLE_ID_PREFIX)
    uow.connection.execute(
        insert(roles).values(
            id=role_id,
            account_id=account_id,
            name=name,
            name_key=name.lower(),
            path=path,
            trust_policy=stored,
            description=description or None,
            max_session_duration=max_session_duration or DEFAULT_MAX_SESSION_DURATION,
            boundary_arn=boundary_arn,
            created_at=uow.now,
        )
    )
    if tags:
        put_tags(uow, role_id, tags)
    created = get_role(uow, account_id, name)
    resource_changed(uow, account_id, role_arn(created))  # Access Analyzer's findings
    return created


def list_roles(uow: UnitOfWork, account_id: str, path_prefix: str = "/") -> list[Row[Any]]:
    return list_named(uow, roles, account_id, path_prefix)


def update_role(
    uow: UnitOfWork,
    account_id: str,
    name: str,
    *,
    description: str | None = None,
    max_session_duration: int | None = None,
) -> Row[Any]:
    """UpdateRole / UpdateRoleDescription: None leaves a member unchanged; an empty
    description removes it."""
    uow.lock_account(account_id)
    row = get_role(uow, account_id, name)
    values: dict[str, Any] = {}
    if description is not None:
        values["description"] = description or None
    if max_session_duration is not None:
        values["max_session_duration"] = max_session_duration
    if values:
        uow.connection.execute(update(roles).where(roles.c.id == row.id).values(**values))
        row = get_role(uow, account_id, name)
    return row


def update_trust_policy(uow: UnitOfWork, account_id: str, name: str, document: str) -> None:
    check_trust_policy(document)
    uow.lock_account(account_id)
    row = get_role(uow, account_id, name)
    stored = bind_principals(uow, document)
    uow.connection.execute(update(roles).where(roles.c.id == row.id).values(trust_policy=stored))
    resource_changed(uow, account_id, role_arn(row))  # Access Analyzer's findings


def delete_role(uow: UnitOfWork, account_id: str, name: str) -> None:
    uow.lock_account(account_id)
    row = get_role(uow, account_id, name)
    delete_named(uow, roles, row, POLICY_CONFLICTS)
    resource_removed(uow, role_arn(row))  # Access Analyzer's findings


def tag_role(
    uow: UnitOfWork, account_id: str, name: str, tags: Sequence[Mapping[str, str]]
) -> None:
    uow.lock_account(account_id)
    row = get_role(uow, account_id, name)
    put_tags(uow, row.id, tags)


def untag_role(uow: UnitOfWork, account_id: str, name: str, keys: Sequence[str]) -> None:
    uow.lock_account(account_id)
    row = get_role(uow, account_id, name)
    remove_tags(uow, row.id, keys)
