"""LookupEvents over one million audit events: latency of the use case and through boto3.

Fills a fresh SQLite store (in a temp directory) with `--events` CloudTrail events (default
1,000,000) spread over the last 90 days: several accounts of very different sizes (Zipf), users
and roles per account (Zipf), a realistic mix of event names (about a third S3 data events,
which LookupEvents never returns), one to two resources for most events, and full CloudTrail
records (~1 KB JSON). Rows are bulk-inserted in time order, as the recorder appends them.

Then times LookupEvents queries of the biggest account: no filter, by Username, EventName,
ResourceName/ResourceType, ReadOnly, EventSource, a time window, and page 2 with NextToken,
first through the use case (`rolegate.audit.lookup.lookup_events` in a read transaction), then
through boto3 against `rolegate serve --no-audit` on that store. Prints p50/p99 in ms per
query; the target is "well under a second".

    python bench/audit_lookup.py [--events 1000000] [--repeat 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from rolegate.audit.lookup import lookup_events
from rolegate.bootstrap import open_database
from rolegate.iam.accounts import NewAccount, create_account
from rolegate.store.database import Database, default_sqlite_url
from rolegate.sts.keyring import StoreKeyRing

ACCOUNTS = 10
USERS = 40
ROLES = 30
BUCKETS = 20
# (event name, source, read only, category, weight, resource kind)
EVENT_MIX: list[tuple[str, str, bool, str, float, str | None]] = [
    ("GetObject", "s3", True, "Data", 22.0, "object"),
    ("PutObject", "s3", False, "Data", 9.0, "object"),
    ("HeadObject", "s3", True, "Data", 3.0, "object"),
    ("AssumeRole", "sts", False, "Management", 14.0, "role"),
    ("GetCallerIdentity", "sts", True, "Management", 6.0, None),
    ("GetSessionToken", "sts", False, "Management", 1.0, None),
    ("GetUser", "iam", True, "Management", 8.0, "user"),
    ("ListUsers", "iam", True, "Management", 5.0, None),
    ("ListRoles", "iam", True, "Management", 5.0, None),
    ("GetRole", "iam", True, "Management", 5.0, "role"),
    ("ListAttachedRolePolicies", "iam", True, "Management", 3.0, "role"),
    ("GetPolicy", "iam", True, "Management", 3.0, None),
    ("ListBuckets", "s3", True, "Management", 3.0, None),
    ("GetBucketPolicy", "s3", True, "Management", 2.0, "bucket"),
    ("ConsoleLogin", "signin", False, "Management", 1.0, None),
    ("CreateUser", "iam", False, "Management", 0.4, "user"),
    ("CreateAccessKey", "iam", False, "Management", 0.3, "user"),
    ("PutUserPolicy", "iam", False, "Management", 0.4, "user"),
    ("AttachRolePolicy", "iam", False, "Management", 0.3, "role"),
    ("UpdateAssumeRolePolicy", "iam", False, "Management", 0.2, "role"),
    ("PutBucketPolicy", "s3", False, "Management", 0.2, "bucket"),
    ("DeleteUser", "iam", False, "Management", 0.1, "user"),
    ("DeleteRole", "iam", False, "Management", 0.05, "role"),
]
SOURCES = {
    "iam": "iam.amazonaws.com",
    "sts": "sts.amazonaws.com",
    "s3": "s3.amazonaws.com",
    "signin": "signin.amazonaws.com",
}
RESOURCE_TYPES = {
    "user": "AWS::IAM::User",
    "role": "AWS::IAM::Role",
    "bucket": "AWS::S3::Bucket",
    "object": "AWS::S3::Object",
}
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
APP_WRITER = "app-writer"
APP_WRITER_SHARE = 0.1


def _zipf(count: int, exponent: float = 1.1) -> list[float]:
    """Cumulative Zipf weights (for `random.choices(cum_weights=...)`)."""
    total, out = 0.0, []
    for rank in range(1, count + 1):
        total += 1.0 / (rank**exponent)
        out.append(total)
    return out


_USER_WEIGHTS = _zipf(USERS)


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _record(
    rng: random.Random,
    event_id: str,
    account: str,
    moment: datetime,
    spec: tuple[str, str, bool, str, float, str | None],
    user: str,
    key: str,
    resources: list[tuple[str, str]],
) -> str:
    name, source, read_only, category, _, _ = spec
    return json.dumps(
        {
            "eventVersion": "1.11",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": f"AIDA{event_id[:16].upper()}",
                "arn": f"arn:aws:iam::{account}:user/{user}",
                "accountId": account,
                "accessKeyId": key,
                "userName": user,
                "sessionContext": {
                    "attributes": {
                        "creationDate": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "mfaAuthenticated": "false",
                    }
                },
            },
            "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": SOURCES[source],
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": f"192.0.2.{rng.randrange(1, 255)}",
            "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12 prompt/off",
            "requestParameters": {"name": resources[0][1] if resources else None},
            "responseElements": None,
            "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventID": event_id,
            "readOnly": read_only,
            "resources": [
                {"type": kind, "ARN": arn, "accountId": account} for kind, arn in resources
            ],
            "eventType": "AwsApiCall",
            "managementEvent": category == "Management",
            "recipientAccountId": account,
            "eventCategory": category,
        },
        separators=(",", ":"),
    )


def _resources(
    rng: random.Random, kind: str | None, account: str, role_weights: list[float]
) -> list[tuple[str, str]]:
    if kind is None:
        return []
    if kind == "user":
        user = rng.choices(range(USERS), cum_weights=_USER_WEIGHTS)[0]
        return [(RESOURCE_TYPES["user"], f"arn:aws:iam::{account}:user/user{user:02d}")]
    if kind == "role":
        role = rng.choices(range(ROLES), cum_weights=role_weights)[0]
        return [(RESOURCE_TYPES["role"], f"arn:aws:iam::{account}:role/role{role:02d}")]
    bucket = f"arn:aws:s3:::bucket-{account}-{rng.randrange(BUCKETS):02d}"
    if kind == "bucket":
        return [(RESOURCE_TYPES["bucket"], bucket)]
    return [
        (RESOURCE_TYPES["object"], f"{bucket}/data/{rng.randrange(100000):06d}.json"),
        (RESOURCE_TYPES["bucket"], bucket),
    ]


def fill(path: Path, accounts: list[str], total: int, seed: int = 7) -> tuple[int, int]:
    """Bulk-insert `total` events (and their resources) in time order; (events, resources)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    start = now - timedelta(days=89, hours=23)
    span = (now - start).total_seconds() - 60
    offsets = sorted(rng.random() for _ in range(total))
    account_weights = _zipf(len(accounts), 1.0)
    user_weights = _zipf(USERS)
    role_weights = _zipf(ROLES)
    mix_weights = _cumulative([spec[4] for spec in EVENT_MIX])
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-262144")
    events_sql = (
        "INSERT INTO audit_events (event_id, account_id, event_time, event_name, event_source,"
        " read_only, username, access_key_id, event_category, record)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    resources_sql = (
        "INSERT INTO audit_event_resources (event_id, account_id, event_time, resource_type,"
        " resource_name) VALUES (?, ?, ?, ?, ?)"
    )
    chunk = 20000
    resource_count = 0
    for base in range(0, total, chunk):
        rows: list[tuple[Any, ...]] = []
        resource_rows: list[tuple[Any, ...]] = []
        for offset in offsets[base : base + chunk]:
            moment = start + timedelta(seconds=offset * span)
            account = rng.choices(accounts, cum_weights=account_weights)[0]
            spec = rng.choices(EVENT_MIX, cum_weights=mix_weights)[0]
            user_index = rng.choices(range(USERS), cum_weights=user_weights)[0]
            user = f"user{user_index:02d}"
            key = f"AKIA{account[-4:]}{user_index:02d}EXAMPLE00"[:20]
            if rng.random() < APP_WRITER_SHARE:  # an application's user: S3 data events only
                spec = EVENT_MIX[rng.randrange(2)]
                user, key = APP_WRITER, f"AKIA{account[-4:]}APPWRITER00"[:20]
            event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            resources = _resources(rng, spec[5], account, role_weights)
            stamp = moment.strftime(SQLITE_TIME)
            record = _record(rng, event_id, account, moment, spec, user, key, resources)
            rows.append(
                (
                    event_id,
                    account,
                    stamp,
                    spec[0],
                    SOURCES[spec[1]],
                    int(spec[2]),
                    user,
                    key,
                    spec[3],
                    record,
                )
            )
            resource_rows.extend((event_id, account, stamp, kind, arn) for kind, arn in resources)
        connection.execute("BEGIN")
        connection.executemany(events_sql, rows)
        connection.executemany(resources_sql, resource_rows)
        connection.execute("COMMIT")
        resource_count += len(resource_rows)
    connection.close()
    return total, resource_count


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def _time(run: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    run()  # warm-up
    samples = []
    result = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        samples.append((time.perf_counter() - began) * 1000)
    p50, p99 = _percentiles(samples)
    return p50, p99, result


def _queries(account: str, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    def attr(key: str, value: str) -> dict[str, Any]:
        return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}

    role = f"arn:aws:iam::{account}:role/role00"
    return [
        ("no filter", {}),
        ("Username (top user)", attr("Username", "user00")),
        ("Username (rare user)", attr("Username", "user39")),
        ("EventName AssumeRole", attr("EventName", "AssumeRole")),
        ("EventName DeleteRole (rare)", attr("EventName", "DeleteRole")),
        ("EventName GetObject (data only: 0)", attr("EventName", "GetObject")),
        ("Username app-writer (data only: 0)", attr("Username", APP_WRITER)),
        ("ResourceName busy bucket", attr("ResourceName", f"arn:aws:s3:::bucket-{account}-00")),
        ("ResourceName top role", attr("ResourceName", role)),
        ("ResourceName rare role", attr("ResourceName", f"arn:aws:iam::{account}:role/role29")),
        ("ResourceType AWS::IAM::User", attr("ResourceType", "AWS::IAM::User")),
        ("ReadOnly false", attr("ReadOnly", "false")),
        ("EventSource s3 (mostly data)", attr("EventSource", "s3.amazonaws.com")),
        ("AccessKeyId", attr("AccessKeyId", f"AKIA{account[-4:]}05EXAMPLE00"[:20])),
        (
            "time window: 1 h, 30 days ago",
            {"StartTime": now - timedelta(days=30, hours=1), "EndTime": now - timedelta(days=30)},
        ),
        (
            "time window: 1 day + Username",
            {
                "StartTime": now - timedelta(days=31),
                "EndTime": now - timedelta(days=30),
                **attr("Username", "user03"),
            },
        ),
    ]


def _use_case_params(params: dict[str, Any]) -> dict[str, Any]:
    names = {
        "LookupAttributes": "lookup_attributes",
        "StartTime": "start_time",
        "EndTime": "end_time",
        "MaxResults": "max_results",
        "NextToken": "next_token",
    }
    return {names[key]: value for key, value in params.items()}


def bench_use_case(database: Database, account: str, repeat: int) -> list[tuple[str, float, float]]:
    keys = StoreKeyRing(database)
    rows = []

    def call(params: dict[str, Any]) -> Any:
        with database.read() as uow:
            return lookup_events(uow, keys, account, **_use_case_params(params))

    for label, params in _queries(account, datetime.now(UTC)):
        p50, p99, page = _time(lambda params=params: call(params), repeat)
        rows.append((f"{label} [{len(page.events)}]", p50, p99))
        if label in ("no filter", "Username (top user)", "ResourceName top role"):
            token = page.next_token
            assert token is not None
            second = {**params, "NextToken": token}
            p50, p99, page = _time(lambda second=second: call(second), repeat)
            rows.append((f"{label}, page 2 [{len(page.events)}]", p50, p99))
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_boto3(data: Path, owner: NewAccount, repeat: int) -> list[tuple[str, float, float]]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rolegate",
            "serve",
            "--port",
            str(port),
            "--data",
            str(data),
            "--no-audit",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("rolegate serve did not start") from None
                time.sleep(0.1)
        trail = boto3.client(
            "cloudtrail",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=owner.access_key_id,
            aws_secret_access_key=owner.secret_access_key,
            config=Config(retries={"max_attempts": 1}),
        )
        rows = []
        for label, params in _queries(owner.account_id, datetime.now(UTC)):
            p50, p99, page = _time(lambda params=params: trail.lookup_events(**params), repeat)
            rows.append((f"{label} [{len(page['Events'])}]", p50, p99))
            if label == "no filter":
                second = {**params, "NextToken": page["NextToken"]}
                p50, p99, page = _time(lambda second=second: trail.lookup_events(**second), repeat)
                rows.append((f"{label}, page 2 [{len(page['Events'])}]", p50, p99))
        paginator = trail.get_paginator("lookup_events")
        began = time.perf_counter()
        walked = sum(
            len(page["Events"])
            for page in paginator.paginate(
                LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "user39"}],
                PaginationConfig={"MaxItems": 1000},
            )
        )
        elapsed = (time.perf_counter() - began) * 1000
        rows.append((f"paginator, 1000 events of a rare user [{walked}] (total)", elapsed, elapsed))
        return rows
    finally:
        process.terminate()
        process.wait(timeout=20)


