"""Reliability (issue 13), small and fast: the scenarios of bench/reliability.py, run short.

kill -9 under a mixed write load then restart (2 rounds on SQLite, 1 on PostgreSQL), a
10-second fixed-rate soak, and token key rotation with live sessions on two nodes of one
PostgreSQL store, expiry included (the nodes' business clocks are moved).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from click.testing import CliRunner

from rolegate.cli import main
from rolegate.clock import ManualClock
from rolegate.store.database import Database, default_sqlite_url
from rolegate.sts.keyring import (
    LONGEST_TOKEN_SECONDS,
    RELOAD_ENV,
    StoreKeyRing,
    list_token_keys,
    rotate_token_keys,
)
from support.postgres import PostgresCluster

from .server import RunningServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from reliability_kill9 import run_kill9
from reliability_rotation import assume
from reliability_soak import run_soak
from reliability_world import Store, World, client, provision, token_key_id


def _postgres_store(cluster: PostgresCluster, tmp_path: Path, name: str) -> Store:
    url = cluster.create_database(f"rolegate_{name}_{uuid.uuid4().hex[:10]}")
    return Store("postgresql", tmp_path / "data", url)


def test_kill_9_during_writes_loses_no_acknowledged_write_on_sqlite(tmp_path: Path) -> None:
    report = run_kill9(
        Store("sqlite", tmp_path / "data"), rounds=2, threads=3, load_seconds=(0.2, 1.5)
    )
    assert report.ok, report.problems
    assert report.rounds == 2 and report.acknowledged > 20
    assert report.checked["sqlite integrity checks"] == 2
    assert report.checked["objects read"] > 0 and report.checked["policies"] > 0


def test_kill_9_during_writes_loses_no_acknowledged_write_on_postgresql(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    store = _postgres_store(postgres_cluster, tmp_path, "kill9")
    report = run_kill9(store, rounds=1, threads=3, load_seconds=(0.2, 1.5))
    assert report.ok, report.problems
    assert report.acknowledged > 10 and report.checked["foreign-key checks"] == 1


def test_short_soak_has_no_error_and_flat_memory(tmp_path: Path) -> None:
    report = run_soak(
        Store("sqlite", tmp_path / "data"), seconds=10, rate=20, interval_seconds=2, threads=4
    )
    assert sum(report.errors) == 0, report.error_samples
    assert len(report.rss_mib) == 5 and sum(report.requests) >= 150
    assert report.ok, (report.rss_mib, report.growth_mib)


# ---------------------------------------------------------------------------- key rotation


def test_rotation_retires_then_deletes_keys_once_their_tokens_expired(tmp_path: Path) -> None:
    clock = ManualClock()
    database = Database(default_sqlite_url(tmp_path), clock=clock)
    database.migrate()
    ring = StoreKeyRing(database, reload_seconds=0)
    first, _ = ring.current()
    clock.advance(1)
    with database.write() as uow:
        second = rotate_token_keys(uow)
    assert (second.retired, second.deleted) == ((first,), ())
    assert ring.current()[0] == second.current and ring.get(first) is not None
    clock.advance(LONGEST_TOKEN_SECONDS - 1)  # first may still have sealed a live token
    with database.write() as uow:
        third = rotate_token_keys(uow)
    assert (third.retired, third.deleted) == ((second.current,), ())
    clock.advance(1)  # every token first sealed has expired; second's are still live
    with database.write() as uow:
        fourth = rotate_token_keys(uow)
        listed = list_token_keys(uow)
    assert (fourth.retired, fourth.deleted) == ((third.current,), (first,))
    assert [(entry["KeyId"], entry["Status"]) for entry in listed] == [
        (second.current, "Retired"),
        (third.current, "Retired"),
        (fourth.current, "Current"),
    ]
    assert ring.get(first) is None and ring.get(second.current) is not None
    database.dispose()


@pytest.fixture
def two_nodes(
    postgres_cluster: PostgresCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningServer, RunningServer, Store]]:
    """Two servers on one PostgreSQL store: `a` re-reads its current key every 0.2 s, `b`
    only hourly (it learns of a rotation from the first token with the new key id)."""
    store = _postgres_store(postgres_cluster, tmp_path, "rotation")
    assert store.db_url is not None
    monkeypatch.setenv(RELOAD_ENV, "0.2")
    a = RunningServer(store.db_url, tmp_path / "s3").start()
    monkeypatch.setenv(RELOAD_ENV, "3600")
    b = RunningServer(store.db_url, tmp_path / "s3").start()
    yield a, b, store
    a.stop()
    b.stop()


def _identity(url: str, session: dict[str, str]) -> str:
    arn: str = client(url, "sts", session).get_caller_identity()["Arn"]
    return arn


def _refused(url: str, session: dict[str, str]) -> str:
    with pytest.raises(ClientError) as caught:
        client(url, "sts", session).get_caller_identity()
    code: str = caught.value.response["Error"]["Code"]
    return code


def _eventually(probe: Callable[[], Any], wanted: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while (seen := probe()) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return seen


def test_rotation_keeps_live_sessions_until_expiry_on_both_nodes(
    two_nodes: tuple[RunningServer, RunningServer, Store],
) -> None:
    a, b, store = two_nodes
    url = a.database.url
    world: World = provision(store, a.url)
    before = assume(a.url, world, "before")
    old_key = token_key_id(before["SessionToken"])

    rotated = CliRunner().invoke(main, ["keys", "rotate", "--db", url])
    assert rotated.exit_code == 0, rotated.output
    rotation = json.loads(rotated.output)
    new_key = rotation["CurrentKeyId"]
    assert rotation["Retired"] == [old_key] and new_key != old_key
    listed = json.loads(CliRunner().invoke(main, ["keys", "list", "--db", url]).output)
    assert {entry["KeyId"]: entry["Status"] for entry in listed} == {
        old_key: "Retired",
        new_key: "Current",
    }

    # a re-reads its current key: new tokens carry the new key id, with no restart.
    sealed_by_a = lambda: token_key_id(assume(a.url, world, "after")["SessionToken"])  # noqa: E731
    assert _eventually(sealed_by_a, new_key) == new_key
    after = assume(a.url, world, "after")
    # b has not re-read yet: it still seals with the retired key, which every node opens.
    b_before = assume(b.url, world, "b-before")
    assert token_key_id(b_before["SessionToken"]) == old_key
    for session in (before, b_before):
        assert ":assumed-role/" in _identity(a.url, session) == _identity(b.url, session)
    # b meets the new key id in a token: it reloads the store, opens it, and seals with it.
    assert ":assumed-role/reliability-role/after" in _identity(b.url, after)
    assert token_key_id(assume(b.url, world, "b-after")["SessionToken"]) == new_key

    # The old sessions work until they expire (900 s), later sessions until theirs.
    for node in (a, b):
        node.clock.advance(600)
    late = assume(a.url, world, "late")
    for session in (before, b_before, after):
        assert _identity(a.url, session) and _identity(b.url, session)
    for node in (a, b):
        node.clock.advance(400)
    for session in (before, b_before, after):
        assert _refused(a.url, session) == _refused(b.url, session) == "ExpiredToken"
    assert _identity(a.url, late) and _identity(b.url, late)

    # A retired key is deleted by the first rotation once its tokens have all expired.
    for node in (a, b):
        node.clock.advance(LONGEST_TOKEN_SECONDS)
    with a.database.write() as uow:
        pruned = rotate_token_keys(uow)
    assert pruned.deleted == (old_key,) and pruned.retired == (new_key,)
    assert _eventually(lambda: _refused(a.url, before), "InvalidClientTokenId") == (
        "InvalidClientTokenId"
    )
