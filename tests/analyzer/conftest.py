"""Access Analyzer fixtures: one real server on loopback (SQLite) for the module, fresh
accounts, boto3 clients of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]

from e2e.server import RunningServer
from rolegate.iam.accounts import NewAccount, create_account

REGION = "us-east-1"
Clients = Callable[..., Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data: Path = tmp_path_factory.mktemp("rolegate-analyzer")
    running = RunningServer.sqlite(data)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def make_account(server: RunningServer) -> Callable[..., NewAccount]:
    def make(alias: str | None = None, account_id: str | None = None) -> NewAccount:
        with server.database.write() as uow:
            return create_account(uow, alias, account_id)

    return make


@pytest.fixture
def account(make_account: Callable[..., NewAccount]) -> NewAccount:
    return make_account()


@pytest.fixture
def clients(server: RunningServer, account: NewAccount) -> Clients:
    """`clients("accessanalyzer")`: a boto3 client signed with the account's root key."""

    def make(service: str, *, validate: bool = True, key: tuple[str, str] | None = None) -> Any:
        key_id, secret = key or (account.access_key_id, account.secret_access_key)
        return boto3.client(
            service,
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(
                retries={"max_attempts": 1},
                parameter_validation=validate,
                signature_version="s3v4" if service == "s3" else None,
            ),
        )

    return make
