"""End-to-end fixtures: a real server on loopback, real boto3 clients, fresh accounts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from rolegate.iam.accounts import NewAccount, create_account

from .server import RunningServer

ClientFactory = Callable[..., Any]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The real server, once on the embedded SQLite store and once on PostgreSQL."""
    if request.param == "sqlite":
        running = RunningServer.sqlite(tmp_path_factory.mktemp("rolegate-data"))
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        # A fresh database each time: other directories reuse this fixture, and pytest may
        # set a session fixture up again when the test order switches between its params.
        running = RunningServer(
            cluster.create_database(f"rolegate_e2e_{uuid.uuid4().hex[:12]}"),
            tmp_path_factory.mktemp("rolegate-s3"),
        )
    running.start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _reset_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Undo a test's moves of the server clock (only for tests that use the shared server)."""
    yield
    if "server" in request.fixturenames:
        server: RunningServer = request.getfixturevalue("server")
        server.clock.reset()


@pytest.fixture
def make_account(server: RunningServer) -> Callable[..., NewAccount]:
    """Create a fresh account (random id) directly in the store."""

    def make(alias: str | None = None, account_id: str | None = None) -> NewAccount:
        with server.database.write() as uow:
            return create_account(uow, alias, account_id)

    return make


@pytest.fixture
def client(server: RunningServer) -> ClientFactory:
    """`client("iam", key_id, secret, token=None)`: a boto3 client for the test server."""

    def make(service: str, key_id: str, secret: str, token: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 1}),
        )

    return make


@pytest.fixture
def account(make_account: Callable[..., NewAccount]) -> NewAccount:
    return make_account()


@pytest.fixture
def root_iam(account: NewAccount, client: ClientFactory) -> Any:
    """An IAM client signed with the fresh account's root key."""
    return client("iam", account.access_key_id, account.secret_access_key)
