"""Accounts: creation with a root access key, aliases, the root password, the account summary."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import EntityAlreadyExists, NoSuchEntity, ValidationError
from ..ids import ACCESS_KEY_PREFIX, new_account_id, new_secret_access_key, new_unique_id
from ..store.database import UnitOfWork
from ..store.schema import (
    access_keys,
    accounts,
    groups,
    inline_policies,
    managed_policies,
    mfa_devices,
    policy_versions,
    roles,
    users,
)
from .common import QUOTAS, count
from .passwords import check_root_password, hash_password

__all__ = [
    "NewAccount",
    "account_summary",
    "create_account",
    "create_account_alias",
    "delete_account_alias",
    "find_account",
    "list_account_aliases",
    "list_accounts",
    "set_root_password",
]

_ALIAS: Final = re.compile(r"^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
_ACCOUNT_ID: Final = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class NewAccount:
    account_id: str
    alias: str | None
    access_key_id: str
    secret_access_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "AccountId": self.account_id,
            "Alias": self.alias,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
        }


def _check_alias(alias: str) -> None:
    if not _ALIAS.match(alias) or alias.isdigit():
        raise ValidationError(
            f"The specified value for accountAlias is invalid: {alias!r}. It must contain only "
            "lowercase letters, digits and hyphens, start and end with a letter or digit, "
            "and be 3 to 63 characters long."
        )


def find_account(uow: UnitOfWork, id_or_alias: str) -> Any:
    """The account row by 12-digit id or by alias, or None."""
    column = accounts.c.id if _ACCOUNT_ID.match(id_or_alias) else accounts.c.alias
    return uow.connection.execute(select(accounts).where(column == id_or_alias)).first()


def create_account(uow: UnitOfWork, alias: str | None, account_id: str | None = None) -> NewAccount:
    """Create an account and its root access key."""
    if alias is not None:
        _check_alias(alias)
    if account_id is not None and not _ACCOUNT_ID.match(account_id):
        raise ValidationError(f"Account id must be 12 digits, not {account_id!r}.")
    for _ in range(8):
        candidate = account_id or new_account_id()
        if find_account(uow, candidate) is None:
            break
        if account_id is not None:
            raise EntityAlreadyExists(f"Account {account_id} already exists.")
    if alias is not None and find_account(uow, alias) is not None:
        raise EntityAlreadyExists(f"The account alias {alias} already exists.")
    connection = uow.connection
    try:
        connection.execute(
            insert(accounts).values(id=candidate, alias=alias, generation=0, created_at=uow.now)
        )
    except IntegrityError as error:
        raise EntityAlreadyExists(
            f"Account {candidate} or alias {alias} already exists."
        ) from error
    key_id = new_unique_id(ACCESS_KEY_PREFIX, 20)
    secret = new_secret_access_key()
    connection.execute(
        insert(access_keys).values(
            id=key_id,
            account_id=candidate,
            user_id=None,
            secret=secret,
            status="Active",
            created_at=uow.now,
        )
    )
    return NewAccount(candidate, alias, key_id, secret)


def set_root_password(uow: UnitOfWork, id_or_alias: str, password: str) -> str:
    """Set the root user's console password (AWS's root rules, not the account policy);
    returns the account id."""
    row = find_account(uow, id_or_alias)
    if row is None:
        raise NoSuchEntity(f"The account {id_or_alias} cannot be found.")
    check_root_password(password)
    uow.lock_account(row.id)
    uow.connection.execute(
        update(accounts)
        .where(accounts.c.id == row.id)
        .values(root_password_hash=hash_password(password))
    )
    return str(row.id)


def list_accounts(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.connection.execute(select(accounts).order_by(accounts.c.created_at, accounts.c.id))
    return [
        {"AccountId": row.id, "Alias": row.alias, "CreatedAt": row.created_at.isoformat()}
        for row in rows
    ]


def create_account_alias(uow: UnitOfWork, account_id: str, alias: str) -> None:
    """An account has one alias: a new one replaces the old; aliases are globally unique."""
    _check_alias(alias)
    uow.lock_account(account_id)
    owner = find_account(uow, alias)
    if owner is not None:
        if owner.id == account_id:
            return
        raise EntityAlreadyExists(f"The account alias {alias} already exists.")
    uow.connection.execute(update(accounts).where(accounts.c.id == account_id).values(alias=alias))


def delete_account_alias(uow: UnitOfWork, account_id: str, alias: str) -> None:
    uow.lock_account(account_id)
    row = uow.connection.execute(select(accounts).where(accounts.c.id == account_id)).one()
    if row.alias != alias:
        raise NoSuchEntity(f"The account alias {alias} cannot be found.")
    uow.connection.execute(update(accounts).where(accounts.c.id == account_id).values(alias=None))


def list_account_aliases(uow: UnitOfWork, account_id: str) -> list[str]:
    row = uow.connection.execute(select(accounts.c.alias).where(accounts.c.id == account_id)).one()
    return [row.alias] if row.alias else []


def account_summary(uow: UnitOfWork, account_id: str) -> dict[str, int]:
    """GetAccountSummary's SummaryMap: usage counts and quotas."""
    mine = account_id
    root_keys = count(
        uow, access_keys, access_keys.c.account_id == mine, access_keys.c.user_id.is_(None)
    )
    user_ids = users.select().with_only_columns(users.c.id).where(users.c.account_id == mine)
    group_ids = groups.select().with_only_columns(groups.c.id).where(groups.c.account_id == mine)
    role_ids = roles.select().with_only_columns(roles.c.id).where(roles.c.account_id == mine)
    policy_ids = (
        managed_policies.select()
        .with_only_columns(managed_policies.c.id)
        .where(managed_policies.c.account_id == mine)
    )
    return {
        "Users": count(uow, users, users.c.account_id == mine),
        "UsersQuota": 5000,
        "Groups": count(uow, groups, groups.c.account_id == mine),
        "GroupsQuota": 300,
        "Roles": count(uow, roles, roles.c.account_id == mine),
        "RolesQuota": 1000,
        "Policies": count(uow, managed_policies, managed_policies.c.account_id == mine),
        "PoliciesQuota": 1500,
        "PolicyVersionsInUse": count(
            uow, policy_versions, policy_versions.c.policy_id.in_(policy_ids)
        ),
        "PolicyVersionsInUseQuota": 10000,
        "VersionsPerPolicyQuota": QUOTAS["PolicyVersionsInUse"],
        "UserPolicies": count(uow, inline_policies, inline_policies.c.entity_id.in_(user_ids)),
        "GroupPolicies": count(uow, inline_policies, inline_policies.c.entity_id.in_(group_ids)),
        "RolePolicies": count(uow, inline_policies, inline_policies.c.entity_id.in_(role_ids)),
        "AccessKeysPerUserQuota": QUOTAS["AccessKeysPerUser"],
        "AccountAccessKeysPresent": 1 if root_keys else 0,
        "AccountMFAEnabled": 1
        if count(
            uow,
            mfa_devices,
            mfa_devices.c.account_id == mine,
            mfa_devices.c.user_id.is_(None),
            mfa_devices.c.enabled_at.is_not(None),
        )
        else 0,
        "MFADevices": count(uow, mfa_devices, mfa_devices.c.account_id == mine),
        "MFADevicesInUse": count(
            uow,
            mfa_devices,
            mfa_devices.c.account_id == mine,
            mfa_devices.c.enabled_at.is_not(None),
        ),
        "GroupsPerUserQuota": QUOTAS["GroupsPerUser"],
        "AttachedPoliciesPerUserQuota": QUOTAS["AttachedPoliciesPerUser"],
        "AttachedPoliciesPerGroupQuota": QUOTAS["AttachedPoliciesPerGroup"],
        "AttachedPoliciesPerRoleQuota": QUOTAS["AttachedPoliciesPerRole"],
        "UserPolicySizeQuota": QUOTAS["UserPolicySize"],
        "GroupPolicySizeQuota": QUOTAS["GroupPolicySize"],
        "RolePolicySizeQuota": QUOTAS["RolePolicySize"],
        "PolicySizeQuota": QUOTAS["PolicySize"],
        "AssumeRolePolicySizeQuota": QUOTAS["AssumeRolePolicySizePerRole"],
        "ServerCertificates": 0,
        "ServerCertificatesQuota": 20,
        "Providers": 0,
        "InstanceProfiles": 0,
        "InstanceProfilesQuota": 1000,
        "SigningCertificatesPerUserQuota": 2,
        "GlobalEndpointTokenVersion": 1,
    }
