"""Identifiers AWS-style: unique ids, access keys, secrets, ARNs."""

from __future__ import annotations

import base64
import secrets
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


def new_unique_id(prefix: str, length: int = 21) -> str:
    """`AIDA...`-style id: the prefix then random base32 characters, 21 characters in all.

    Each character is 5 uniform random bits: base32 of random bytes (its alphabet is
    `_ID_ALPHABET`), one call instead of a `secrets.choice` per character (~5x faster)."""
    count = length - len(prefix)
    random_text = base64.b32encode(secrets.token_bytes((count * 5 + 7) // 8 + 5)).decode()
    return prefix + random_text[:count]


def new_secret_access_key() -> str:
    """40 characters of `_SECRET_ALPHABET` (base64's): 30 random bytes, base64-encoded."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def request_id() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def iam_arn(account_id: str, kind: str, path: str = "/", name: str = "") -> str:
    """`arn:aws:iam::A:kind/path/name`; `kind` is user, group, role, policy, mfa or root."""
    if kind == "root":
        return f"arn:aws:iam::{account_id}:root"
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"
