"""The world of the reliability scenarios (bench/reliability.py): a temporary store,
`rolegate serve` child processes on free loopback ports, boto3 clients, the account they load.

The store is the embedded SQLite one (`sqlite`) or a database of a throwaway PostgreSQL
cluster (`postgresql`, the tests' `support.postgres.PostgresCluster`), or a given URL.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Self

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from rolegate.bootstrap import open_database
from rolegate.iam.accounts import create_account
from rolegate.store.database import Database, default_sqlite_url

__all__ = [
    "BUCKET",
    "ServerProcess",
    "Store",
    "World",
    "client",
    "error_code",
    "free_port",
    "md5_hex",
    "policy_document",
    "provision",
    "temporary_store",
    "token_key_id",
]

REGION: Final = "us-east-1"
BUCKET: Final = "reliability"
ROLE: Final = "reliability-role"
ADMIN_POLICY: Final = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
_TESTS: Final = Path(__file__).resolve().parents[1] / "tests"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Store:
    """Where a scenario's data lives: the data dir (S3 bytes, SQLite) and, for PostgreSQL, a URL."""

    kind: str
    data: Path
    db_url: str | None = None

    @property
    def url(self) -> str:
        return self.db_url or default_sqlite_url(self.data)

    def open(self) -> Database:
        return open_database(self.url)


@contextlib.contextmanager
def temporary_store(kind: str, db_url: str | None = None) -> Iterator[Store]:
    """A fresh store in a temp dir; `postgresql` without `db_url` starts a throwaway cluster."""
    with tempfile.TemporaryDirectory(prefix="rolegate-reliability-") as directory:
        data = Path(directory) / "data"
        if kind == "sqlite" or db_url is not None:
            yield Store(kind, data, db_url)
            return
        sys.path.insert(0, str(_TESTS))
        from support.postgres import PostgresCluster  # type: ignore[import-not-found,unused-ignore]

        with PostgresCluster() as cluster:
            yield Store(kind, data, cluster.create_database("reliability"))


class ServerProcess:
    """`rolegate serve` as a child process on a free loopback port (log in the data dir)."""

    def __init__(self, store: Store, env: dict[str, str] | None = None, name: str = "a") -> None:
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.log = store.data.parent / f"server-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        command = [sys.executable, "-m", "rolegate", "serve", "--port", str(self.port)]
        command += ["--data", str(self.store.data)]
        if self.store.db_url:
            command += ["--db", self.store.db_url]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"rolegate serve exited with {self.process.returncode}:\n{tail}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("rolegate serve did not start within 60 s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")


_SESSION = boto3.session.Session()  # one session: its loader parses each service model once
_SESSION_LOCK = threading.Lock()  # creating clients from one session is not thread-safe


def client(url: str, service: str, credentials: dict[str, str]) -> Any:
    with _SESSION_LOCK:
        return _SESSION.client(
            service,
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials.get("SessionToken"),
            config=Config(
                retries={"max_attempts": 1},
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=60,
                max_pool_connections=4,
            ),
        )


def token_key_id(token: str) -> str:
    """The id of the key that sealed a rolegate session token (its clear header)."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[4 : 4 + raw[3]].decode()


@dataclass
class World:
    """The account the load runs in: an admin user's key, a role to assume, one bucket."""

    account_id: str
    driver: dict[str, str]
    role_arn: str


def provision(store: Store, url: str) -> World:
    """Create the account in the store, then the driver user, role and bucket through `url`."""
    database = store.open()
    try:
        with database.write() as uow:
            root = create_account(uow, "reliability").to_json()
    finally:
        database.dispose()
    iam = client(url, "iam", root)
    iam.create_user(UserName="driver")
    iam.put_user_policy(UserName="driver", PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName="driver")["AccessKey"]
    account_id = root["AccountId"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=ROLE, PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    driver = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    client(url, "s3", driver).create_bucket(Bucket=BUCKET)
    return World(account_id, driver, role["Arn"])


def policy_document(value: Any) -> Any:
    return json.loads(urllib.parse.unquote(value)) if isinstance(value, str) else value


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code"))
    return type(error).__name__
