"""Token keys kept in the store, optionally wrapped by a master key from the environment.

`ROLEGATE_MASTER_KEY` (base64 of 32 bytes), when set, wraps every stored key with
AES-256-GCM; without it keys are stored as they are (the store is then the secret). Keys get
ids; the newest active key seals new tokens, every known key opens them. Rotation
(`rotate_token_keys`, `rolegate keys rotate`) adds a key and retires the others from sealing;
a retired key keeps opening tokens until the longest token it may have sealed has expired
(counted from its successor's creation), then the next rotation deletes it. Running nodes
pick the new key up without a restart: a key ring reloads the store when it meets an unknown
key id, and re-reads its keys every `ROLEGATE_TOKEN_KEY_RELOAD_SECONDS` (30 s).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, insert, select, update

from ..store.database import Database, UnitOfWork, as_utc
from ..store.schema import token_keys

__all__ = [
    "LONGEST_TOKEN_SECONDS",
    "MASTER_KEY_ENV",
    "RELOAD_ENV",
    "KeyRotation",
    "StoreKeyRing",
    "create_token_key",
    "list_token_keys",
    "rotate_token_keys",
]

MASTER_KEY_ENV: Final = "ROLEGATE_MASTER_KEY"
RELOAD_ENV: Final = "ROLEGATE_TOKEN_KEY_RELOAD_SECONDS"
_RELOAD_SECONDS: Final = 30.0
# GetSessionToken's longest session (36 h): no token a key sealed outlives its retirement by more.
LONGEST_TOKEN_SECONDS: Final = 129600
_WRAP_AAD: Final = b"rolegate-token-key"


def _master_key() -> bytes | None:
    raw = os.environ.get(MASTER_KEY_ENV)
    if not raw:
        return None
    key = base64.b64decode(raw)
    if len(key) != 32:
        raise ValueError(f"{MASTER_KEY_ENV} must be base64 of 32 bytes")
    return key


def _wrap(key: bytes, master: bytes | None) -> str:
    if master is None:
        return "plain:" + base64.b64encode(key).decode()
    nonce = os.urandom(12)
    sealed = AESGCM(master).encrypt(nonce, key, _WRAP_AAD)
    return "wrapped:" + base64.b64encode(nonce + sealed).decode()


def _unwrap(stored: str, master: bytes | None) -> bytes:
    scheme, _, payload = stored.partition(":")
    raw = base64.b64decode(payload)
    if scheme == "plain":
        return raw
    if master is None:
        raise ValueError(f"token keys are wrapped: set {MASTER_KEY_ENV}")
    return AESGCM(master).decrypt(raw[:12], raw[12:], _WRAP_AAD)


def create_token_key(uow: UnitOfWork) -> str:
    """Add a new active key (it seals new tokens from now on); returns its id."""
    key_id = "k" + secrets.token_hex(4)
    uow.connection.execute(
        insert(token_keys).values(
            id=key_id,
            material=_wrap(secrets.token_bytes(32), _master_key()),
            created_at=uow.now,
            active=True,
        )
    )
    return key_id


def _keys_oldest_first(uow: UnitOfWork) -> list[Any]:
    query = select(token_keys).order_by(token_keys.c.created_at, token_keys.c.id)
    return list(uow.connection.execute(query))


@dataclass(frozen=True)
class KeyRotation:
    """What a rotation did: the new current key, the keys it retired and those it deleted."""

    current: str
    retired: tuple[str, ...]
    deleted: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "CurrentKeyId": self.current,
            "Retired": [*self.retired],
            "Deleted": [*self.deleted],
        }


def rotate_token_keys(uow: UnitOfWork) -> KeyRotation:
    """Add a new current key; the others stop sealing and keep opening until every token they
    may have sealed has expired, after which they are deleted."""
    rows = _keys_oldest_first(uow)
    retired = tuple(row.id for row in rows if row.active)
    uow.connection.execute(update(token_keys).where(token_keys.c.active).values(active=False))
    current = create_token_key(uow)
    # A key sealed tokens until its successor was created: at the latest, when the first key
    # created after it was (keys created in the same instant count as created together).
    horizon = uow.now - timedelta(seconds=LONGEST_TOKEN_SECONDS)
    created = [as_utc(row.created_at) for row in rows]
    expired = tuple(
        row.id
        for row, moment in zip(rows, created, strict=True)
        if (later := bisect_right(created, moment)) < len(created) and created[later] <= horizon
    )
    if expired:
        uow.connection.execute(delete(token_keys).where(token_keys.c.id.in_(expired)))
    return KeyRotation(current, retired, expired)


def list_token_keys(uow: UnitOfWork) -> list[dict[str, Any]]:
    """The stored keys, oldest first (ids, state and creation time; never the material)."""
    rows = _keys_oldest_first(uow)
    return [
        {
            "KeyId": row.id,
            "Status": "Current" if row.active else "Retired",
            "CreatedAt": _iso(as_utc(row.created_at)),
        }
        for row in rows
    ]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _reload_seconds() -> float:
    raw = os.environ.get(RELOAD_ENV)
    return float(raw) if raw else _RELOAD_SECONDS


class StoreKeyRing:
    """The store's keys, cached in memory, reloaded when an unknown id shows up and every
    `reload_seconds` (so a rotation reaches running nodes)."""

    def __init__(self, database: Database, reload_seconds: float | None = None) -> None:
        self._database = database
        self._reload_seconds = _reload_seconds() if reload_seconds is None else reload_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        self._current: tuple[str, bytes] | None = None
        self._loaded_at = 0.0

    def _load(self) -> None:
        master = _master_key()
        with self._database.read() as uow:
            rows = _keys_oldest_first(uow)
        if not any(row.active for row in rows):
            with self._database.write() as uow:
                create_token_key(uow)
            self._load()
            return
        keys = {row.id: _unwrap(row.material, master) for row in rows}
        newest = [row for row in rows if row.active][-1]
        with self._lock:
            self._keys = keys
            self._current = (newest.id, keys[newest.id])
            self._loaded_at = time.monotonic()

    def _stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._reload_seconds

    def current(self) -> tuple[str, bytes]:
        if self._current is None or self._stale():
            self._load()
        assert self._current is not None
        return self._current

    def get(self, key_id: str) -> bytes | None:
        """The key with this id; a deleted key stops opening within the reload interval."""
        key = self._keys.get(key_id)
        if key is None or self._stale():
            self._load()
            key = self._keys.get(key_id)
        return key
