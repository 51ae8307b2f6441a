"""The real entry points: `rolegate serve` as a process, `rolegate account create`, the aws CLI,
a restart that keeps everything, and a clean shutdown on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .server import free_port

AWS = str(Path(sys.executable).with_name("aws"))


class ServerProcess:
    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rolegate",
                "serve",
                "--port",
                str(self.port),
                "--data",
                str(self.data_dir),
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.url + "/", timeout=1)
                return self
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    output = self.process.stdout.read() if self.process.stdout else b""
                    raise RuntimeError(f"server did not start: {output.decode()}") from None
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        if self.process.stdout:
            self.process.stdout.close()
        return code


def _rolegate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rolegate", *args], capture_output=True, text=True, check=False
    )


def _aws(server: ServerProcess, home: Path, key: dict[str, str], *args: str) -> Any:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.url,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
    }
    result = subprocess.run(
        [AWS, *args, "--output", "json"], capture_output=True, text=True, env=env, check=False
    )
    return result


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(tmp_path / "data").start()
    yield running
    if running.process is not None and running.process.poll() is None:
        running.stop()


def test_account_cli_aws_cli_and_restart(served: ServerProcess, tmp_path: Path) -> None:
    created = _rolegate(
        "account", "create", "--alias", "development", "--data", str(served.data_dir)
    )
    assert created.returncode == 0, created.stderr
    root = json.loads(created.stdout)
    assert set(root) == {"AccountId", "Alias", "AccessKeyId", "SecretAccessKey"}
    assert root["Alias"] == "development" and len(root["AccountId"]) == 12

    made = _aws(served, tmp_path, root, "iam", "create-user", "--user-name", "alice")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["User"]["Arn"] == (
        f"arn:aws:iam::{root['AccountId']}:user/alice"
    )
    key = json.loads(
        _aws(served, tmp_path, root, "iam", "create-access-key", "--user-name", "alice").stdout
    )["AccessKey"]
    denied = _aws(served, tmp_path, key, "iam", "list-users")
    assert denied.returncode != 0
    assert "AccessDenied" in denied.stderr
    missing = _aws(served, tmp_path, root, "iam", "get-user", "--user-name", "nobody")
    assert "NoSuchEntity" in missing.stderr

    listed = _rolegate("account", "list", "--data", str(served.data_dir))
    assert [a["Alias"] for a in json.loads(listed.stdout)] == ["development"]

    assert served.stop() == 0
    served.start()
    users = json.loads(_aws(served, tmp_path, root, "iam", "list-users").stdout)["Users"]
    assert [u["UserName"] for u in users] == ["alice"]
    keys = json.loads(
        _aws(served, tmp_path, root, "iam", "list-access-keys", "--user-name", "alice").stdout
    )["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key["AccessKeyId"]]


def test_account_create_rejects_bad_input(tmp_path: Path) -> None:
    bad_alias = _rolegate("account", "create", "--alias", "Not_Valid", "--data", str(tmp_path))
    assert bad_alias.returncode == 1
    assert "ValidationError" in bad_alias.stderr
    assert "Traceback" not in bad_alias.stderr
    ok = _rolegate(
        "account", "create", "--alias", "prod", "--id", "444455556666", "--data", str(tmp_path)
    )
    assert ok.returncode == 0
    again = _rolegate(
        "account", "create", "--alias", "prod2", "--id", "444455556666", "--data", str(tmp_path)
    )
    assert again.returncode == 1 and "EntityAlreadyExists" in again.stderr


def test_sigint_shuts_down_cleanly(served: ServerProcess) -> None:
    assert served.stop(signal.SIGINT) == 0


def test_serve_demo_loads_the_world_and_profiles_work(tmp_path: Path) -> None:
    """`make run` is `rolegate serve --demo`: the world is built through the endpoint."""
    served = ServerProcess(tmp_path / "data", "--demo").start()
    try:
        deadline = time.monotonic() + 60
        while not (served.data_dir / "demo.json").exists():
            assert time.monotonic() < deadline, "demo world not built"
            time.sleep(0.2)
        time.sleep(0.5)
        env = _rolegate("demo", "env", "--data", str(served.data_dir))
        assert env.returncode == 0, env.stderr
        assert "[profile rolegate-updateapp-mfa]" in env.stdout
        home = tmp_path / "home"
        home.mkdir()
        (home / "config").write_text(env.stdout, encoding="utf-8")
        result = subprocess.run(
            [
                AWS,
                "sts",
                "get-caller-identity",
                "--profile",
                "rolegate-updateapp",
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            check=False,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(home),
                "AWS_CONFIG_FILE": str(home / "config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            },
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["Arn"].startswith(
            "arn:aws:sts::444455556666:assumed-role/UpdateApp/"
        )
        listing = subprocess.run(
            [AWS, "s3", "ls", "s3://productionapp/", "--profile", "rolegate-updateapp"],
            capture_output=True,
            text=True,
            check=False,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(home),
                "AWS_CONFIG_FILE": str(home / "config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            },
        )
        assert listing.returncode == 0, listing.stderr
        assert "README.txt" in listing.stdout
        code = _rolegate("demo", "mfa-code", "--data", str(served.data_dir))
        assert code.returncode == 0 and len(code.stdout.strip()) == 6
    finally:
        served.stop()
    # a second start finds the world and keeps it
    again = ServerProcess(tmp_path / "data", "--demo").start()
    try:
        listed = _rolegate("account", "list", "--data", str(again.data_dir))
        assert [a["Alias"] for a in json.loads(listed.stdout)] == ["development", "production"]
    finally:
        again.stop()


def test_several_worker_processes_share_the_store(tmp_path: Path) -> None:
    served = ServerProcess(tmp_path / "data", "--workers", "2").start()
    try:
        created = _rolegate("account", "create", "--alias", "multi", "--data", str(served.data_dir))
        root = json.loads(created.stdout)
        for index in range(6):  # spread over both processes
            made = _aws(served, tmp_path, root, "iam", "create-user", "--user-name", f"u{index}")
            assert made.returncode == 0, made.stderr
        users = json.loads(_aws(served, tmp_path, root, "iam", "list-users").stdout)["Users"]
        assert sorted(u["UserName"] for u in users) == [f"u{i}" for i in range(6)]
        # Keep-alive connections end now and then (so that they spread over the workers);
        # a client just reconnects.
        with httpx.Client(base_url=served.url, timeout=10) as client:
            answers = [client.get("/") for _ in range(250)]
        assert {answer.status_code for answer in answers} == {403}
        assert sum(a.headers.get("connection") == "close" for a in answers) >= 1
    finally:
        assert served.stop() == 0
