"""Console sign-in: passwords (IAM users' login profiles, the root's password), the MFA step,
sign-in rate limits, and console sessions.

A console session is temporary credentials under the hood: a `SessionToken`-kind token sealed
like STS's (carrying the MFA time when a code was given), plus a `console_sessions` row whose
end (sign-out, expiry) makes every copy of the cookie useless on every node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete, insert, select, update

from ..errors import ServiceError
from ..ids import iam_arn, new_unique_id
from ..store.database import UnitOfWork, as_utc
from ..store.schema import accounts, console_sessions, mfa_devices, signin_failures, users
from ..sts.service import mint_session
from ..sts.tokens import KeyRing, SessionClaims
from .accounts import find_account
from .common import find_named
from .login_profiles import check_console_password, verify_password_hash
from .mfa_devices import user_has_mfa, verify_mfa_code

__all__ = [
    "CONSOLE_USER_SESSION_SECONDS",
    "SIGNIN_FAILED",
    "ConsoleSession",
    "SignInFailed",
    "SignInThrottled",
    "VerifiedPassword",
    "account_label",
    "console_session_active",
    "end_console_session",
    "session_expiry",
    "start_console_session",
    "verify_mfa_step",
    "verify_password_step",
]

CONSOLE_USER_SESSION_SECONDS: Final = 12 * 3600  # AWS: IAM user console sessions, 12 h
SIGNIN_FAILED: Final = "Your authentication information is incorrect. Please try again."
# Per user name and per client address: this many failures in the window, then a wait.
MAX_FAILURES: Final = 5
FAILURE_WINDOW: Final = timedelta(minutes=5)


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
        super().__init__(
            "Too many failed sign-in attempts. Wait a few minutes, then try again."
        )


@dataclass(frozen=True)
class VerifiedPassword:
    """Who passed the password step, and what must come next."""

    account_id: str
    user_id: str | None  # None: the root user
    user_name: str  # "root" for the root user
    user_path: str
    needs_mfa: bool


@dataclass(frozen=True)
class ConsoleSession:
    session_id: str
    claims: SessionClaims
    token: str


def _failure_keys(account_key: str, user_name: str, source_ip: str) -> list[str]:
    return [f"user:{account_key.lower()}:{user_name.lower()}"[:300], f"ip:{source_ip}"[:300]]


def _throttled(uow: UnitOfWork, keys: list[str]) -> bool:
    since = uow.now - FAILURE_WINDOW
    rows = uow.connection.execute(
        select(signin_failures.c.window_start, signin_failures.c.failures).where(
            signin_failures.c.key.in_(keys)
        )
    )
    return any(as_utc(row.window_start) > since and row.failures >= MAX_FAILURES for row in rows)


def _record_failure(uow: UnitOfWork, keys: list[str]) -> None:
    since = uow.now - FAILURE_WINDOW
    for key in keys:
        row = uow.connection.execute(
            select(signin_failures.c.window_start).where(signin_failures.c.key == key)
        ).first()
        if row is None:
            uow.connection.execute(
                insert(signin_failures).values(key=key, window_start=uow.now, failures=1)
            )
        elif as_utc(row.window_start) <= since:
            uow.connection.execute(
                update(signin_failures)
                .where(signin_failures.c.key == key)
                .values(window_start=uow.now, failures=1)
            )
        else:
            uow.connection.execute(
                update(signin_failures)
                .where(signin_failures.c.key == key)
                .values(failures=signin_failures.c.failures + 1)
            )


def verify_password_step(
    uow: UnitOfWork,
    account: str,
    user_name: str,
    password: str,
    source_ip: str,
    *,
    root: bool = False,
) -> VerifiedPassword:
    """The first sign-in step (write transaction): account id or alias, then the IAM user's
    name and password, or (`root`) the root user's password.

    Raises SignInThrottled after too many failures for this user name or address, and
    SignInFailed for any wrong input (the same message whatever was wrong). A success clears
    the user name's failures (not the address's).
    """
    keys = _failure_keys(account, "(root)" if root else user_name, source_ip)
    if _throttled(uow, keys):
        raise SignInThrottled()
    found = find_account(uow, account.strip()) if account.strip() else None
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
            found.id, user.id, user.name, user.path, needs_mfa=user_has_mfa(uow, user.id)
        )
    if verified is None:
        _record_failure(uow, keys)
        raise SignInFailed()
    uow.connection.execute(delete(signin_failures).where(signin_failures.c.key.in_(keys[:1])))
    return verified


def verify_mfa_step(
    uow: UnitOfWork, verified: VerifiedPassword, code: str, source_ip: str, at: float
) -> float:
    """The MFA step (write transaction): a code of one of the user's enabled devices; the
    epoch time it was accepted at. Wrong codes count as sign-in failures."""
    keys = _failure_keys(verified.account_id, verified.user_name, source_ip)
    if _throttled(uow, keys):
        raise SignInThrottled()
    assert verified.user_id is not None
    serials = uow.connection.execute(
        select(mfa_devices.c.serial).where(
            mfa_devices.c.user_id == verified.user_id, mfa_devices.c.enabled_at.is_not(None)
        )
    ).scalars()
    for serial in list(serials):
        if verify_mfa_code(uow, verified.account_id, verified.user_id, serial, code.strip(), at):
            return at
    _record_failure(uow, keys)
    raise SignInFailed()


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
    arn = (
        iam_arn(verified.account_id, "root")
        if verified.user_id is None
        else iam_arn(verified.account_id, "user", verified.user_path, verified.user_name)
    )
    claims, token = mint_session(
        keys,
        arn,
        account_id=verified.account_id,
        issued_at=now,
        expires_at=now + duration,
        kind="SessionToken",
        principal_id=principal_id,
        principal_name=verified.user_name,
        principal_path=verified.user_path,
        mfa_authenticated_at=mfa_at,
    )
    session_id = new_unique_id("CS", 32)
    uow.connection.execute(
        insert(console_sessions).values(
            id=session_id,
            account_id=verified.account_id,
            principal_id=principal_id,
            created_at=uow.now,
            expires_at=uow.now + timedelta(seconds=duration),
        )
    )
    return ConsoleSession(session_id, claims, token)


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


def session_expiry(claims: SessionClaims) -> datetime:
    return datetime.fromtimestamp(claims.expires_at, tz=UTC)
