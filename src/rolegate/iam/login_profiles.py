"""Login profiles: the console passwords of IAM users (argon2id hashes, never the password).

Every new password goes through the account password policy (`passwords`): strength, reuse of
previous passwords, and the time it was set (for MaxPasswordAge).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Row, delete, insert, select, update

from ..errors import EntityAlreadyExists, NoSuchEntity
from ..store.database import UnitOfWork, as_utc
from ..store.schema import login_profiles, users
from .common import find_named, get_user
from .passwords import (
    DEFAULT_POLICY,
    PasswordPolicyViolation,
    check_password_rules,
    dummy_hash,
    effective_policy,
    hash_password,
    needs_rehash,
    new_password_values,
    verify_password_hash,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PasswordPolicyViolation",
    "check_console_password",
    "check_password_policy",
    "create_login_profile",
    "delete_login_profile",
    "find_login_profile",
    "get_login_profile",
    "hash_password",
    "update_login_profile",
    "verify_password_hash",
]

MIN_PASSWORD_LENGTH: Final = DEFAULT_POLICY.minimum_length
"""The default account password policy's minimum length (no policy set)."""


def check_password_policy(uow: UnitOfWork, account_id: str, password: str) -> None:
    """The account policy's strength rules (PasswordPolicyViolation)."""
    check_password_rules(uow, account_id, effective_policy(uow, account_id), password)


def _profile_shape(user_name: str, row: Row[Any]) -> dict[str, Any]:
    return {
        "UserName": user_name,
        "CreateDate": as_utc(row.created_at),
        "PasswordResetRequired": bool(row.reset_required),
    }


def find_login_profile(uow: UnitOfWork, user_id: str) -> Row[Any] | None:
    return uow.connection.execute(
        select(login_profiles).where(login_profiles.c.user_id == user_id)
    ).first()


def _require_profile(uow: UnitOfWork, user: Row[Any]) -> Row[Any]:
    row = find_login_profile(uow, user.id)
    if row is None:
        raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")
    return row


def create_login_profile(
    uow: UnitOfWork,
    account_id: str,
    user_name: str,
    password: str,
    *,
    reset_required: bool = False,
) -> dict[str, Any]:
    """Give the user a console password; return the `LoginProfile` shape."""
    uow.lock_account(account_id)
    user = get_user(uow, account_id, user_name)
    if find_login_profile(uow, user.id) is not None:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
    check_password_policy(uow, account_id, password)
    uow.connection.execute(
        insert(login_profiles).values(
            user_id=user.id,
            password_hash=hash_password(password),
            reset_required=reset_required,
            created_at=uow.now,
            password_changed_at=uow.now,
        )
    )
    return {"UserName": user.name, "CreateDate": uow.now, "PasswordResetRequired": reset_required}


def get_login_profile(uow: UnitOfWork, account_id: str, user_name: str) -> dict[str, Any]:
    user = get_user(uow, account_id, user_name)
    return _profile_shape(user.name, _require_profile(uow, user))


def update_login_profile(
    uow: UnitOfWork,
    account_id: str,
    user_name: str,
    *,
    password: str | None = None,
    reset_required: bool | None = None,
) -> None:
    uow.lock_account(account_id)
    user = get_user(uow, account_id, user_name)
    profile = _require_profile(uow, user)
    values: dict[str, Any] = {}
    if password is not None:
        values.update(
            new_password_values(
                uow, account_id, profile, password, effective_policy(uow, account_id)
            )
        )
    if reset_required is not None:
        values["reset_required"] = reset_required
    if values:
        uow.connection.execute(
            update(login_profiles).where(login_profiles.c.user_id == user.id).values(**values)
        )


def delete_login_profile(uow: UnitOfWork, account_id: str, user_name: str) -> None:
    uow.lock_account(account_id)
    user = get_user(uow, account_id, user_name)
    _require_profile(uow, user)
    uow.connection.execute(delete(login_profiles).where(login_profiles.c.user_id == user.id))


def check_console_password(uow: UnitOfWork, account_id: str, user_name: str, password: str) -> bool:
    """True when the user exists, has a login profile and `password` is its password.

    On success the user's PasswordLastUsed is set to now (and an outdated hash is upgraded).
    A missing user or profile still costs one argon2 verification, so timing does not tell
    which user names exist. Runs in a write transaction.
    """
    uow.lock_account(account_id)
    user = find_named(uow, users, account_id, user_name)
    profile = find_login_profile(uow, user.id) if user is not None else None
    stored = profile.password_hash if profile is not None else dummy_hash()
    if not verify_password_hash(stored, password) or user is None or profile is None:
        return False
    connection = uow.connection
    connection.execute(
        update(users).where(users.c.id == user.id).values(password_last_used=uow.now)
    )
    if needs_rehash(stored):
        connection.execute(
            update(login_profiles)
            .where(login_profiles.c.user_id == user.id)
            .values(password_hash=hash_password(password))
        )
    return True
