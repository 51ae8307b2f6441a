"""Self-contained session tokens: claims sealed with AES-256-GCM under a key id.

A token is `base64url(b"RG1" | key-id length | key id | 12-byte nonce | ciphertext)`, the
ciphertext being the zlib-compressed JSON claims sealed with the key named by the key id
(associated data: the header), so a node validates a token with the key ring alone and keys
rotate by id. The claims carry the temporary secret access key: a request signed with the
temporary credentials is verified with the secret found inside its own token.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Final, Protocol

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..ids import random_bytes

__all__ = [
    "CONSOLE_MAGIC",
    "MESSAGE_MAGIC",
    "TOKEN_MAGIC",
    "KeyRing",
    "SessionClaims",
    "TokenError",
    "deflate_small",
    "open_console_state",
    "open_message",
    "open_token",
    "seal_console_state",
    "seal_message",
    "seal_token",
]

TOKEN_MAGIC: Final = b"RG1"
_NONCE_BYTES: Final = 12


class TokenError(ValueError):
    """The token is not one of ours, was altered, or was sealed with an unknown key."""


class KeyRing(Protocol):
    def current(self) -> tuple[str, bytes]:
        """(key id, 32-byte key) to seal new tokens with."""
        ...

    def get(self, key_id: str) -> bytes | None:
        """The key with this id, or None when unknown (retired or foreign)."""
        ...


@dataclass(frozen=True)
class SessionClaims:
    """What a session token asserts. Times are epoch seconds."""

    access_key_id: str
    secret_access_key: str
    account_id: str
    issued_at: float
    expires_at: float
    kind: str  # "AssumedRole" or "SessionToken" (GetSessionToken: the user's own permissions)
    principal_id: str  # role id (AROA...) or user id (AIDA...)
    principal_name: str  # role name or user name
    principal_path: str = "/"
    session_name: str = ""
    mfa_authenticated_at: float | None = None
    source_identity: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    session_policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    chained: bool = False
    caller_arn: str = ""

    def to_json(self) -> bytes:
        # Every token minted and every request signed with one goes through these two:
        # dataclasses.asdict and the frozen __init__ cost ~40 us of a ~45 us round trip.
        data = dict(self.__dict__)
        data["tags"] = dict(self.tags)
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, raw: bytes) -> SessionClaims:
        """The claims `to_json` wrote (ValueError / TypeError when they are not)."""
        data = orjson.loads(raw)
        if type(data) is not dict:
            raise TypeError("claims are not an object")
        unknown = data.keys() - _CLAIM_FIELDS
        if unknown:
            raise TypeError(f"unknown claims: {sorted(unknown)}")
        values = {**_CLAIM_DEFAULTS, **data}
        missing = _CLAIM_FIELDS - values.keys()
        if missing:
            raise TypeError(f"missing claims: {sorted(missing)}")
        values["tags"] = dict(values["tags"])
        values["transitive_tag_keys"] = tuple(values["transitive_tag_keys"])
        values["policy_arns"] = tuple(values["policy_arns"])
        claims = object.__new__(cls)
        claims.__dict__.update(values)
        return claims


_CLAIM_FIELDS: Final = frozenset(item.name for item in fields(SessionClaims))
_CLAIM_DEFAULTS: Final[dict[str, Any]] = {
    item.name: item.default for item in fields(SessionClaims) if item.default is not MISSING
} | {"tags": {}}


MESSAGE_MAGIC: Final = b"RGM"
CONSOLE_MAGIC: Final = b"RGC"  # console cookies: never a token or a message


def _header(magic: bytes, key_id: str) -> bytes:
    encoded = key_id.encode()
    if not 0 < len(encoded) < 256:
        raise ValueError("key id must be 1-255 bytes")
    return magic + bytes([len(encoded)]) + encoded


def deflate_small(payload: bytes) -> bytes:
    """zlib data of a payload of a few KiB at most, as small as `zlib.compress(payload, 9)`'s.

    A 4 KiB window and a small hash table: the default compressor sets up ~256 KiB of state
    per call, ~70 us for a 500-byte token's claims (measured: 13 us this way). Any zlib
    decompressor reads it (the window size is in its header)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 12, 4)
    return packer.compress(payload) + packer.flush()


_CIPHERS: dict[bytes, AESGCM] = {}


def _cipher(key: bytes) -> AESGCM:
    """The AES-GCM context of a token key, made once per key (a key ring holds a few)."""
    cipher = _CIPHERS.get(key)
    if cipher is None:
        if len(_CIPHERS) >= 64:
            _CIPHERS.clear()
        cipher = _CIPHERS[key] = AESGCM(key)
    return cipher


def _seal(payload: bytes, magic: bytes, keys: KeyRing) -> str:
    key_id, key = keys.current()
    header = _header(magic, key_id)
    nonce = random_bytes(_NONCE_BYTES)
    sealed = _cipher(key).encrypt(nonce, deflate_small(payload), header)
    return base64.urlsafe_b64encode(header + nonce + sealed).decode().rstrip("=")


def _open(text: str, magic: bytes, keys: KeyRing) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise TokenError("not base64") from error
    if len(raw) < len(magic) + 2 or not raw.startswith(magic):
        raise TokenError("not a rolegate token")
    id_end = len(magic) + 1 + raw[len(magic)]
    header = raw[:id_end]
    key = keys.get(header[len(magic) + 1 :].decode("utf-8", "replace"))
    if key is None:
        raise TokenError("sealed with an unknown key")
    nonce, sealed = raw[id_end : id_end + _NONCE_BYTES], raw[id_end + _NONCE_BYTES :]
    if len(nonce) != _NONCE_BYTES:
        raise TokenError("truncated")
    try:
        return zlib.decompress(_cipher(key).decrypt(nonce, sealed, header))
    except (InvalidTag, zlib.error, ValueError) as error:
        raise TokenError("altered or malformed") from error


def seal_token(claims: SessionClaims, keys: KeyRing) -> str:
    return _seal(claims.to_json(), TOKEN_MAGIC, keys)


def open_token(token: str, keys: KeyRing) -> SessionClaims:
    """The claims of a token sealed by this key ring; TokenError otherwise."""
    plain = _open(token, TOKEN_MAGIC, keys)
    try:
        return SessionClaims.from_json(plain)
    except (ValueError, TypeError, KeyError) as error:
        raise TokenError("malformed claims") from error


def seal_message(details: Mapping[str, Any], keys: KeyRing) -> str:
    """An encoded authorization-failure message (DecodeAuthorizationMessage opens it)."""
    return _seal(json.dumps(details, separators=(",", ":")).encode(), MESSAGE_MAGIC, keys)


def open_message(encoded: str, keys: KeyRing) -> str:
    return _open(encoded, MESSAGE_MAGIC, keys).decode()


def seal_console_state(state: Mapping[str, Any], keys: KeyRing) -> str:
    """A console cookie's value: the JSON state sealed like a token, with its own magic."""
    return _seal(json.dumps(state, separators=(",", ":")).encode(), CONSOLE_MAGIC, keys)


def open_console_state(text: str, keys: KeyRing) -> dict[str, Any]:
    try:
        state = json.loads(_open(text, CONSOLE_MAGIC, keys))
    except ValueError as error:  # TokenError is a ValueError too
        raise TokenError("malformed console state") from error
    if not isinstance(state, dict):
        raise TokenError("malformed console state")
    return state
