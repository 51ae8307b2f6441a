"""Long-term access keys (AKIA...) of IAM users and of account roots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from ..errors import LimitExceeded, NoSuchEntity
from ..ids import ACCESS_KEY_PREFIX, new_secret_access_key, new_unique_id
from ..store.database import UnitOfWork, as_utc
from ..store.driver import DriverStatement
from ..store.schema import access_keys, accounts, users
from .common import QUOTAS, count

__all__ = [
    "KeyOwner",
    "create_access_key",
    "delete_access_key",
    "find_key_owner",
    "key_last_used",
    "list_access_keys",
    "record_key_use",
    "update_access_key",
]


@dataclass(frozen=True)
class KeyOwner:
    """Who an access key belongs to, as authentication needs it (one query)."""

    access_key_id: str
    secret: str
    active: bool
    account_id: str
    generation: int
    user_id: str | None
    user_name: str | None
    user_path: str | None


_KEY_OWNER = DriverStatement(  # once per request: straight on the driver
    select(
        access_keys.c.id,
        access_keys.c.secret,
        access_keys.c.status,
        access_keys.c.account_id,
        accounts.c.generation,
        access_keys.c.user_id,
        users.c.name,
        users.c.path,
    )
    .select_from(
        access_keys.join(accounts, access_keys.c.account_id == accounts.c.id).outerjoin(
            users, access_keys.c.user_id == users.c.id
        )
    )
    .where(access_keys.c.id == bindparam("key_id"))
)


def find_key_owner(uow: UnitOfWork, access_key_id: str) -> KeyOwner | None:
    found = _KEY_OWNER.rows(uow.connection, {"key_id": access_key_id})
    if not found:
        return None
    key_id, secret, status, account_id, generation, user_id, name, path = found[0]
    return KeyOwner(
        key_id, secret, status == "Active", account_id, int(generation), user_id, name, path
    )


def _owner_clause(account_id: str, user_id: str | None) -> Any:
    if user_id is None:
        return (access_keys.c.account_id == account_id) & access_keys.c.user_id.is_(None)
    return access_keys.c.user_id == user_id


def create_access_key(
    uow: UnitOfWork, account_id: str, user_id: str | None, user_name: str | None
) -> dict[str, Any]:
    uow.lock_account(account_id)
    quota = QUOTAS["AccessKeysPerUser"]
    if count(uow, access_keys, _owner_clause(account_id, user_id)) >= quota:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {quota}")
    key_id = new_unique_id(ACCESS_KEY_PREFIX, 20)
    secret = new_secret_access_key()
    uow.connection.execute(
        insert(access_keys).values(
            id=key_id,
            account_id=account_id,
            user_id=user_id,
            secret=secret,
            status="Active",
            created_at=uow.now,
        )
    )
    shape: dict[str, Any] = {
        "AccessKeyId": key_id,
        "SecretAccessKey": secret,
        "Status": "Active",
        "CreateDate": uow.now,
    }
    if user_name is not None:
        shape["UserName"] = user_name
    return shape


def _owned_key(uow: UnitOfWork, account_id: str, user_id: str | None, key_id: str) -> Any:
    row = uow.connection.execute(
        select(access_keys).where(access_keys.c.id == key_id, _owner_clause(account_id, user_id))
    ).first()
    if row is None:
        raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
    return row


def update_access_key(
    uow: UnitOfWork, account_id: str, user_id: str | None, key_id: str, status: str
) -> None:
    uow.lock_account(account_id)
    _owned_key(uow, account_id, user_id, key_id)
    uow.connection.execute(
        update(access_keys).where(access_keys.c.id == key_id).values(status=status)
    )


def delete_access_key(uow: UnitOfWork, account_id: str, user_id: str | None, key_id: str) -> None:
    uow.lock_account(account_id)
    _owned_key(uow, account_id, user_id, key_id)
    uow.connection.execute(delete(access_keys).where(access_keys.c.id == key_id))


def list_access_keys(
    uow: UnitOfWork, account_id: str, user_id: str | None, user_name: str | None
) -> list[dict[str, Any]]:
    rows = uow.connection.execute(
        select(access_keys)
        .where(_owner_clause(account_id, user_id))
        .order_by(access_keys.c.created_at, access_keys.c.id)
    )
    result = []
    for row in rows:
        shape: dict[str, Any] = {
            "AccessKeyId": row.id,
            "Status": row.status,
            "CreateDate": as_utc(row.created_at),
        }
        if user_name is not None:
            shape["UserName"] = user_name
        result.append(shape)
    return result


def key_last_used(
    uow: UnitOfWork, account_id: str, key_id: str
) -> tuple[str | None, dict[str, Any]]:
    """(owner user name, AccessKeyLastUsed shape) of a key in the account."""
    row = uow.connection.execute(
        select(access_keys, users.c.name.label("user_name"))
        .select_from(access_keys.outerjoin(users, access_keys.c.user_id == users.c.id))
        .where(access_keys.c.id == key_id, access_keys.c.account_id == account_id)
    ).first()
    if row is None:
        raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
    if row.last_used_at is None:
        used: dict[str, Any] = {"ServiceName": "N/A", "Region": "N/A"}
    else:
        used = {
            "LastUsedDate": as_utc(row.last_used_at),
            "ServiceName": row.last_used_service or "N/A",
            "Region": row.last_used_region or "N/A",
        }
    return row.user_name, used


def record_key_use(uow: UnitOfWork, key_id: str, service: str, region: str) -> None:
    uow.connection.execute(
        update(access_keys)
        .where(access_keys.c.id == key_id)
        .values(last_used_at=uow.now, last_used_service=service, last_used_region=region)
    )
