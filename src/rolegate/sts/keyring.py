"""Token keys kept in the store, optionally wrapped by a master key from the environment.

`ROLEGATE_MASTER_KEY` (base64 of 32 bytes), when set, wraps every stored key with
AES-256-GCM; without it keys are stored as they are (the store is then the secret). Keys get
ids; the newest active key seals new tokens, every known key opens them, so rotation is:
add a key, and retire the old one once the longest session it sealed has expired.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
from typing import Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select

from ..store.database import Database, UnitOfWork
from ..store.schema import token_keys

__all__ = ["MASTER_KEY_ENV", "StoreKeyRing", "create_token_key"]

MASTER_KEY_ENV: Final = "ROLEGATE_MASTER_KEY"
_RELOAD_SECONDS: Final = 30.0
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


class StoreKeyRing:
    """The store's keys, cached in memory and reloaded when an unknown id shows up."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        self._current: tuple[str, bytes] | None = None
        self._loaded_at = 0.0

    def _load(self) -> None:
        master = _master_key()
        with self._database.read() as uow:
            rows = list(
                uow.connection.execute(
                    select(token_keys).order_by(token_keys.c.created_at, token_keys.c.id)
                )
            )
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

    def current(self) -> tuple[str, bytes]:
        if self._current is None or time.monotonic() - self._loaded_at > _RELOAD_SECONDS:
            self._load()
        assert self._current is not None
        return self._current

    def get(self, key_id: str) -> bytes | None:
        key = self._keys.get(key_id)
        if key is None:
            self._load()
            key = self._keys.get(key_id)
        return key
