"""Permissions boundaries of users and roles."""

from __future__ import annotations

from sqlalchemy import Table, select, update

from ..errors import NoSuchEntity
from ..store.database import UnitOfWork
from ..store.schema import managed_policies, roles, users
from .aws_managed import AWS_ACCOUNT
from .common import get_role, get_user

__all__ = ["boundary_shape", "resolve_boundary", "set_boundary"]


def boundary_shape(boundary_arn: str | None) -> dict[str, str] | None:
    """The `PermissionsBoundary` member of a User or Role shape."""
    if boundary_arn is None:
        return None
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary_arn}


def resolve_boundary(uow: UnitOfWork, account_id: str, policy_arn: str) -> str:
    """A permissions boundary must be an existing managed policy of the account (or AWS's)."""
    row = uow.connection.execute(
        select(managed_policies.c.arn).where(
            managed_policies.c.arn == policy_arn,
            managed_policies.c.account_id.in_([account_id, AWS_ACCOUNT]),
        )
    ).first()
    if row is None:
        raise NoSuchEntity(f"Scope ARN: {policy_arn} does not exist or is not attachable.")
    return str(row.arn)


def set_boundary(
    uow: UnitOfWork, table: Table, account_id: str, name: str, boundary_arn: str | None
) -> None:
    """Put (a managed policy ARN) or delete (None) the boundary of a user or role."""
    uow.lock_account(account_id)
    finder = {users.name: get_user, roles.name: get_role}[table.name]
    row = finder(uow, account_id, name)
    if boundary_arn is not None:
        boundary_arn = resolve_boundary(uow, account_id, boundary_arn)
    uow.connection.execute(
        update(table).where(table.c.id == row.id).values(boundary_arn=boundary_arn)
    )
