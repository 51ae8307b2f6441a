"""A bounded soak: a fixed-rate mixed IAM/STS/S3 load on `rolegate serve` for some minutes.

Operations start on a fixed schedule (`rate` a second, whatever the latency: a thread pool
runs them), a mix of PutObject 4 KiB and 100 KiB (over a bounded set of keys), GetObject,
ListObjectsV2, AssumeRole, CreateUser+DeleteUser, PutUserPolicy (10 names, overwritten) and
GetUser, so the stored state stays bounded and memory should stay flat. Per interval (a
minute by default): operations ended, errors, latency p50/p99 and the server's RSS
(VmRSS from /proc); verdict: no error and RSS growth from the end of the second interval to
the end below a bound.
"""

from __future__ import annotations

import json
import os
import queue
import random
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from reliability_world import BUCKET, ServerProcess, Store, World, client, error_code, provision

__all__ = ["SoakReport", "run_soak"]

SERVICES: Final = ("iam", "sts", "s3")


@dataclass
class SoakReport:
    kind: str
    rate: float
    interval_seconds: float
    requests: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    late: int = 0
    error_samples: list[str] = field(default_factory=list)
    max_growth_mib: float = 20.0

    @property
    def growth_mib(self) -> float:
        """RSS growth from the end of the second interval to the end (the first warms up)."""
        return self.rss_mib[-1] - self.rss_mib[min(1, len(self.rss_mib) - 1)]

    @property
    def ok(self) -> bool:
        return not sum(self.errors) and self.growth_mib < self.max_growth_mib


class SoakLoad:
    """The soak's operations, by share of the load; each runs on a client set of its own."""

    MIX: Final = (
        ("put_small", 0.25),
        ("put_large", 0.05),
        ("get", 0.20),
        ("list", 0.10),
        ("assume", 0.12),
        ("user", 0.10),
        ("policy", 0.08),
        ("get_user", 0.10),
    )

    def __init__(self, url: str, world: World, threads: int, policy_variants: int = 0) -> None:
        self.world = world
        # 0: every PutUserPolicy writes a new document (each is parsed and cached once: the
        # policy caches fill up to their bound); N: the documents cycle through N variants.
        self.policy_variants = policy_variants
        # Client sets made (and their connections opened) before the clock starts.
        self.clients: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        for _ in range(threads):
            clients = {name: client(url, name, world.driver) for name in SERVICES}
            clients["iam"].get_user(UserName="driver")
            clients["sts"].get_caller_identity()
            clients["s3"].list_objects_v2(Bucket=BUCKET, MaxKeys=1)
            self.clients.put(clients)
        self.random = random.Random(13)
        self.serial = 0
        self.lock = threading.Lock()

    def next(self) -> tuple[str, int]:
        """The next operation to schedule and its serial number."""
        with self.lock:
            self.serial += 1
            names, weights = zip(*self.MIX, strict=True)
            return self.random.choices(names, weights)[0], self.serial

    def run(self, operation: str, serial: int) -> None:
        clients = self.clients.get()
        try:
            self._run(clients, operation, serial)
        finally:
            self.clients.put(clients)

    def _run(self, clients: dict[str, Any], operation: str, serial: int) -> None:
        iam, sts, s3 = clients["iam"], clients["sts"], clients["s3"]
        key = f"soak/{serial % 200}"
        if operation == "put_small":
            s3.put_object(Bucket=BUCKET, Key=key, Body=os.urandom(4096))
        elif operation == "put_large":
            s3.put_object(Bucket=BUCKET, Key=f"soak/big-{serial % 20}", Body=os.urandom(102400))
        elif operation == "get":
            try:
                s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            except ClientError as error:
                if error_code(error) != "NoSuchKey":
                    raise
        elif operation == "list":
            s3.list_objects_v2(Bucket=BUCKET, MaxKeys=100)
        elif operation == "assume":
            sts.assume_role(RoleArn=self.world.role_arn, RoleSessionName=f"soak-{serial}")
        elif operation == "user":
            iam.create_user(UserName=f"soak-{serial}")
            iam.delete_user(UserName=f"soak-{serial}")
        elif operation == "policy":
            variant = serial % self.policy_variants if self.policy_variants else serial
            statement = {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/{variant}/*",
            }
            iam.put_user_policy(
                UserName="driver",
                PolicyName=f"soak-{serial % 10}",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
            )
        else:
            iam.get_user(UserName="driver")


def run_soak(
    store: Store,
    seconds: float,
    rate: float,
    interval_seconds: float = 60.0,
    threads: int = 8,
    max_growth_mib: float = 20.0,
    policy_variants: int = 0,
    say: Callable[[str], None] = print,
) -> SoakReport:
    """Fixed-rate load (operations start on a schedule, `rate` a second) for `seconds`."""
    report = SoakReport(store.kind, rate, interval_seconds, max_growth_mib=max_growth_mib)
    server = ServerProcess(store).start()
    try:
        load = SoakLoad(server.url, provision(store, server.url), threads, policy_variants)
        intervals = max(1, round(seconds / interval_seconds))
        latencies: list[list[float]] = [[] for _ in range(intervals)]
        errors = [0] * intervals
        lock = threading.Lock()
        start = time.monotonic()

        def timed(operation: str, serial: int, due: float) -> None:
            try:
                load.run(operation, serial)
                failed = None
            except Exception as error:
                failed = f"{error_code(error)}: {error}"
            ended = time.monotonic()
            slot = min(intervals - 1, int((ended - start) / interval_seconds))
            with lock:  # counted in the interval it ends in, from when it was due to start
                latencies[slot].append(ended - due)
                if failed is not None:
                    errors[slot] += 1
                    if len(report.error_samples) < 10:
                        report.error_samples.append(failed)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            due = start
            for slot in range(intervals):
                slot_end = start + (slot + 1) * interval_seconds
                while due < slot_end:
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    elif delay < -1.0:
                        report.late += 1
                    pool.submit(timed, *load.next(), due)
                    due += 1.0 / rate
                time.sleep(max(0.0, slot_end - time.monotonic()))
                if slot < intervals - 1:
                    _close_interval(report, server, latencies[slot], errors[slot], say)
        _close_interval(report, server, latencies[-1], errors[-1], say)
    finally:
        server.stop()
    return report


def _close_interval(
    report: SoakReport,
    server: ServerProcess,
    latencies: list[float],
    errors: int,
    say: Callable[[str], None],
) -> None:
    done = sorted(latencies)
    report.requests.append(len(done))
    report.errors.append(errors)
    report.rss_mib.append(server.rss_bytes() / 2**20)
    report.p50_ms.append(1000 * _quantile(done, 0.50))
    report.p99_ms.append(1000 * _quantile(done, 0.99))
    say(
        f"  {report.kind} interval {len(report.requests)}: {len(done)} ops, {errors} errors, "
        f"p50 {report.p50_ms[-1]:.1f} ms, p99 {report.p99_ms[-1]:.1f} ms, "
        f"RSS {report.rss_mib[-1]:.1f} MiB"
    )


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]
