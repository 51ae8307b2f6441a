"""Token key rotation while sessions are live, on two `rolegate serve` nodes of one store.

Both nodes re-read their current key every `reload_seconds` (`ROLEGATE_TOKEN_KEY_RELOAD_SECONDS`).
Sessions are assumed on each node, then `rolegate keys rotate` runs (a separate process: the
nodes learn of it only through the store). Measured: how long each node keeps sealing with
the old key. Checked, with no restart: every pre-rotation session keeps working on both nodes
(a thread uses them all along), new AssumeRole tokens carry the new key id and work on the
other node, and after a second rotation (the first key retired twice) the old sessions
still work. Their expiry (at least 900 s away) is checked by the tests, which move the
servers' clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from reliability_world import (
    BUCKET,
    ServerProcess,
    Store,
    World,
    client,
    error_code,
    provision,
    token_key_id,
)
from rolegate.sts.keyring import RELOAD_ENV

__all__ = ["RotationReport", "assume", "rotate_keys", "run_rotation"]

SESSION_SECONDS: Final = 900  # AssumeRole's shortest session


@dataclass
class RotationReport:
    kind: str
    old_key: str = ""
    new_key: str = ""
    adoption_seconds: dict[str, float] = field(default_factory=dict)
    old_session_requests: int = 0
    cross_checks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def assume(url: str, world: World, name: str) -> dict[str, str]:
    credentials = client(url, "sts", world.driver).assume_role(
        RoleArn=world.role_arn, RoleSessionName=name, DurationSeconds=SESSION_SECONDS
    )["Credentials"]
    return {key: credentials[key] for key in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def rotate_keys(store: Store) -> dict[str, Any]:
    """`rolegate keys rotate` on the store, in its own process; its JSON answer."""
    command = [sys.executable, "-m", "rolegate", "keys", "rotate", "--data", str(store.data)]
    if store.db_url:
        command += ["--db", store.db_url]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


class SessionUser(threading.Thread):
    """Uses every given session on every node (GetCallerIdentity, ListObjectsV2) until told."""

    def __init__(self, nodes: list[ServerProcess], sessions: list[dict[str, str]]) -> None:
        super().__init__(name="session-user", daemon=True)
        self.clients = [
            (client(node.url, "sts", session), client(node.url, "s3", session))
            for node in nodes
            for session in sessions
        ]
        self.done = threading.Event()
        self.requests = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.done.is_set():
            for sts, s3 in self.clients:
                try:
                    sts.get_caller_identity()
                    s3.list_objects_v2(Bucket=BUCKET, MaxKeys=1)
                except Exception as error:
                    self.failures.append(f"{error_code(error)}: {error}")
                self.requests += 2
            time.sleep(0.05)


def run_rotation(
    store: Store,
    reload_seconds: float = 2.0,
    hold_seconds: float = 10.0,
    say: Callable[[str], None] = print,
) -> RotationReport:
    report = RotationReport(store.kind)
    env = {RELOAD_ENV: str(reload_seconds)}
    nodes = [ServerProcess(store, env, name="a").start()]
    try:
        world = provision(store, nodes[0].url)
        nodes.append(ServerProcess(store, env, name="b").start())
        before = [assume(node.url, world, f"before-{index}") for index, node in enumerate(nodes)]
        old_keys = {token_key_id(session["SessionToken"]) for session in before}
        report.old_key = ",".join(sorted(old_keys))
        user = SessionUser(nodes, before)
        user.start()
        time.sleep(1.0)
        rotation = rotate_keys(store)
        rotated_at = time.monotonic()
        report.new_key = rotation["CurrentKeyId"]
        say(f"rotated: {rotation}")
        after = []
        for index, node in enumerate(nodes):
            deadline = rotated_at + reload_seconds + 30
            while True:
                session = assume(node.url, world, f"after-{index}")
                if token_key_id(session["SessionToken"]) == report.new_key:
                    report.adoption_seconds[f"node {index}"] = time.monotonic() - rotated_at
                    after.append(session)
                    break
                if time.monotonic() > deadline:
                    report.problems.append(f"node {index} still seals with the old key")
                    break
                time.sleep(0.05)
        for session in after:  # a new session works on every node, the other one included
            for node in nodes:
                client(node.url, "sts", session).get_caller_identity()
                report.cross_checks += 1
        time.sleep(hold_seconds)
        second = rotate_keys(store)
        say(f"rotated again: {second}")
        time.sleep(reload_seconds + 1.0)
        user.done.set()
        user.join(timeout=30)
        report.old_session_requests = user.requests
        report.problems.extend(f"a pre-rotation session failed: {line}" for line in user.failures)
    finally:
        for node in nodes:
            node.stop()
    return report
