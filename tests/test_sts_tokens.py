"""Session tokens: AEAD sealing with key ids, rotation, master-key wrapping, tamper refusal."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from rolegate.store.database import Database, default_sqlite_url
from rolegate.store.schema import token_keys
from rolegate.sts.keyring import MASTER_KEY_ENV, StoreKeyRing, create_token_key
from rolegate.sts.tokens import (
    SessionClaims,
    TokenError,
    open_message,
    open_token,
    seal_message,
    seal_token,
)


class FixedKeys:
    def __init__(self) -> None:
        self.keys = {"k1": os.urandom(32)}
        self.current_id = "k1"

    def current(self) -> tuple[str, bytes]:
        return self.current_id, self.keys[self.current_id]

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)


CLAIMS = SessionClaims(
    access_key_id="ASIAEXAMPLEEXAMPLE00",
    secret_access_key="s" * 40,
    account_id="444455556666",
    issued_at=1_700_000_000.0,
    expires_at=1_700_003_600.0,
    kind="AssumedRole",
    principal_id="AROAEXAMPLEEXAMPLE001",
    principal_name="UpdateApp",
    session_name="alice",
    mfa_authenticated_at=1_700_000_000.0,
    source_identity="alice",
    tags={"project": "apollo"},
    transitive_tag_keys=("project",),
    session_policy='{"Version":"2012-10-17","Statement":[]}',
    policy_arns=("arn:aws:iam::444455556666:policy/p",),
    chained=True,
    caller_arn="arn:aws:iam::111122223333:user/alice",
)


def test_round_trip_keeps_every_claim() -> None:
    keys = FixedKeys()
    token = seal_token(CLAIMS, keys)
    assert open_token(token, keys) == CLAIMS
    assert len(token) < 700


def test_every_altered_character_is_refused() -> None:
    keys = FixedKeys()
    token = seal_token(CLAIMS, keys)
    for position in range(0, len(token), 7):
        replacement = "A" if token[position] != "A" else "B"
        altered = token[:position] + replacement + token[position + 1 :]
        with pytest.raises(TokenError):
            open_token(altered, keys)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_garbage_is_refused_not_crashed(garbage: str) -> None:
    with pytest.raises(TokenError):
        open_token(garbage, FixedKeys())


def test_foreign_key_and_rotation() -> None:
    keys = FixedKeys()
    old_token = seal_token(CLAIMS, keys)
    keys.keys["k2"] = os.urandom(32)
    keys.current_id = "k2"
    new_token = seal_token(CLAIMS, keys)
    assert open_token(old_token, keys) == CLAIMS  # old key still opens
    assert open_token(new_token, keys) == CLAIMS
    del keys.keys["k1"]  # retired
    with pytest.raises(TokenError):
        open_token(old_token, keys)
    with pytest.raises(TokenError):
        open_token(new_token, FixedKeys())  # another deployment's keys


def test_messages_are_sealed_separately_from_tokens() -> None:
    keys = FixedKeys()
    message = seal_message({"allowed": False}, keys)
    assert open_message(message, keys) == '{"allowed":false}'
    with pytest.raises(TokenError):
        open_token(message, keys)
    with pytest.raises(TokenError):
        open_message(seal_token(CLAIMS, keys), keys)


def _database(tmp_path: Path) -> Database:
    database = Database(default_sqlite_url(tmp_path))
    database.migrate()
    return database


def test_store_key_ring_creates_rotates_and_reloads(tmp_path: Path) -> None:
    database = _database(tmp_path)
    ring = StoreKeyRing(database)
    first_id, _ = ring.current()
    token = seal_token(CLAIMS, ring)
    with database.write() as uow:
        uow.connection.execute(update(token_keys).values(active=False))
        second_id = create_token_key(uow)
    other_node = StoreKeyRing(database)
    assert other_node.current()[0] == second_id != first_id
    assert open_token(token, other_node) == CLAIMS
    assert open_token(seal_token(CLAIMS, other_node), ring) == CLAIMS  # ring reloads unknown ids
    database.dispose()


def test_master_key_wraps_stored_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    master = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv(MASTER_KEY_ENV, master)
    database = _database(tmp_path)
    ring = StoreKeyRing(database)
    token = seal_token(CLAIMS, ring)
    with database.read() as uow:
        stored = uow.connection.execute(select(token_keys.c.material)).scalars().all()
    assert stored and all(value.startswith("wrapped:") for value in stored)
    assert open_token(token, StoreKeyRing(database)) == CLAIMS
    monkeypatch.setenv(MASTER_KEY_ENV, base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(InvalidTag):  # the wrong master key cannot unwrap
        StoreKeyRing(database).current()
    monkeypatch.delenv(MASTER_KEY_ENV)
    with pytest.raises(ValueError):
        StoreKeyRing(database).current()
    database.dispose()


def test_generated_ids_and_secrets_keep_their_alphabets_and_lengths() -> None:
    from rolegate.ids import _ID_ALPHABET, _SECRET_ALPHABET, new_secret_access_key, new_unique_id

    for _ in range(500):
        for prefix, length in (("AIDA", 21), ("ASIA", 20), ("CS", 32), ("AKIA", 20)):
            made = new_unique_id(prefix, length)
            assert len(made) == length and made.startswith(prefix)
            assert set(made[len(prefix) :]) <= set(_ID_ALPHABET)
        secret = new_secret_access_key()
        assert len(secret) == 40 and set(secret) <= set(_SECRET_ALPHABET)
    # Every character of the alphabet turns up: the draw is not confined to a corner of it.
    seen = "".join(new_unique_id("", 32) for _ in range(200))
    assert set(seen) == set(_ID_ALPHABET)


def test_random_bytes_are_never_handed_out_twice_and_a_forked_child_has_its_own() -> None:
    import os

    from rolegate.ids import random_bytes

    seen = {random_bytes(16) for _ in range(1000)}  # crosses several pool refills
    assert len(seen) == 1000 and all(len(chunk) == 16 for chunk in seen)
    assert len(random_bytes(10_000)) == 10_000
    if not hasattr(os, "fork"):
        return
    read, write = os.pipe()
    parent_next = None
    pid = os.fork()
    if pid == 0:  # the child: what it draws next must differ from what the parent draws
        os.close(read)
        os.write(write, random_bytes(16))
        os._exit(0)
    os.close(write)
    parent_next = random_bytes(16)
    child_next = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert child_next != parent_next
