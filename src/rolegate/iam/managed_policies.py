"""Managed policies: customer policies and their versions, attachments, authorization details.

A managed policy is a `managed_policies` row with its `policy_versions` (`v1`, `v2`, ...; the
row's `default_version` is the one in force). Customer policies belong to an account; AWS
managed policies (see `aws_managed`) to the pseudo-account `aws`: every account may read and
attach them, their usage counts are per account. A policy of another customer account is
invisible (NoSuchEntity), never an oracle of its existence.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Row, Table, delete, func, insert, or_, select, union_all, update

from ..errors import AccessDenied, DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from ..ids import POLICY_ID_PREFIX, iam_arn, new_unique_id
from ..policy import PolicyKind
from ..store.database import UnitOfWork, as_utc
from ..store.schema import (
    entity_tags,
    group_members,
    groups,
    inline_policies,
    managed_policies,
    policy_attachments,
    policy_versions,
    roles,
    users,
)
from .aws_managed import AWS_ACCOUNT
from .boundaries import boundary_shape
from .common import (
    QUOTAS,
    check_policy_document,
    count,
    encode_document,
    entity_arn,
    find_named,
    get_group,
    get_role,
    get_user,
    list_tags,
    put_tags,
)

__all__ = [
    "DETAIL_KINDS",
    "ENTITY_KINDS",
    "DetailRef",
    "PolicyUsage",
    "attach_policy",
    "attachable_policy",
    "authorization_detail_refs",
    "create_policy",
    "create_policy_version",
    "delete_policy",
    "delete_policy_version",
    "describe_policy",
    "detach_policy",
    "find_policy",
    "get_policy",
    "get_policy_version",
    "list_attached_policies",
    "list_entities_for_policy",
    "list_policies",
    "list_policy_versions",
    "policy_usage",
    "render_detail",
    "set_default_policy_version",
]


@dataclass(frozen=True)
class _EntityKind:
    table: Table
    label: str  # stored in policy_attachments.entity_type
    quota: str  # key of QUOTAS
    quota_name: str  # name in AWS's LimitExceeded message


ENTITY_KINDS: Final[Mapping[str, _EntityKind]] = {
    "user": _EntityKind(users, "user", "AttachedPoliciesPerUser", "PoliciesPerUser"),
    "group": _EntityKind(groups, "group", "AttachedPoliciesPerGroup", "PoliciesPerGroup"),
    "role": _EntityKind(roles, "role", "AttachedPoliciesPerRole", "PoliciesPerRole"),
}

_LOOKUP: Final = {"user": get_user, "group": get_group, "role": get_role}


# --------------------------------------------------------------------------- lookups


def find_policy(uow: UnitOfWork, account_id: str, arn: str) -> Row[Any] | None:
    """The policy the account can see by ARN (its own or an AWS managed one), or None."""
    return uow.connection.execute(
        select(managed_policies).where(
            managed_policies.c.arn == arn,
            managed_policies.c.account_id.in_([account_id, AWS_ACCOUNT]),
        )
    ).first()


def get_policy(uow: UnitOfWork, account_id: str, arn: str) -> Row[Any]:
    row = find_policy(uow, account_id, arn)
    if row is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return row


def attachable_policy(uow: UnitOfWork, account_id: str, arn: str) -> Row[Any]:
    row = find_policy(uow, account_id, arn)
    if row is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    return row


def _customer_policy(uow: UnitOfWork, account_id: str, arn: str) -> Row[Any]:
    """A policy the account may change: its own (AWS managed ones are read-only)."""
    row = get_policy(uow, account_id, arn)
    if row.account_id != account_id:
        raise AccessDenied(f"Policy {arn} is an AWS managed policy and cannot be modified.")
    return row


def _version(uow: UnitOfWork, policy: Row[Any], version_id: str) -> Row[Any]:
    row = uow.connection.execute(
        select(policy_versions).where(
            policy_versions.c.policy_id == policy.id, policy_versions.c.version_id == version_id
        )
    ).first()
    if row is None:
        raise NoSuchEntity(
            f"Policy {policy.arn} version {version_id} does not exist or is not attachable."
        )
    return row


def _entity(uow: UnitOfWork, account_id: str, kind: str, name: str) -> Row[Any]:
    return _LOOKUP[kind](uow, account_id, name)


# --------------------------------------------------------------------------- usage


def _account_entity_ids(account_id: str) -> Any:
    return union_all(
        select(users.c.id).where(users.c.account_id == account_id),
        select(groups.c.id).where(groups.c.account_id == account_id),
        select(roles.c.id).where(roles.c.account_id == account_id),
    )


@dataclass(frozen=True)
class PolicyUsage:
    """Per-account usage: attachments by policy id, boundary uses by policy ARN."""

    attachments: Mapping[str, int]
    boundaries: Mapping[str, int]

    def attachment_count(self, row: Row[Any]) -> int:
        return self.attachments.get(row.id, 0)

    def boundary_count(self, row: Row[Any]) -> int:
        return self.boundaries.get(row.arn, 0)


def policy_usage(uow: UnitOfWork, account_id: str) -> PolicyUsage:
    connection = uow.connection
    attached = connection.execute(
        select(policy_attachments.c.policy_id, func.count())
        .where(policy_attachments.c.entity_id.in_(_account_entity_ids(account_id)))
        .group_by(policy_attachments.c.policy_id)
    )
    attachments = {row[0]: int(row[1]) for row in attached}
    boundaries: dict[str, int] = {}
    for table in (users, roles):
        used = connection.execute(
            select(table.c.boundary_arn, func.count())
            .where(table.c.account_id == account_id, table.c.boundary_arn.is_not(None))
            .group_by(table.c.boundary_arn)
        )
        for arn, uses in used:
            boundaries[arn] = boundaries.get(arn, 0) + int(uses)
    return PolicyUsage(attachments, boundaries)


def _boundary_users(uow: UnitOfWork, account_id: str, arn: str) -> int:
    return count(uow, users, users.c.account_id == account_id, users.c.boundary_arn == arn) + count(
        uow, roles, roles.c.account_id == account_id, roles.c.boundary_arn == arn
    )


# --------------------------------------------------------------------------- shapes


def describe_policy(
    uow: UnitOfWork,
    row: Row[Any],
    usage: PolicyUsage,
    *,
    full: bool = True,
) -> dict[str, Any]:
    """The `Policy` shape; `full` adds Description and Tags (Get/Create, not List)."""
    shape: dict[str, Any] = {
        "PolicyName": row.name,
        "PolicyId": row.id,
        "Arn": row.arn,
        "Path": row.path,
        "DefaultVersionId": row.default_version,
        "AttachmentCount": usage.attachment_count(row),
        "PermissionsBoundaryUsageCount": usage.boundary_count(row),
        "IsAttachable": True,
        "CreateDate": as_utc(row.created_at),
        "UpdateDate": as_utc(row.updated_at),
    }
    if full:
        if row.description:
            shape["Description"] = row.description
        tags = list_tags(uow, row.id)
        if tags:
            shape["Tags"] = tags
    return shape


def _describe_version(
    policy: Row[Any], version: Row[Any], *, with_document: bool
) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == policy.default_version,
        "CreateDate": as_utc(version.created_at),
    }
    if with_document:
        shape["Document"] = encode_document(version.document)
    return shape


def _version_number(version_id: str) -> int:
    digits = version_id[1:].split(".", 1)[0]
    return int(digits) if digits.isdigit() else 0


def _versions(uow: UnitOfWork, policy: Row[Any]) -> list[Row[Any]]:
    rows = uow.connection.execute(
        select(policy_versions).where(policy_versions.c.policy_id == policy.id)
    ).all()
    return sorted(rows, key=lambda v: _version_number(v.version_id), reverse=True)


# --------------------------------------------------------------------------- policies


def create_policy(
    uow: UnitOfWork,
    account_id: str,
    name: str,
    document: str,
    *,
    path: str = "/",
    description: str | None = None,
    tags: Sequence[Mapping[str, str]] = (),
) -> Row[Any]:
    uow.lock_account(account_id)
    check_policy_document(document, PolicyKind.IDENTITY, max_size=QUOTAS["PolicySize"])
    if find_named(uow, managed_policies, account_id, name) is not None:
        raise EntityAlreadyExists(
            f"A policy called {name} already exists. Duplicate names are not allowed."
        )
    policy_id = new_unique_id(POLICY_ID_PREFIX)
    connection = uow.connection
    connection.execute(
        insert(managed_policies).values(
            id=policy_id,
            account_id=account_id,
            name=name,
            name_key=name.lower(),
            path=path,
            arn=iam_arn(account_id, "policy", path, name),
            description=description or None,
            default_version="v1",
            next_version=2,
            created_at=uow.now,
            updated_at=uow.now,
        )
    )
    connection.execute(
        insert(policy_versions).values(
            policy_id=policy_id, version_id="v1", document=document, created_at=uow.now
        )
    )
    if tags:
        put_tags(uow, policy_id, tags)
    return connection.execute(
        select(managed_policies).where(managed_policies.c.id == policy_id)
    ).one()


def delete_policy(uow: UnitOfWork, account_id: str, arn: str) -> None:
    uow.lock_account(account_id)
    row = _customer_policy(uow, account_id, arn)
    if count(uow, policy_attachments, policy_attachments.c.policy_id == row.id) or (
        _boundary_users(uow, account_id, row.arn)
    ):
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    if count(uow, policy_versions, policy_versions.c.policy_id == row.id) > 1:
        raise DeleteConflict(
            "This policy has more than one version. Before you delete a policy, you must "
            "delete the policy's versions. The default version is deleted with the policy."
        )
    connection = uow.connection
    connection.execute(delete(policy_versions).where(policy_versions.c.policy_id == row.id))
    connection.execute(delete(entity_tags).where(entity_tags.c.entity_id == row.id))
    connection.execute(delete(managed_policies).where(managed_policies.c.id == row.id))


def list_policies(
    uow: UnitOfWork,
    account_id: str,
    *,
    scope: str = "All",
    only_attached: bool = False,
    path_prefix: str = "/",
    usage_filter: str | None = None,
) -> list[dict[str, Any]]:
    owners = {"All": [account_id, AWS_ACCOUNT], "AWS": [AWS_ACCOUNT], "Local": [account_id]}
    rows = uow.connection.execute(
        select(managed_policies)
        .where(managed_policies.c.account_id.in_(owners[scope]))
        .order_by(managed_policies.c.name_key, managed_policies.c.arn)
    )
    usage = policy_usage(uow, account_id)
    found = []
    for row in rows:
        if not row.path.startswith(path_prefix):
            continue
        as_policy = usage.attachment_count(row) > 0
        as_boundary = usage.boundary_count(row) > 0
        if only_attached:
            if usage_filter == "PermissionsPolicy":
                used = as_policy
            elif usage_filter == "PermissionsBoundary":
                used = as_boundary
            else:
                used = as_policy or as_boundary
            if not used:
                continue
        found.append(describe_policy(uow, row, usage, full=False))
    return found


# --------------------------------------------------------------------------- versions


def create_policy_version(
    uow: UnitOfWork, account_id: str, arn: str, document: str, *, set_as_default: bool = False
) -> dict[str, Any]:
    uow.lock_account(account_id)
    row = _customer_policy(uow, account_id, arn)
    check_policy_document(document, PolicyKind.IDENTITY, max_size=QUOTAS["PolicySize"])
    quota = QUOTAS["PolicyVersionsInUse"]
    if count(uow, policy_versions, policy_versions.c.policy_id == row.id) >= quota:
        raise LimitExceeded(
            f"A managed policy can have up to {quota} versions. Before you create a new "
            "version, you must delete an existing version."
        )
    version_id = f"v{row.next_version}"
    connection = uow.connection
    connection.execute(
        insert(policy_versions).values(
            policy_id=row.id, version_id=version_id, document=document, created_at=uow.now
        )
    )
    values: dict[str, Any] = {"next_version": row.next_version + 1, "updated_at": uow.now}
    if set_as_default:
        values["default_version"] = version_id
    connection.execute(
        update(managed_policies).where(managed_policies.c.id == row.id).values(**values)
    )
    return {
        "VersionId": version_id,
        "IsDefaultVersion": set_as_default,
        "CreateDate": uow.now,
    }


def get_policy_version(
    uow: UnitOfWork, account_id: str, arn: str, version_id: str
) -> dict[str, Any]:
    policy = get_policy(uow, account_id, arn)
    return _describe_version(policy, _version(uow, policy, version_id), with_document=True)


def list_policy_versions(uow: UnitOfWork, account_id: str, arn: str) -> list[dict[str, Any]]:
    policy = get_policy(uow, account_id, arn)
    return [
        _describe_version(policy, version, with_document=False)
        for version in _versions(uow, policy)
    ]


def delete_policy_version(uow: UnitOfWork, account_id: str, arn: str, version_id: str) -> None:
    uow.lock_account(account_id)
    policy = _customer_policy(uow, account_id, arn)
    _version(uow, policy, version_id)
    if version_id == policy.default_version:
        raise DeleteConflict("Cannot delete the default version of a policy.")
    uow.connection.execute(
        delete(policy_versions).where(
            policy_versions.c.policy_id == policy.id, policy_versions.c.version_id == version_id
        )
    )


def set_default_policy_version(uow: UnitOfWork, account_id: str, arn: str, version_id: str) -> None:
    uow.lock_account(account_id)
    policy = _customer_policy(uow, account_id, arn)
    _version(uow, policy, version_id)
    uow.connection.execute(
        update(managed_policies)
        .where(managed_policies.c.id == policy.id)
        .values(default_version=version_id)
    )


# --------------------------------------------------------------------------- attachments


def attach_policy(uow: UnitOfWork, account_id: str, kind: str, name: str, arn: str) -> None:
    """Attach a managed policy to a user / group / role; attaching twice is a no-op."""
    uow.lock_account(account_id)
    entity_kind = ENTITY_KINDS[kind]
    entity = _entity(uow, account_id, kind, name)
    policy = attachable_policy(uow, account_id, arn)
    attached = policy_attachments.c.entity_id == entity.id
    if count(uow, policy_attachments, attached, policy_attachments.c.policy_id == policy.id):
        return
    quota = QUOTAS[entity_kind.quota]
    if count(uow, policy_attachments, attached) >= quota:
        raise LimitExceeded(f"Cannot exceed quota for {entity_kind.quota_name}: {quota}")
    uow.connection.execute(
        insert(policy_attachments).values(
            entity_id=entity.id, policy_id=policy.id, entity_type=entity_kind.label
        )
    )


def detach_policy(uow: UnitOfWork, account_id: str, kind: str, name: str, arn: str) -> None:
    uow.lock_account(account_id)
    entity = _entity(uow, account_id, kind, name)
    policy = find_policy(uow, account_id, arn)
    removed = 0
    if policy is not None:
        removed = uow.connection.execute(
            delete(policy_attachments).where(
                policy_attachments.c.entity_id == entity.id,
                policy_attachments.c.policy_id == policy.id,
            )
        ).rowcount
    if not removed:
        raise NoSuchEntity(f"Policy {arn} was not found.")


def _attached_rows(uow: UnitOfWork, entity_id: str) -> list[Row[Any]]:
    return list(
        uow.connection.execute(
            select(managed_policies)
            .select_from(policy_attachments.join(managed_policies))
            .where(policy_attachments.c.entity_id == entity_id)
            .order_by(managed_policies.c.name_key, managed_policies.c.arn)
        )
    )


def _attached_shape(row: Row[Any]) -> dict[str, str]:
    return {"PolicyName": row.name, "PolicyArn": row.arn}


def list_attached_policies(
    uow: UnitOfWork, account_id: str, kind: str, name: str, path_prefix: str = "/"
) -> list[dict[str, str]]:
    entity = _entity(uow, account_id, kind, name)
    return [
        _attached_shape(row)
        for row in _attached_rows(uow, entity.id)
        if row.path.startswith(path_prefix)
    ]


def list_entities_for_policy(
    uow: UnitOfWork,
    account_id: str,
    arn: str,
    *,
    entity_filter: str | None = None,
    path_prefix: str = "/",
    usage_filter: str | None = None,
) -> list[tuple[str, dict[str, str]]]:
    """(output list, entry) pairs: groups, then users, then roles, each by name."""
    policy = get_policy(uow, account_id, arn)
    wanted = {"Group": "group", "User": "user", "Role": "role"}
    kinds = ["group", "user", "role"]
    if entity_filter is not None:
        kinds = [wanted[entity_filter]] if entity_filter in wanted else []
    keys = {
        "group": ("PolicyGroups", "GroupName", "GroupId"),
        "user": ("PolicyUsers", "UserName", "UserId"),
        "role": ("PolicyRoles", "RoleName", "RoleId"),
    }
    found: list[tuple[str, dict[str, str]]] = []
    for kind in kinds:
        table = ENTITY_KINDS[kind].table
        conditions = []
        if usage_filter in (None, "PermissionsPolicy"):
            conditions.append(
                table.c.id.in_(
                    select(policy_attachments.c.entity_id).where(
                        policy_attachments.c.policy_id == policy.id
                    )
                )
            )
        if usage_filter in (None, "PermissionsBoundary") and kind != "group":
            conditions.append(table.c.boundary_arn == policy.arn)
        if not conditions:
            continue
        rows = uow.connection.execute(
            select(table)
            .where(table.c.account_id == account_id, or_(*conditions))
            .order_by(table.c.name_key)
        )
        list_key, name_key, id_key = keys[kind]
        for row in rows:
            if row.path.startswith(path_prefix):
                found.append((list_key, {name_key: row.name, id_key: row.id}))
    return found


# --------------------------------------------------------------------------- authorization details

DETAIL_KINDS: Final = ("User", "Group", "Role", "LocalManagedPolicy", "AWSManagedPolicy")


@dataclass(frozen=True)
class DetailRef:
    """One item of GetAccountAuthorizationDetails, rendered only when on the page."""

    kind: str  # "user", "group", "role" or "policy"
    row: Row[Any]
    usage: PolicyUsage | None = None


def authorization_detail_refs(
    uow: UnitOfWork, account_id: str, filters: Sequence[str] = ()
) -> list[DetailRef]:
    wanted = set(filters) if filters else set(DETAIL_KINDS)
    connection = uow.connection
    refs: list[DetailRef] = []
    for kind, label in (("user", "User"), ("group", "Group"), ("role", "Role")):
        if label not in wanted:
            continue
        table = ENTITY_KINDS[kind].table
        rows = connection.execute(
            select(table).where(table.c.account_id == account_id).order_by(table.c.name_key)
        )
        refs.extend(DetailRef(kind, row) for row in rows)
    owners = []
    if "LocalManagedPolicy" in wanted:
        owners.append(account_id)
    if "AWSManagedPolicy" in wanted:
        owners.append(AWS_ACCOUNT)
    if owners:
        usage = policy_usage(uow, account_id)
        rows = connection.execute(
            select(managed_policies)
            .where(managed_policies.c.account_id.in_(owners))
            .order_by(managed_policies.c.name_key, managed_policies.c.arn)
        )
        for row in rows:
            in_use = usage.attachment_count(row) or usage.boundary_count(row)
            # Only the AWS managed policies the account uses are part of its details.
            if row.account_id == account_id or in_use:
                refs.append(DetailRef("policy", row, usage))
    return refs


def _inline_list(uow: UnitOfWork, entity_id: str) -> list[dict[str, str]]:
    rows = uow.connection.execute(
        select(inline_policies.c.name, inline_policies.c.document)
        .where(inline_policies.c.entity_id == entity_id)
        .order_by(inline_policies.c.name_key)
    )
    return [
        {"PolicyName": row.name, "PolicyDocument": encode_document(row.document)} for row in rows
    ]


def _render_trust(uow: UnitOfWork, text: str) -> str:
    """The trust document as IAM shows it (principals bound to unique ids rendered back)."""
    try:
        module = importlib.import_module("rolegate.iam.principal_binding")
    except ImportError:
        return text
    render = getattr(module, "render_principals", None)
    if render is None:
        return text
    return str(render(uow, text))


def _entity_common(table: Table, row: Row[Any], prefix: str) -> dict[str, Any]:
    return {
        "Path": row.path,
        f"{prefix}Name": row.name,
        f"{prefix}Id": row.id,
        "Arn": entity_arn(table, row),
        "CreateDate": as_utc(row.created_at),
    }


def render_detail(uow: UnitOfWork, account_id: str, ref: DetailRef) -> tuple[str, dict[str, Any]]:
    """(output list, entry) of one GetAccountAuthorizationDetails item."""
    row = ref.row
    attached = [_attached_shape(policy) for policy in _attached_rows(uow, row.id)]
    if ref.kind == "user":
        shape = _entity_common(users, row, "User")
        inline = _inline_list(uow, row.id)
        if inline:
            shape["UserPolicyList"] = inline
        shape["GroupList"] = list(
            uow.connection.execute(
                select(groups.c.name)
                .select_from(group_members.join(groups))
                .where(group_members.c.user_id == row.id)
                .order_by(groups.c.name_key)
            ).scalars()
        )
        shape["AttachedManagedPolicies"] = attached
        boundary = boundary_shape(row.boundary_arn)
        if boundary is not None:
            shape["PermissionsBoundary"] = boundary
        tags = list_tags(uow, row.id)
        if tags:
            shape["Tags"] = tags
        return "UserDetailList", shape
    if ref.kind == "group":
        shape = _entity_common(groups, row, "Group")
        shape["GroupPolicyList"] = _inline_list(uow, row.id)
        shape["AttachedManagedPolicies"] = attached
        return "GroupDetailList", shape
    if ref.kind == "role":
        shape = _entity_common(roles, row, "Role")
        shape["AssumeRolePolicyDocument"] = encode_document(_render_trust(uow, row.trust_policy))
        shape["InstanceProfileList"] = []
        shape["RolePolicyList"] = _inline_list(uow, row.id)
        shape["AttachedManagedPolicies"] = attached
        boundary = boundary_shape(row.boundary_arn)
        if boundary is not None:
            shape["PermissionsBoundary"] = boundary
        tags = list_tags(uow, row.id)
        if tags:
            shape["Tags"] = tags
        last_used: dict[str, Any] = {}
        if row.last_used_at is not None:
            last_used["LastUsedDate"] = as_utc(row.last_used_at)
            if row.last_used_region:
                last_used["Region"] = row.last_used_region
        shape["RoleLastUsed"] = last_used
        return "RoleDetailList", shape
    usage = ref.usage or policy_usage(uow, account_id)
    shape = describe_policy(uow, row, usage, full=False)
    if row.description:
        shape["Description"] = row.description
    shape["PolicyVersionList"] = [
        _describe_version(row, version, with_document=True) for version in _versions(uow, row)
    ]
    return "Policies", shape
