"""kill -9 of `rolegate serve` under a mixed IAM/STS/S3 write load, restart, verify.

A few threads write (CreateUser, PutUserPolicy, CreateAccessKey, AssumeRole, PutObject small
and >64 KiB, multipart uploads, DeleteObject) and read back (GetObject) and remember every
write answered 200; each thread owns its user names and object keys, so at the kill at most
one of its writes is in flight. The server gets SIGKILL at a random moment; with the server
dead, the store is checked (SQLite `PRAGMA integrity_check` and `foreign_key_check`,
PostgreSQL `amcheck` on every B-tree index when the extension is installed, and on both: no
row names a missing parent). Then the server restarts on the same store and every
acknowledged write must be there: users, policy documents, access keys that still sign,
sessions that still work, object keys holding their acknowledged bytes (or those of the
write cut by the kill), and no listed object whose bytes are missing or partial.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from sqlalchemy import and_, func, select, text

from reliability_world import (
    BUCKET,
    ServerProcess,
    Store,
    World,
    client,
    error_code,
    md5_hex,
    policy_document,
    provision,
)
from rolegate.store.database import Database
from rolegate.store.schema import metadata

__all__ = ["KillReport", "check_store", "orphan_rows", "run_kill9"]

PART_SIZE: Final = 5 * 1024**2  # S3's smallest non-last part
ABSENT: Final = "absent"  # the state of an object key with no bytes stored under it


@dataclass
class ObjectHistory:
    """What may be under one key: the last acknowledged state, plus one write in flight."""

    acknowledged: str = ABSENT
    in_flight: str | None = None
    attempted: set[str] = field(default_factory=set)

    def acceptable(self) -> set[str]:
        return {self.acknowledged} | ({self.in_flight} if self.in_flight is not None else set())


@dataclass
class Ledger:
    """Every write acknowledged with 200 (threads write disjoint names; the count is locked)."""

    users: set[str] = field(default_factory=set)
    policies: dict[tuple[str, str], str] = field(default_factory=dict)
    access_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    sessions: list[dict[str, str]] = field(default_factory=list)
    objects: dict[str, ObjectHistory] = field(default_factory=dict)
    acknowledged: int = 0
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class LoadThread(threading.Thread):
    """One client thread of the kill -9 load; its users and object keys are its own."""

    WEIGHTS: Final = {
        "iam": 30,
        "assume": 8,
        "put_small": 25,
        "put_large": 15,
        "multipart": 2,
        "delete": 6,
        "get": 14,
    }

    def __init__(
        self, url: str, world: World, ledger: Ledger, tag: str, killed: threading.Event
    ) -> None:
        super().__init__(name=f"load-{tag}", daemon=True)
        self.clients = {name: client(url, name, world.driver) for name in ("iam", "sts", "s3")}
        self.world, self.ledger, self.tag, self.killed = world, ledger, tag, killed
        self.random = random.Random()
        self.user_steps: list[tuple[str, str]] = []  # (user, next step)
        self.serial = 0

    def run(self) -> None:
        operations = list(self.WEIGHTS)
        weights = list(self.WEIGHTS.values())
        while not self.killed.is_set():
            operation = self.random.choices(operations, weights)[0]
            try:
                getattr(self, f"_op_{operation}")()
            except Exception as error:  # a request cut by the kill is expected, nothing else
                if self.killed.is_set():
                    return
                self.ledger.unexpected.append(f"{operation}: {error_code(error)}: {error}")

    def _ack(self) -> None:
        with self.ledger.lock:
            self.ledger.acknowledged += 1

    def _op_iam(self) -> None:
        iam = self.clients["iam"]
        if not self.user_steps:
            self.serial += 1
            user = f"{self.tag}-u{self.serial}"
            iam.create_user(UserName=user)
            self.ledger.users.add(user)
            self._ack()
            self.user_steps.append((user, "policy"))
            return
        user, step = self.user_steps.pop()
        if step == "policy":
            document = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{BUCKET}/{user}/*",
                        }
                    ],
                }
            )
            iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=document)
            self.ledger.policies[(user, "read")] = document
            self._ack()
            self.user_steps.append((user, "key"))
        else:
            key = iam.create_access_key(UserName=user)["AccessKey"]
            self.ledger.access_keys[key["AccessKeyId"]] = (user, key["SecretAccessKey"])
            self._ack()

    def _op_assume(self) -> None:
        credentials = self.clients["sts"].assume_role(
            RoleArn=self.world.role_arn, RoleSessionName=f"{self.tag}-{self.serial}"
        )["Credentials"]
        self.ledger.sessions.append(
            {name: credentials[name] for name in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
        )
        self._ack()

    def _object_key(self) -> str:
        return f"{self.tag.split('-')[0]}/obj-{self.random.randrange(24)}"

    def _history(self, key: str, state: str) -> ObjectHistory:
        history = self.ledger.objects.setdefault(key, ObjectHistory())
        history.in_flight = state
        history.attempted.add(state)
        return history

    def _put(self, size: int) -> None:
        key, body = self._object_key(), os.urandom(size)
        history = self._history(key, md5_hex(body))
        self.clients["s3"].put_object(Bucket=BUCKET, Key=key, Body=body)
        history.acknowledged, history.in_flight = md5_hex(body), None
        self._ack()

    def _op_put_small(self) -> None:
        self._put(self.random.randrange(0, 16 * 1024))

    def _op_put_large(self) -> None:
        self._put(self.random.randrange(64 * 1024 + 1, 768 * 1024))

    def _op_multipart(self) -> None:
        s3, key = self.clients["s3"], self._object_key()
        parts = [os.urandom(PART_SIZE), os.urandom(self.random.randrange(1, 256 * 1024))]
        history = self._history(key, md5_hex(b"".join(parts)))
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        etags = [
            s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=part)[
                "ETag"
            ]
            for number, part in enumerate(parts, start=1)
        ]
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, 1)]
            },
        )
        history.acknowledged, history.in_flight = history.in_flight or ABSENT, None
        self._ack()

    def _op_delete(self) -> None:
        key = self._object_key()
        history = self._history(key, ABSENT)
        self.clients["s3"].delete_object(Bucket=BUCKET, Key=key)
        history.acknowledged, history.in_flight = ABSENT, None
        self._ack()

    def _op_get(self) -> None:
        key = self._object_key()
        history = self.ledger.objects.get(key)
        expected = history.acknowledged if history else ABSENT
        try:
            body = self.clients["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
            seen = md5_hex(body)
        except ClientError as error:
            if error_code(error) != "NoSuchKey":
                raise
            seen = ABSENT
        if seen != expected:
            self.ledger.unexpected.append(f"get {key}: read {seen}, acknowledged {expected}")


@dataclass
class KillReport:
    kind: str
    rounds: int = 0
    acknowledged: int = 0
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, what: str, number: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + number


def _verify_iam(
    url: str, world: World, ledger: Ledger, report: KillReport, since: tuple[int, int]
) -> None:
    """All users; the policies and access keys acknowledged after `since` (their counts)."""
    iam = client(url, "iam", world.driver)
    listed = {
        user["UserName"]
        for page in iam.get_paginator("list_users").paginate()
        for user in page["Users"]
    }
    for user in sorted(ledger.users - listed):
        report.problems.append(f"acknowledged user {user} is missing")
    report.count("users", len(ledger.users))
    for (user, name), document in list(ledger.policies.items())[since[0] :]:
        try:
            stored = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
        except ClientError as error:
            report.problems.append(f"acknowledged policy {user}/{name}: {error_code(error)}")
            continue
        if policy_document(stored) != json.loads(document):
            report.problems.append(f"policy {user}/{name} has another document: {stored}")
        report.count("policies")
    keys = list(ledger.access_keys.items())
    listed_keys: dict[str, set[str]] = {}
    for key_id, (user, _) in keys[since[1] :]:
        if user not in listed_keys:
            metadata = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
            listed_keys[user] = {entry["AccessKeyId"] for entry in metadata}
        if key_id not in listed_keys[user]:
            report.problems.append(f"acknowledged access key {key_id} of {user} is missing")
        report.count("access keys")
    for key_id, (user, secret) in keys[-3:]:  # and they still sign: the secret was stored
        try:
            signer = client(url, "sts", {"AccessKeyId": key_id, "SecretAccessKey": secret})
            identity = signer.get_caller_identity()["Arn"]
        except ClientError as error:
            report.problems.append(f"acknowledged access key {key_id}: {error_code(error)}")
            continue
        if not identity.endswith(f":user/{user}"):
            report.problems.append(f"access key {key_id} signs as {identity}, not {user}")
        report.count("access keys signing")
    for credentials in ledger.sessions[-3:]:
        try:
            client(url, "sts", credentials).get_caller_identity()
            report.count("sessions")
        except ClientError as error:
            report.problems.append(f"acknowledged session: {error_code(error)}")


def _verify_objects(url: str, world: World, ledger: Ledger, report: KillReport) -> None:
    """Every listed object reads back whole; every key holds an acceptable state."""
    s3 = client(url, "s3", world.driver)
    listed = {
        item["Key"]: item["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for item in page.get("Contents", [])
    }
    for key in sorted(set(listed) - set(ledger.objects)):
        report.problems.append(f"listed object {key} was never written")
    for key, history in sorted(ledger.objects.items()):
        seen = ABSENT
        if key in listed:
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            seen = md5_hex(body)
            if len(body) != listed[key] or seen not in history.attempted:
                report.problems.append(
                    f"listed object {key} ({listed[key]} bytes) reads {len(body)} bytes "
                    f"{seen}: partial or foreign bytes"
                )
            report.count("objects read")
        if seen not in history.acceptable():
            report.problems.append(
                f"object {key}: found {seen}, acknowledged {history.acknowledged}, "
                f"in flight {history.in_flight}"
            )
        # What survived is now the acknowledged state; the cut write is settled.
        history.acknowledged, history.in_flight = seen, None
    report.count("object keys", len(ledger.objects))


def orphan_rows(database: Database) -> dict[str, int]:
    """Rows whose foreign key names no parent row, per constraint (all should be 0)."""
    found: dict[str, int] = {}
    with database.read() as uow:
        for table in metadata.sorted_tables:
            for constraint in table.foreign_key_constraints:
                parent = constraint.referred_table.alias("parent")
                pairs = [(el.parent, parent.c[el.column.name]) for el in constraint.elements]
                query = (
                    select(func.count())
                    .select_from(
                        table.outerjoin(parent, and_(*(child == ref for child, ref in pairs)))
                    )
                    .where(*(child.isnot(None) for child, _ in pairs), pairs[0][1].is_(None))
                )
                found[f"{table.name}.{constraint.name or pairs[0][0].name}"] = int(
                    uow.connection.execute(query).scalar() or 0
                )
    return found


def check_store(store: Store, report: KillReport) -> None:
    """With the server dead: the store's own consistency checks, then dangling references."""
    if store.kind == "sqlite":
        connection = sqlite3.connect(store.data / "rolegate.db")
        try:
            for pragma in ("integrity_check", "foreign_key_check"):
                rows = connection.execute(f"PRAGMA {pragma}").fetchall()
                if rows not in ([("ok",)], []):
                    report.problems.append(f"PRAGMA {pragma}: {rows[:5]}")
        finally:
            connection.close()
        report.count("sqlite integrity checks")
    database = store.open()
    try:
        if store.kind == "postgresql":
            _amcheck(database, report)
        for name, count in orphan_rows(database).items():
            if count:
                report.problems.append(f"{count} rows of {name} name a missing parent")
        report.count("foreign-key checks")
    finally:
        database.dispose()


