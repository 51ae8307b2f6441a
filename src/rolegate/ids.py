"""Identifiers AWS-style: unique ids, access keys, secrets, ARNs."""

from __future__ import annotations

import base64
import os
import secrets
import threading
from typing import Final

__all__ = [
    "ACCESS_KEY_PREFIX",
    "GROUP_ID_PREFIX",
    "POLICY_ID_PREFIX",
    "ROLE_ID_PREFIX",
    "TEMPORARY_KEY_PREFIX",
    "USER_ID_PREFIX",
    "iam_arn",
    "new_account_id",
    "new_secret_access_key",
    "new_unique_id",
    "random_bytes",
    "request_id",
]

USER_ID_PREFIX: Final = "AIDA"
GROUP_ID_PREFIX: Final = "AGPA"
ROLE_ID_PREFIX: Final = "AROA"
POLICY_ID_PREFIX: Final = "ANPA"
ACCESS_KEY_PREFIX: Final = "AKIA"
TEMPORARY_KEY_PREFIX: Final = "ASIA"

_ID_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class _RandomPool:
    """Bytes from the kernel's CSPRNG, read `SIZE` at a time and each handed out once: an
    AssumeRole drew five small `getrandom` calls (request id, key id, secret, token nonce),
    ~5 % of its server CPU (each syscall costs several microseconds inside the server, far
    more than in a loop). A forked child starts with an empty pool, never its parent's."""

    SIZE: Final = 4096

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._taken = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            start = self._taken
            if start + count > len(self._pool):
                self._pool, start = os.urandom(max(self.SIZE, count)), 0
            self._taken = start + count
            return self._pool[start : start + count]


random_bytes: Final = _RandomPool().take  # random_bytes(n): n bytes for keys, ids, nonces


def new_unique_id(prefix: str, length: int = 21) -> str:
    """`AIDA...`-style id: the prefix then random base32 characters, 21 characters in all.

    Each character is 5 uniform random bits: base32 of random bytes (its alphabet is
    `_ID_ALPHABET`), one call instead of a `secrets.choice` per character (~5x faster)."""
    count = length - len(prefix)
    random_text = base64.b32encode(random_bytes((count * 5 + 7) // 8 + 5)).decode()
    return prefix + random_text[:count]


def new_secret_access_key() -> str:
    """40 characters of `_SECRET_ALPHABET` (base64's): 30 random bytes, base64-encoded."""
    return base64.b64encode(random_bytes(30)).decode()


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def request_id() -> str:
    raw = random_bytes(16).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def iam_arn(account_id: str, kind: str, path: str = "/", name: str = "") -> str:
    """`arn:aws:iam::A:kind/path/name`; `kind` is user, group, role, policy, mfa or root."""
    if kind == "root":
        return f"arn:aws:iam::{account_id}:root"
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"
