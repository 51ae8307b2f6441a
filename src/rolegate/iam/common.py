"""Lookups, tags and quotas shared by the IAM use cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Row, Table, bindparam, delete, func, insert, select, update

from ..errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from ..ids import iam_arn
from ..policy import PolicyKind, PolicyValidationError, parse_policy
from ..policy.errors import LIMIT_EXCEEDED
from ..store.database import UnitOfWork
from ..store.driver import DriverStatement
from ..store.schema import (
    entity_tags,
    groups,
    inline_policies,
    managed_policies,
    policy_attachments,
    roles,
    users,
)

__all__ = [
    "MAX_TAGS",
    "POLICY_CONFLICTS",
    "QUOTAS",
    "check_policy_document",
    "count",
    "delete_named",
    "encode_document",
    "entity_arn",
    "find_named",
    "get_group",
    "get_policy",
    "get_role",
    "get_user",
    "list_named",
    "list_tags",
    "put_tags",
    "remove_tags",
    "rename_named",
]

MAX_TAGS: Final = 50
QUOTAS: Final[Mapping[str, int]] = {
    "AccessKeysPerUser": 2,
    "GroupsPerUser": 10,
    "AttachedPoliciesPerUser": 10,
    "AttachedPoliciesPerGroup": 10,
    "AttachedPoliciesPerRole": 10,
    "MFADevicesPerUser": 8,
    "PolicyVersionsInUse": 5,
    "UserPolicySize": 2048,
    "GroupPolicySize": 5120,
    "RolePolicySize": 10240,
    "PolicySize": 6144,
    "AssumeRolePolicySizePerRole": 2048,
}

_KIND_OF_TABLE: Final = {"users": "user", "groups": "group", "roles": "role"}


_FIND_NAMED: dict[str, DriverStatement] = {}


def _find_named_statement(table: Table) -> DriverStatement:
    statement = _FIND_NAMED.get(table.name)
    if statement is None:
        statement = DriverStatement(
            select(table).where(
                table.c.account_id == bindparam("account_id"), table.c.name_key == bindparam("key")
            )
        )
        _FIND_NAMED[table.name] = statement
    return statement


def find_named(uow: UnitOfWork, table: Table, account_id: str, name: str) -> Row[Any] | None:
    """The row of a user / group / role / policy by name (case-insensitive), or None (on
    most requests' path: straight on the driver, read like a Core row)."""
    found = _find_named_statement(table).records(
        uow.connection, {"account_id": account_id, "key": name.lower()}
    )
    return found[0] if found else None


def list_named(uow: UnitOfWork, table: Table, account_id: str, path_prefix: str) -> list[Row[Any]]:
    """Users / groups / roles of an account under a path prefix, ordered by name."""
    rows = uow.connection.execute(
        select(table)
        .where(
            table.c.account_id == account_id,
            table.c.path.startswith(path_prefix, autoescape=True),
        )
        .order_by(table.c.name_key)
    )
    return list(rows)


# Conflicts every user, group and role delete checks: (table, column naming the entity, why).
POLICY_CONFLICTS: Final = (
    (inline_policies, inline_policies.c.entity_id, "must delete policies first"),
    (policy_attachments, policy_attachments.c.entity_id, "must detach all policies first"),
)


def rename_named(
    uow: UnitOfWork,
    table: Table,
    row: Row[Any],
    label: str,
    new_name: str | None,
    new_path: str | None,
) -> None:
    """UpdateUser / UpdateGroup: a new name (unique case-insensitively) and/or path."""
    values: dict[str, str] = {}
    if new_name is not None and new_name != row.name:
        other = find_named(uow, table, row.account_id, new_name)
        if other is not None and other.id != row.id:
            raise EntityAlreadyExists(f"{label} with name {new_name} already exists.")
        values.update(name=new_name, name_key=new_name.lower())
    if new_path is not None:
        values["path"] = new_path
    if values:
        uow.connection.execute(update(table).where(table.c.id == row.id).values(**values))


def delete_named(
    uow: UnitOfWork, table: Table, row: Row[Any], conflicts: Sequence[tuple[Table, Any, str]]
) -> None:
    """Delete a user / group / role and its tags, refusing while anything still uses it."""
    for conflict_table, column, why in conflicts:
        if count(uow, conflict_table, column == row.id):
            raise DeleteConflict(f"Cannot delete entity, {why}.")
    uow.connection.execute(delete(entity_tags).where(entity_tags.c.entity_id == row.id))
    uow.connection.execute(delete(table).where(table.c.id == row.id))


def _require(row: Row[Any] | None, kind: str, name: str) -> Row[Any]:
    if row is None:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    return row


def get_user(uow: UnitOfWork, account_id: str, name: str) -> Row[Any]:
    return _require(find_named(uow, users, account_id, name), "user", name)


def get_group(uow: UnitOfWork, account_id: str, name: str) -> Row[Any]:
    return _require(find_named(uow, groups, account_id, name), "group", name)


def get_role(uow: UnitOfWork, account_id: str, name: str) -> Row[Any]:
    return _require(find_named(uow, roles, account_id, name), "role", name)


def get_policy(uow: UnitOfWork, arn: str, *, attachable: bool = False) -> Row[Any]:
    row = uow.connection.execute(
        select(managed_policies).where(managed_policies.c.arn == arn)
    ).first()
    if row is None:
        if attachable:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return row


def entity_arn(table: Table, row: Row[Any]) -> str:
    return iam_arn(row.account_id, _KIND_OF_TABLE[table.name], row.path, row.name)


def count(uow: UnitOfWork, table: Table, *where: Any) -> int:
    return int(
        uow.connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
    )


_LIST_TAGS = DriverStatement(
    select(entity_tags.c.key, entity_tags.c.value)
    .where(entity_tags.c.entity_id == bindparam("entity_id"))
    .order_by(entity_tags.c.position)
)


def list_tags(uow: UnitOfWork, entity_id: str) -> list[dict[str, str]]:
    rows = _LIST_TAGS.rows(uow.connection, {"entity_id": entity_id})
    return [{"Key": key, "Value": value} for key, value in rows]


def put_tags(uow: UnitOfWork, entity_id: str, tags: Sequence[Mapping[str, str]]) -> None:
    """Add or overwrite tags (keys case-insensitive); at most 50 per entity."""
    keys = [tag["Key"].lower() for tag in tags]
    if len(set(keys)) != len(keys):
        raise InvalidInput(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
    existing = {tag["Key"].lower(): tag for tag in list_tags(uow, entity_id)}
    merged = dict(existing)
    for tag in tags:
        merged[tag["Key"].lower()] = {"Key": tag["Key"], "Value": tag.get("Value", "")}
    if len(merged) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerEntity: {MAX_TAGS}.")
    connection = uow.connection
    connection.execute(delete(entity_tags).where(entity_tags.c.entity_id == entity_id))
    if merged:
        connection.execute(
            insert(entity_tags),
            [
                {
                    "entity_id": entity_id,
                    "key": tag["Key"],
                    "key_lower": key,
                    "value": tag["Value"],
                    "position": position,
                }
                for position, (key, tag) in enumerate(merged.items())
            ],
        )


def remove_tags(uow: UnitOfWork, entity_id: str, keys: Sequence[str]) -> None:
    lowered = [key.lower() for key in keys]
    uow.connection.execute(
        delete(entity_tags).where(
            entity_tags.c.entity_id == entity_id, entity_tags.c.key_lower.in_(lowered)
        )
    )


def check_policy_document(text: str, kind: PolicyKind, *, max_size: int | None = None) -> str:
    """Validate a policy document for its kind; raise the AWS error IAM would.

    `max_size` is the quota in characters without whitespace (default: the kind's own).
    """
    try:
        parse_policy(text, kind, max_size=max_size)
    except PolicyValidationError as error:
        if error.code == LIMIT_EXCEEDED:
            raise LimitExceeded(error.issues[0].message) from error
        raise MalformedPolicyDocument(error.aws_message()) from error
    return text


def encode_document(text: str) -> str:
    """IAM returns policy documents URL-encoded (RFC 3986)."""
    return quote(text, safe="-_.~")
