"""Failed password attempts (console sign-in, MFA codes, ChangePassword's old password), counted
per key in a window in the store, so every node sees the same counts.

Keys are `user:<account id>:<user name>` and `ip:<client address>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from sqlalchemy import delete, insert, select, update

from ..store.database import UnitOfWork, as_utc
from ..store.schema import signin_failures

__all__ = [
    "FAILURE_WINDOW",
    "MAX_FAILURES",
    "clear_failures",
    "failure_keys",
    "record_failure",
    "throttled",
]

# Per user name and per client address: this many failures in the window, then a wait.
MAX_FAILURES: Final = 5
FAILURE_WINDOW: Final = timedelta(minutes=5)
_KEY_LENGTH: Final = 300


def failure_keys(account_key: str, user_name: str, source_ip: str) -> list[str]:
    """[the user's key, the address's key]."""
    return [
        f"user:{account_key.lower()}:{user_name.lower()}"[:_KEY_LENGTH],
        f"ip:{source_ip}"[:_KEY_LENGTH],
    ]


def throttled(uow: UnitOfWork, keys: Sequence[str]) -> bool:
    since = uow.now - FAILURE_WINDOW
    rows = uow.connection.execute(
        select(signin_failures.c.window_start, signin_failures.c.failures).where(
            signin_failures.c.key.in_(list(keys))
        )
    )
    return any(as_utc(row.window_start) > since and row.failures >= MAX_FAILURES for row in rows)


def record_failure(uow: UnitOfWork, keys: Sequence[str]) -> None:
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


def clear_failures(uow: UnitOfWork, keys: Sequence[str]) -> None:
    uow.connection.execute(delete(signin_failures).where(signin_failures.c.key.in_(list(keys))))
