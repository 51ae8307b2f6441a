"""Every acknowledged request has its event after a kill -9 (journal, not a per-request fsync),
and `rolegate audit export` reads them, the journals of stopped servers included."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from click.testing import CliRunner
from sqlalchemy import func, select

from e2e.server import free_port
from rolegate.audit.cli import audit
from rolegate.audit.recorder import INTERVAL_ENV
from rolegate.bootstrap import open_database
from rolegate.iam.accounts import create_account
from rolegate.store.database import Database, default_sqlite_url
from rolegate.store.schema import audit_data_events, audit_events

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")


def _serve(data: Path, port: int, interval: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, INTERVAL_ENV: interval}
    process = subprocess.Popen(
        [sys.executable, "-m", "rolegate", "serve", "--port", str(port), "--data", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rolegate serve exited with {process.returncode}")
        try:
            import socket

            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("rolegate serve did not start")


def _children(pid: int) -> list[int]:
    """The processes `pid` started (`rolegate serve`'s audit ingester)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _kill(process: subprocess.Popen[bytes], *, with_ingester: bool = False) -> list[int]:
    """kill -9 the server (and its ingesting process: nothing but the journal is left);
    the ingester's pids."""
    ingesters = _children(process.pid)
    assert len(ingesters) == 1, ingesters
    if with_ingester:
        os.kill(ingesters[0], signal.SIGKILL)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    return ingesters


def _ended(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as stat:  # a zombie until init reaps it
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        time.sleep(0.05)
    return False


def _clients(port: int, key: dict[str, str]) -> dict[str, Any]:
    return {
        service: boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )
        for service in ("iam", "sts", "s3")
    }


def _acknowledged(clients: dict[str, Any], tag: str, count: int) -> set[str]:
    """`count` rounds of an IAM write, an STS read and S3 writes/reads: their request ids."""
    ids: set[str] = set()
    bucket = f"kill-{tag}"
    ids.add(clients["s3"].create_bucket(Bucket=bucket)["ResponseMetadata"]["RequestId"])
    for number in range(count):
        responses = [
            clients["iam"].create_user(UserName=f"{tag}-{number}"),
            clients["sts"].get_caller_identity(),
            clients["s3"].put_object(Bucket=bucket, Key=f"k{number}", Body=b"x" * 4096),
            clients["s3"].get_object(Bucket=bucket, Key=f"k{number}"),
        ]
        ids.update(response["ResponseMetadata"]["RequestId"] for response in responses)
    return ids


def _stored(database: Database, request_ids: set[str]) -> dict[str, int]:
    """How many events each request id has in the store."""
    counts: dict[str, int] = {}
    with database.read() as uow:
        for table in (audit_events, audit_data_events):  # management and data events
            for record in uow.connection.execute(select(table.c.record)).scalars():
                request_id = json.loads(record)["requestID"]
                if request_id in request_ids:
                    counts[request_id] = counts.get(request_id, 0) + 1
    return counts


def _store_with_account(tmp_path: Path, alias: str) -> tuple[Path, Database, dict[str, Any], int]:
    """A data directory whose store has one account, and a free port to serve it on."""
    data = tmp_path / "data"
    database = open_database(default_sqlite_url(data))
    with database.write() as uow:
        root = create_account(uow, alias).to_json()
    return data, database, root, free_port()


def test_kill_9_loses_no_acknowledged_event(tmp_path: Path) -> None:
    data, database, root, port = _store_with_account(tmp_path, "killed")
    # Ingestion rounds an hour apart: the events are in the journal only when the kill comes.
    server = _serve(data, port, interval="3600")
    try:
        first = _acknowledged(_clients(port, root), "one", 10)
    finally:
        _kill(server, with_ingester=True)
    assert not _stored(database, first), "ingested before the kill: the test proves nothing"
    journals = list((data / "audit-journal").glob("*.jsonl"))
    assert journals and any(path.stat().st_size for path in journals)

    server = _serve(data, port, interval="0.25")
    try:
        deadline = time.monotonic() + 30
        while len(_stored(database, first)) < len(first) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _stored(database, first) == dict.fromkeys(first, 1)
        second = _acknowledged(_clients(port, root), "two", 5)
    finally:
        (ingester,) = _kill(server)
    # The ingester outlives the killed server just long enough to store its journal.
    assert _ended(ingester, 30), "the ingesting process outlived its server"
    assert _stored(database, second) == dict.fromkeys(second, 1)

    # No server runs: the CLI ingests the dead server's journal itself, exactly once.
    result = CliRunner().invoke(
        audit, ["export", "--data", str(data), "--account", root["AccountId"]]
    )
    assert result.exit_code == 0, result.output
    exported = [json.loads(line) for line in result.output.splitlines()]
    exported_ids = [record["requestID"] for record in exported]
    assert (first | second) <= set(exported_ids)
    assert len(exported_ids) == len(set(exported_ids))
    times = [record["eventTime"] for record in exported]
    assert times == sorted(times)
    assert not [path for path in (data / "audit-journal").glob("*.jsonl") if path.stat().st_size]

    tailed = CliRunner().invoke(audit, ["tail", "--data", str(data), "-n", "3"])
    assert tailed.exit_code == 0, tailed.output
    assert [json.loads(line)["eventID"] for line in tailed.output.splitlines()] == [
        record["eventID"] for record in exported[-3:]
    ]
    with database.read() as uow:
        total = sum(
            uow.connection.execute(select(func.count()).select_from(table)).scalar() or 0
            for table in (audit_events, audit_data_events)
        )
    assert total == len(exported)
    database.dispose()


def test_a_stopped_server_stops_its_ingester_and_leaves_every_event_stored(
    tmp_path: Path,
) -> None:
    data, database, root, port = _store_with_account(tmp_path, "stopped")
    server = _serve(data, port, interval="3600")
    try:
        (ingester,) = _children(server.pid)
        acknowledged = _acknowledged(_clients(port, root), "stop", 3)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert _ended(ingester, 30)
    assert _stored(database, acknowledged) == dict.fromkeys(acknowledged, 1)
    assert list((data / "audit-journal").glob("*.jsonl")) == []
    database.dispose()


def test_an_ingester_that_dies_is_started_again_and_nothing_is_lost(tmp_path: Path) -> None:
    data, database, root, port = _store_with_account(tmp_path, "reborn")
    server = _serve(data, port, interval="0.25")
    try:
        (first_ingester,) = _children(server.pid)
        os.kill(first_ingester, signal.SIGKILL)
        acknowledged = _acknowledged(_clients(port, root), "reborn", 3)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            children = _children(server.pid)
            if children and children != [first_ingester]:
                break
            time.sleep(0.05)
        assert children and first_ingester not in children, "no new ingesting process"
        while len(_stored(database, acknowledged)) < len(acknowledged):
            assert time.monotonic() < deadline, "the new ingester stored nothing"
            time.sleep(0.1)
        assert _stored(database, acknowledged) == dict.fromkeys(acknowledged, 1)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    database.dispose()


def test_the_ingester_survives_a_burst_of_parent_death_signals(tmp_path: Path) -> None:
    """The parent-death signal comes once per exiting thread of the parent: a handler that
    took a lock deadlocked when the next one arrived inside it (seen in CI: an ingester left
    sleeping forever). Each signal now only sets a flag."""
    data, database, _, _ = _store_with_account(tmp_path, "signals")
    command = [sys.executable, "-m", "rolegate", "audit", "ingest", "--follow"]
    command += ["--parent", str(os.getpid()), "--interval", "3600", "--data", str(data)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)  # past its start-up: in its loop, its handlers installed
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGHUP)
        # It ends (its last round done); a signal that comes after its handlers were undone
        # at interpreter exit ends it as SIGHUP does by default.
        assert process.wait(timeout=30) in (0, -signal.SIGHUP)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    database.dispose()