def _amcheck(database: Database, report: KillReport) -> None:
    """B-tree index checks (PostgreSQL's amcheck, when the contrib module is installed)."""
    try:
        with database.engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    except Exception:
        report.count("amcheck unavailable")
        return
    with database.engine.begin() as connection:
        indexes = connection.execute(
            text(
                "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c "
                "ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE a.amname = 'btree' AND n.nspname = current_schema()"
            )
        ).scalars()
        for index in list(indexes):
            connection.execute(
                text("SELECT bt_index_check(CAST(:i AS regclass), true)"), {"i": index}
            )
            report.count("amcheck indexes")


def run_kill9(
    store: Store,
    rounds: int,
    threads: int = 4,
    load_seconds: tuple[float, float] = (1.5, 6.0),
    min_writes: int = 20,
    say: Callable[[str], None] = print,
) -> KillReport:
    """`rounds` times: load, SIGKILL at a random moment (`load_seconds` after the first
    `min_writes` acknowledged writes), check the store, restart, verify."""
    began = time.monotonic()
    report = KillReport(store.kind)
    ledger = Ledger()
    server = ServerProcess(store).start()
    try:
        world = provision(store, server.url)
        for number in range(1, rounds + 1):
            killed = threading.Event()
            load = [
                LoadThread(server.url, world, ledger, f"t{index}-r{number}", killed)
                for index in range(threads)
            ]
            before = ledger.acknowledged
            marks = (0, 0) if number == rounds else (len(ledger.policies), len(ledger.access_keys))
            for thread in load:
                thread.start()
            # The kill comes at a random moment once the load is running (a loaded machine
            # may take seconds to get the first answers).
            deadline = time.monotonic() + 60
            while ledger.acknowledged - before < min_writes and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(random.uniform(*load_seconds))
            killed.set()
            server.kill()
            for thread in load:
                thread.join(timeout=60)
            killed_at = time.monotonic()
            check_store(store, report)
            server = ServerProcess(store).start()
            restarted_at = time.monotonic()
            _verify_iam(server.url, world, ledger, report, since=marks)
            _verify_objects(server.url, world, ledger, report)
            timings = (
                f"store checks + restart {restarted_at - killed_at:.1f} s, "
                f"verification {time.monotonic() - restarted_at:.1f} s"
            )
            report.rounds = number
            say(
                f"round {number}/{rounds}: {ledger.acknowledged - before} writes acknowledged, "
                f"problems so far {len(report.problems) + len(ledger.unexpected)} ({timings})"
            )
    finally:
        server.stop()
    report.acknowledged = ledger.acknowledged
    report.problems.extend(f"during the load: {line}" for line in ledger.unexpected)
    report.seconds = time.monotonic() - began
    return report
