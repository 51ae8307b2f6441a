"""Console sign-in: passwords (IAM users' login profiles, the root's password), the MFA step,
sign-in rate limits, and console sessions.

A console session is temporary credentials under the hood: a `SessionToken`-kind token sealed
like STS's (carrying the MFA time when a code was given), plus a `console_sessions` row whose
end (sign-out, expiry) makes every copy of the cookie useless on every node. A federated
console session (the federation endpoint) is a role session's token with such a row.

The steps run in their own write transactions (`sign_in_password`, `sign_in_mfa`) and raise a
failure only after the commit: a failed attempt must count even though the step fails.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import insert, select, update

from ..errors import ServiceError
from ..ids import iam_arn, new_unique_id
from ..store.database import Database, UnitOfWork, as_utc
from ..store.schema import accounts, console_sessions, mfa_devices, roles, users
from ..sts.service import mint_session
from ..sts.tokens import KeyRing, SessionClaims
from .accounts import find_account
from .attempts import clear_failures, failure_keys, record_failure, throttled
from .common import find_named
from .login_profiles import check_console_password, find_login_profile, verify_password_hash
from .mfa_devices import user_has_mfa, verify_mfa_code
from .passwords import effective_policy, password_changed_at, password_expired

__all__ = [
    "CHANGE_EXPIRED",
    "CHANGE_RESET",
    "CONSOLE_USER_SESSION_SECONDS",
    "PASSWORD_CHANGE_SECONDS",
    "SIGNIN_FAILED",
    "ConsoleSession",
    "PasswordExpired",
    "SignInFailed",
    "SignInThrottled",
    "VerifiedPassword",
    "account_label",
    "console_session_active",
    "end_console_session",
    "password_change_credentials",
    "sign_in_mfa",
    "sign_in_password",
    "start_console_session",
    "start_federated_session",
    "verify_mfa_step",
    "verify_password_step",
]

CONSOLE_USER_SESSION_SECONDS: Final = 12 * 3600  # AWS: IAM user console sessions, 12 h
PASSWORD_CHANGE_SECONDS: Final = 300
SIGNIN_FAILED: Final = "Your authentication information is incorrect. Please try again."
# Why a user must choose a new password before the session starts.
CHANGE_RESET: Final = "reset"  # the login profile's PasswordResetRequired
CHANGE_EXPIRED: Final = "expired"  # older than the account policy's MaxPasswordAge


class SignInFailed(ServiceError):
    """Any wrong sign-in input: one message, whatever was wrong."""

    code = "SignInFailed"
    http_status = 401

    def __init__(self) -> None:
        super().__init__(SIGNIN_FAILED)


class SignInThrottled(ServiceError):
    code = "Throttling"
    http_status = 429

    def __init__(self) -> None:
        super().__init__("Too many failed sign-in attempts. Wait a few minutes, then try again.")


class PasswordExpired(ServiceError):
    """The password expired and the policy's HardExpiry keeps the user from choosing a new
    one: only an administrator can reset it."""

    code = "PasswordExpired"
    http_status = 403

    def __init__(self) -> None:
        super().__init__(
            "Your password has expired, and this account's password policy requires an "
            "administrator to reset it. Contact your administrator."
        )


@dataclass(frozen=True)
class VerifiedPassword:
    """Who passed the password step, and what must come next."""

    account_id: str
    user_id: str | None  # None: the root user
    user_name: str  # "root" for the root user
    user_path: str
    needs_mfa: bool
    change_reason: str | None = None  # CHANGE_RESET or CHANGE_EXPIRED: a new password first


@dataclass(frozen=True)
class ConsoleSession:
    session_id: str
    claims: SessionClaims
    token: str


def sign_in_password(
    database: Database,
    account: str,
    user_name: str,
    password: str,
    source_ip: str,
    *,
    root: bool = False,
) -> VerifiedPassword:
    """The password step in its own write transaction; a failure is raised AFTER the commit,
    so that it counts."""
    with database.write() as uow:
        outcome = verify_password_step(uow, account, user_name, password, source_ip, root=root)
    if isinstance(outcome, ServiceError):
        raise outcome
    assert isinstance(outcome, VerifiedPassword)
    return outcome


def sign_in_mfa(
    database: Database, verified: VerifiedPassword, code: str, source_ip: str, at: float
) -> float:
    """The MFA step in its own write transaction (failures raised after the commit)."""
    with database.write() as uow:
        outcome = verify_mfa_step(uow, verified, code, source_ip, at)
    if isinstance(outcome, ServiceError):
        raise outcome
    return float(outcome)


def verify_password_step(
    uow: UnitOfWork,
    account: str,
    user_name: str,
    password: str,
    source_ip: str,
    *,
    root: bool = False,
) -> VerifiedPassword | ServiceError:
    """The first sign-in step (write transaction): account id or alias, then the IAM user's
    name and password, or (`root`) the root user's password.

    Returns (never raises, so that the failure count commits) SignInThrottled after too many
    failures for this user or address, SignInFailed for any wrong input (the same message
    whatever was wrong), PasswordExpired for an expired password under HardExpiry. A success
    clears the user's failures (not the address's) and says whether the user must choose a
    new password first.
    """
    account_text = account.strip()
    found = find_account(uow, account_text) if account_text else None
    # The user's failures count under the account id, whether typed as id or alias.
    account_key = found.id if found is not None else account_text
    keys = failure_keys(account_key, "(root)" if root else user_name, source_ip)
    if throttled(uow, keys):
        return SignInThrottled()
    verified: VerifiedPassword | None = None
    if root:
        stored = found.root_password_hash if found is not None else None
        if verify_password_hash(stored, password) and found is not None:
            verified = VerifiedPassword(found.id, None, "root", "/", needs_mfa=False)
    elif found is None:
        verify_password_hash(None, password)  # the same argon2 work as a real check
    elif check_console_password(uow, found.id, user_name, password):
        user = find_named(uow, users, found.id, user_name)
        assert user is not None
        verified = VerifiedPassword(
            found.id,
            user.id,
            user.name,
            user.path,
            needs_mfa=user_has_mfa(uow, user.id),
            change_reason=_change_reason(uow, found.id, user.id),
        )
    if verified is None:
        record_failure(uow, keys)
        return SignInFailed()
    clear_failures(uow, keys[:1])
    expired = verified.change_reason == CHANGE_EXPIRED
    if expired and effective_policy(uow, verified.account_id).hard_expiry:
        return PasswordExpired()
    return verified


def _change_reason(uow: UnitOfWork, account_id: str, user_id: str) -> str | None:
    profile = find_login_profile(uow, user_id)
    if profile is None:
        return None
    if password_expired(effective_policy(uow, account_id), password_changed_at(profile), uow.now):
        return CHANGE_EXPIRED
    return CHANGE_RESET if profile.reset_required else None


def verify_mfa_step(
    uow: UnitOfWork, verified: VerifiedPassword, code: str, source_ip: str, at: float
) -> float | ServiceError:
    """The MFA step (write transaction): a code of one of the user's enabled devices; the
    epoch time it was accepted at. Wrong codes count as sign-in failures (returned, like the
    password step's)."""
    keys = failure_keys(verified.account_id, verified.user_name, source_ip)
    if throttled(uow, keys):
        return SignInThrottled()
    assert verified.user_id is not None
    serials = uow.connection.execute(
        select(mfa_devices.c.serial).where(
            mfa_devices.c.user_id == verified.user_id, mfa_devices.c.enabled_at.is_not(None)
        )
    ).scalars()
    for serial in list(serials):
        if verify_mfa_code(uow, verified.account_id, verified.user_id, serial, code.strip(), at):
            return at
    record_failure(uow, keys)
    return SignInFailed()


def _user_arn(verified: VerifiedPassword) -> str:
    if verified.user_id is None:
        return iam_arn(verified.account_id, "root")
    return iam_arn(verified.account_id, "user", verified.user_path, verified.user_name)


def password_change_credentials(
    keys: KeyRing, verified: VerifiedPassword, *, mfa_at: float | None, now: float
) -> tuple[SessionClaims, str]:
    """Five-minute credentials of the user who passed the password (and MFA) step but must
    choose a new password: the console calls ChangePassword with them, so the API decides as
    for any call by the user (iam:ChangePassword, AllowUsersToChangePassword). No console
    session is recorded: they open no console."""
    assert verified.user_id is not None
    return mint_session(
        keys,
        _user_arn(verified),
        account_id=verified.account_id,
        issued_at=now,
        expires_at=now + PASSWORD_CHANGE_SECONDS,
        kind="SessionToken",
        principal_id=verified.user_id,
        principal_name=verified.user_name,
        principal_path=verified.user_path,
        mfa_authenticated_at=mfa_at,
    )


def start_console_session(
    uow: UnitOfWork,
    keys: KeyRing,
    verified: VerifiedPassword,
    *,
    mfa_at: float | None,
    duration: int = CONSOLE_USER_SESSION_SECONDS,
) -> ConsoleSession:
    """Mint the session's credentials and record the session (write transaction)."""
    now = uow.now.timestamp()
    principal_id = verified.user_id or verified.account_id
    claims, token = mint_session(
        keys,
        _user_arn(verified),
        account_id=verified.account_id,
        issued_at=now,
        expires_at=now + duration,
        kind="SessionToken",
        principal_id=principal_id,
        principal_name=verified.user_name,
        principal_path=verified.user_path,
        mfa_authenticated_at=mfa_at,
    )
    return ConsoleSession(
        _record_session(uow, verified.account_id, principal_id, duration), claims, token
    )


def _record_session(uow: UnitOfWork, account_id: str, principal_id: str, duration: int) -> str:
    session_id = new_unique_id("CS", 32)
    uow.connection.execute(
        insert(console_sessions).values(
            id=session_id,
            account_id=account_id,
            principal_id=principal_id,
            created_at=uow.now,
            expires_at=uow.now + timedelta(seconds=duration),
        )
    )
    return session_id


_RENEWED: Final = frozenset({"access_key_id", "secret_access_key", "caller_arn"})


def start_federated_session(
    uow: UnitOfWork, keys: KeyRing, role: SessionClaims, *, duration: int
) -> ConsoleSession:
    """A console session AS a role session (the federation endpoint's login): new role
    session credentials with the same claims (session name, tags, session policies, MFA
    time, source identity) lasting `duration` seconds from now, and the session's row.

    There is no user behind it to switch roles from or go back to. Returns the session;
    raises ServiceError when the role no longer exists (write transaction).
    """
    exists = uow.connection.execute(
        select(roles.c.id).where(
            roles.c.id == role.principal_id, roles.c.account_id == role.account_id
        )
    ).first()
    if exists is None:
        raise ServiceError(
            "The role of these credentials no longer exists.",
            code="InvalidCredentials",
            http_status=400,
        )
    now = uow.now.timestamp()
    claims: dict[str, Any] = {
        field.name: getattr(role, field.name)
        for field in fields(SessionClaims)
        if field.name not in _RENEWED
    }
    claims.update(issued_at=now, expires_at=now + duration)
    minted, token = mint_session(keys, role.caller_arn, **claims)
    return ConsoleSession(
        _record_session(uow, role.account_id, role.principal_id, duration), minted, token
    )


def console_session_active(uow: UnitOfWork, session_id: str) -> bool:
    row = uow.connection.execute(
        select(console_sessions.c.expires_at, console_sessions.c.ended_at).where(
            console_sessions.c.id == session_id
        )
    ).first()
    return row is not None and row.ended_at is None and as_utc(row.expires_at) > uow.now


def end_console_session(uow: UnitOfWork, session_id: str) -> None:
    uow.connection.execute(
        update(console_sessions)
        .where(console_sessions.c.id == session_id, console_sessions.c.ended_at.is_(None))
        .values(ended_at=uow.now)
    )


def account_label(uow: UnitOfWork, account_id: str) -> str:
    """The account's alias, else its id (the navigation bar's `user @ account`)."""
    alias = uow.connection.execute(
        select(accounts.c.alias).where(accounts.c.id == account_id)
    ).scalar()
    return str(alias) if alias else account_id
