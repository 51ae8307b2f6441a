"""Console passwords: argon2id hashing, the account password policy
(Get/Update/DeleteAccountPasswordPolicy) and what it rules (strength, reuse, expiry, users
changing their own password), ChangePassword, and the root user's password rules.

With no policy set, AWS's default applies: 8 characters at least, and not the account's id or
alias. (AWS's default also asks for three of the four character kinds; rolegate does not
enforce that part, so that existing clients' passwords keep working.) A custom policy applies
to every new password (CreateLoginProfile, UpdateLoginProfile, ChangePassword); its expiry
applies at once to existing passwords. The policy never applies to the root user.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row, delete, insert, select, update

from ..errors import AccessDenied, LimitExceeded, NoSuchEntity, ServiceError, ValidationError
from ..policy import Decision, DenyReason, Effect
from ..store.database import UnitOfWork, as_utc
from ..store.schema import accounts, login_profiles, password_policies, users
from .attempts import clear_failures, failure_keys, record_failure, throttled

__all__ = [
    "DEFAULT_POLICY",
    "MAX_REUSE_PREVENTION",
    "PASSWORD_REUSED",
    "POLICY_VIOLATION",
    "SYMBOLS",
    "InvalidUserType",
    "PasswordPolicy",
    "PasswordPolicyViolation",
    "change_password",
    "check_password_rules",
    "check_root_password",
    "delete_account_password_policy",
    "dummy_hash",
    "effective_policy",
    "get_account_password_policy",
    "hash_password",
    "needs_rehash",
    "new_password_values",
    "password_changed_at",
    "password_expired",
    "requirements",
    "self_service_allowed",
    "update_account_password_policy",
    "verify_password_hash",
]

SYMBOLS: Final = frozenset("!@#$%^&*()_+-=[]{}|'")
MAX_REUSE_PREVENTION: Final = 24
POLICY_VIOLATION: Final = "Password does not conform to the account password policy."
PASSWORD_REUSED: Final = (
    "Policy constraint violation with password reuse prevention during password change."
)
OLD_PASSWORD_INCORRECT: Final = "The old password is incorrect."
_TOO_MANY_ATTEMPTS: Final = "Too many failed password attempts. Wait a few minutes, then try again."
# UpdateAccountPasswordPolicy without MinimumPasswordLength (botocore's model: "the default
# value of 6"); AWS's default policy, when no policy is set, asks for 8.
_UPDATE_DEFAULT_MINIMUM_LENGTH: Final = 6

_HASHER: Final = PasswordHasher()


class PasswordPolicyViolation(ServiceError):
    code = "PasswordPolicyViolation"
    http_status = 400


class InvalidUserType(ServiceError):
    code = "InvalidUserType"
    http_status = 400


# -- hashing -------------------------------------------------------------------------------


@cache
def dummy_hash() -> str:
    """Verified against when the user or its profile is missing, so a failed sign-in costs
    the same argon2 work whether or not the user exists."""
    return _HASHER.hash("rolegate: no such login profile")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password_hash(stored: str | None, password: str) -> bool:
    """True when `password` matches the argon2 hash `stored`; with no hash, still one
    verification (against a dummy), so timing tells nothing."""
    try:
        _HASHER.verify(stored or dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


# -- the policy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordPolicy:
    minimum_length: int = 8
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase: bool = False
    require_lowercase: bool = False
    allow_users_to_change: bool = False
    max_age_days: int | None = None
    reuse_prevention: int | None = None
    hard_expiry: bool = False
    custom: bool = False  # False: no policy is set, AWS's default applies

    def shape(self) -> dict[str, Any]:
        """GetAccountPasswordPolicy's `PasswordPolicy`."""
        shape: dict[str, Any] = {
            "MinimumPasswordLength": self.minimum_length,
            "RequireSymbols": self.require_symbols,
            "RequireNumbers": self.require_numbers,
            "RequireUppercaseCharacters": self.require_uppercase,
            "RequireLowercaseCharacters": self.require_lowercase,
            "AllowUsersToChangePassword": self.allow_users_to_change,
            "ExpirePasswords": bool(self.max_age_days),
        }
        if self.max_age_days:
            shape["MaxPasswordAge"] = self.max_age_days
        if self.reuse_prevention:
            shape["PasswordReusePrevention"] = self.reuse_prevention
        shape["HardExpiry"] = self.hard_expiry
        return shape


DEFAULT_POLICY: Final = PasswordPolicy()


def _policy_row(uow: UnitOfWork, account_id: str) -> Row[Any] | None:
    return uow.connection.execute(
        select(password_policies).where(password_policies.c.account_id == account_id)
    ).first()