def _print(title: str, rows: list[tuple[str, float, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'query [events returned]':<58} {'p50 ms':>9} {'p99 ms':>9}")
    for label, p50, p99 in rows:
        print(f"  {label:<58} {p50:>9.2f} {p99:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="use (and keep) this data directory")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE after the fill")
    parser.add_argument(
        "--reuse", action="store_true", help="query the --keep directory's events, no fill"
    )
    args = parser.parse_args()
    data = args.keep or Path(tempfile.mkdtemp(prefix="rolegate-audit-bench-"))
    try:
        url = default_sqlite_url(data)
        db_file = Path(url.removeprefix("sqlite:///"))
        saved = data / "bench-accounts.json"
        if args.reuse:
            accounts = [NewAccount(**item) for item in json.loads(saved.read_text())]
            inserted, resources, filled = args.events, 0, 0.0
        else:
            database = open_database(url)
            with database.write() as uow:
                accounts = [create_account(uow, None) for _ in range(ACCOUNTS)]
            database.dispose()
            saved.write_text(json.dumps([vars(account) for account in accounts]))
            began = time.perf_counter()
            inserted, resources = fill(
                db_file, [account.account_id for account in accounts], args.events
            )
            filled = time.perf_counter() - began
        if args.analyze:
            connection = sqlite3.connect(db_file)
            connection.execute("ANALYZE")
            connection.close()
        size = (
            db_file.stat().st_size + Path(f"{db_file}-wal").stat().st_size
            if Path(f"{db_file}-wal").exists()
            else db_file.stat().st_size
        )
        owner = accounts[0]
        connection = sqlite3.connect(db_file)
        mine, management = connection.execute(
            "SELECT count(*), sum(event_category = 'Management') FROM audit_events"
            " WHERE account_id = ?",
            (owner.account_id,),
        ).fetchone()
        connection.close()
        print(
            f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; "
            f"{inserted:,} events + {resources:,} resources in {filled:.0f} s, "
            f"store {size / 2**20:,.0f} MiB{' (ANALYZEd)' if args.analyze else ''}"
            "; "
            f"queried account {owner.account_id}: {mine:,} events, {management:,} management"
        )
        database = Database(url)
        _print(
            "use case (lookup_events in a read transaction)",
            bench_use_case(database, owner.account_id, args.repeat),
        )
        database.dispose()
        _print(
            "boto3 lookup_events against rolegate serve",
            bench_boto3(data, owner, max(5, args.repeat // 2)),
        )
    finally:
        if args.keep is None:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