def effective_policy(uow: UnitOfWork, account_id: str) -> PasswordPolicy:
    """The account's policy, or AWS's default when none is set."""
    row = _policy_row(uow, account_id)
    if row is None:
        return DEFAULT_POLICY
    return PasswordPolicy(
        minimum_length=row.minimum_length,
        require_symbols=bool(row.require_symbols),
        require_numbers=bool(row.require_numbers),
        require_uppercase=bool(row.require_uppercase),
        require_lowercase=bool(row.require_lowercase),
        allow_users_to_change=bool(row.allow_users_to_change),
        max_age_days=row.max_age_days or None,
        reuse_prevention=row.reuse_prevention or None,
        hard_expiry=bool(row.hard_expiry),
        custom=True,
    )


def _no_policy(account_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Password Policy with domain name {account_id} cannot be found.")


def get_account_password_policy(uow: UnitOfWork, account_id: str) -> dict[str, Any]:
    policy = effective_policy(uow, account_id)
    if not policy.custom:
        raise _no_policy(account_id)
    return policy.shape()


def _bounded(params: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    number = int(value)
    if not low <= number <= high:
        raise ValidationError(
            f"1 validation error detected: Value '{number}' at '{name[0].lower() + name[1:]}' "
            f"failed to satisfy constraint: Member must have value between {low} and {high}"
        )
    return number


def update_account_password_policy(
    uow: UnitOfWork, account_id: str, params: Mapping[str, Any]
) -> None:
    """Set the whole policy: every parameter left out takes its default (no partial update)."""
    minimum = _bounded(params, "MinimumPasswordLength", 6, 128)
    max_age = _bounded(params, "MaxPasswordAge", 1, 1095)
    reuse = _bounded(params, "PasswordReusePrevention", 1, MAX_REUSE_PREVENTION)
    values = {
        "minimum_length": minimum if minimum is not None else _UPDATE_DEFAULT_MINIMUM_LENGTH,
        "require_symbols": bool(params.get("RequireSymbols", False)),
        "require_numbers": bool(params.get("RequireNumbers", False)),
        "require_uppercase": bool(params.get("RequireUppercaseCharacters", False)),
        "require_lowercase": bool(params.get("RequireLowercaseCharacters", False)),
        "allow_users_to_change": bool(params.get("AllowUsersToChangePassword", False)),
        "max_age_days": max_age,
        "reuse_prevention": reuse,
        "hard_expiry": bool(params.get("HardExpiry", False)),
    }
    uow.lock_account(account_id)
    if _policy_row(uow, account_id) is None:
        uow.connection.execute(insert(password_policies).values(account_id=account_id, **values))
    else:
        uow.connection.execute(
            update(password_policies)
            .where(password_policies.c.account_id == account_id)
            .values(**values)
        )


def delete_account_password_policy(uow: UnitOfWork, account_id: str) -> None:
    uow.lock_account(account_id)
    if _policy_row(uow, account_id) is None:
        raise _no_policy(account_id)
    uow.connection.execute(
        delete(password_policies).where(password_policies.c.account_id == account_id)
    )


def requirements(policy: PasswordPolicy) -> list[str]:
    """What a new password needs, in words (the console shows them)."""
    needs = [f"at least {policy.minimum_length} characters"]
    if policy.require_uppercase:
        needs.append("an uppercase letter (A-Z)")
    if policy.require_lowercase:
        needs.append("a lowercase letter (a-z)")
    if policy.require_numbers:
        needs.append("a number (0-9)")
    if policy.require_symbols:
        needs.append("a symbol: " + " ".join(sorted(SYMBOLS)))
    if not policy.custom:
        needs.append("not your account's id or alias")
    if policy.reuse_prevention:
        needs.append(f"none of your last {policy.reuse_prevention} passwords")
    return needs


def _account_names(uow: UnitOfWork, account_id: str) -> set[str]:
    alias = uow.connection.execute(
        select(accounts.c.alias).where(accounts.c.id == account_id)
    ).scalar()
    return {account_id, str(alias).lower()} if alias else {account_id}


def check_password_rules(
    uow: UnitOfWork, account_id: str, policy: PasswordPolicy, password: str
) -> None:
    """Length and character kinds (PasswordPolicyViolation with AWS's message)."""
    ok = len(password) >= policy.minimum_length
    if policy.require_uppercase:
        ok = ok and any("A" <= ch <= "Z" for ch in password)
    if policy.require_lowercase:
        ok = ok and any("a" <= ch <= "z" for ch in password)
    if policy.require_numbers:
        ok = ok and any("0" <= ch <= "9" for ch in password)
    if policy.require_symbols:
        ok = ok and any(ch in SYMBOLS for ch in password)
    if not policy.custom:
        # AWS's default policy: at least three of uppercase, lowercase, numbers and symbols,
        # and not the account's name.
        kinds = _character_kinds(password, lambda ch: ch in SYMBOLS)
        ok = ok and kinds >= 3 and password.lower() not in _account_names(uow, account_id)
    if not ok:
        raise PasswordPolicyViolation(POLICY_VIOLATION)


def _character_kinds(password: str, is_symbol: Callable[[str], bool]) -> int:
    """How many of uppercase, lowercase, numbers and symbols the password has."""
    return sum(
        (
            any("A" <= ch <= "Z" for ch in password),
            any("a" <= ch <= "z" for ch in password),
            any("0" <= ch <= "9" for ch in password),
            any(is_symbol(ch) for ch in password),
        )
    )


def check_root_password(password: str) -> None:
    """The root user's password (AWS's rules for it, not the account policy): 8 to 128
    characters with at least three of uppercase, lowercase, numbers and symbols."""
    kinds = _character_kinds(password, lambda ch: not ch.isalnum())
    if not 8 <= len(password) <= 128 or kinds < 3:
        raise PasswordPolicyViolation(
            "The root user's password must be 8 to 128 characters long and contain at least "
            "three of: uppercase letters, lowercase letters, numbers, symbols."
        )


def _previous_hashes(profile: Row[Any]) -> list[str]:
    try:
        found = json.loads(profile.previous_hashes or "[]")
    except ValueError:
        return []
    return [str(item) for item in found] if isinstance(found, list) else []


def new_password_values(
    uow: UnitOfWork, account_id: str, profile: Row[Any], password: str, policy: PasswordPolicy
) -> dict[str, Any]:
    """The login profile's new column values for `password` after the policy's checks
    (strength, then reuse of the current or previous passwords)."""
    check_password_rules(uow, account_id, policy, password)
    history = [profile.password_hash, *_previous_hashes(profile)]
    if policy.reuse_prevention and any(
        verify_password_hash(stored, password) for stored in history[: policy.reuse_prevention]
    ):
        raise PasswordPolicyViolation(PASSWORD_REUSED)
    return {
        "password_hash": hash_password(password),
        "previous_hashes": json.dumps(history[: MAX_REUSE_PREVENTION - 1]),
        "password_changed_at": uow.now,
    }


# -- expiry --------------------------------------------------------------------------------


def password_changed_at(profile: Row[Any]) -> datetime:
    return as_utc(profile.password_changed_at or profile.created_at)


def password_expired(policy: PasswordPolicy, changed_at: datetime, now: datetime) -> bool:
    return bool(policy.max_age_days) and now >= changed_at + timedelta(
        days=policy.max_age_days or 0
    )


# -- users changing their own password -----------------------------------------------------


def self_service_allowed(policy: PasswordPolicy, decision: Decision) -> bool:
    """Whether AllowUsersToChangePassword lets a user do what `decision` refused
    (iam:ChangePassword on their own user, iam:GetAccountPasswordPolicy).

    AWS applies that permission "at the account level": it stands in for an identity-based
    allow, so an explicit deny, a permissions boundary or a session policy still refuse.
    """
    return (
        policy.custom
        and policy.allow_users_to_change
        and decision.effect is Effect.IMPLICIT_DENY
        and decision.reasons == (DenyReason.NO_IDENTITY_ALLOW,)
    )


def _find_profile(uow: UnitOfWork, user_id: str) -> Row[Any] | None:
    return uow.connection.execute(
        select(login_profiles).where(login_profiles.c.user_id == user_id)
    ).first()


def change_password(
    uow: UnitOfWork,
    account_id: str,
    user_id: str,
    old_password: str,
    new_password: str,
    source_ip: str,
) -> ServiceError | None:
    """ChangePassword for the calling user, already authorized (write transaction).

    A wrong old password counts as a failed password attempt, like a wrong sign-in; it is
    RETURNED (AccessDenied), not raised, so that the count commits with the transaction.
    Too many failures: LimitExceeded. Success clears PasswordResetRequired and restarts the
    password's age.
    """
    uow.lock_account(account_id)
    user = uow.connection.execute(select(users).where(users.c.id == user_id)).first()
    if user is None:
        raise NoSuchEntity(f"The user with id {user_id} cannot be found.")
    # The user's key only: the caller is authenticated, and an address's count would let one
    # user's mistakes lock out everyone calling from the same address.
    keys = failure_keys(account_id, user.name, source_ip)[:1]
    if throttled(uow, keys):
        raise LimitExceeded(_TOO_MANY_ATTEMPTS)
    profile = _find_profile(uow, user.id)
    if profile is None:
        raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")
    if not verify_password_hash(profile.password_hash, old_password):
        record_failure(uow, keys)
        return AccessDenied(OLD_PASSWORD_INCORRECT)
    values = new_password_values(
        uow, account_id, profile, new_password, effective_policy(uow, account_id)
    )
    uow.connection.execute(
        update(login_profiles)
        .where(login_profiles.c.user_id == user.id)
        .values(reset_required=False, **values)
    )
    clear_failures(uow, keys)
    return None
