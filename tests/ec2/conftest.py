"""EC2 fixtures: the e2e server (SQLite and PostgreSQL), a fresh account per test, and EC2
clients signed as its root or as an IAM user with a given policy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import e2e.conftest as e2e_fixtures
from rolegate.iam.accounts import NewAccount

# The e2e fixtures as they are.
server = e2e_fixtures.server
make_account = e2e_fixtures.make_account
account = e2e_fixtures.account
client = e2e_fixtures.client
root_iam = e2e_fixtures.root_iam
_reset_clock = e2e_fixtures._reset_clock

UserClients = Callable[..., dict[str, Any]]


@pytest.fixture
def root_ec2(account: NewAccount, client: e2e_fixtures.ClientFactory) -> Any:
    return client("ec2", account.access_key_id, account.secret_access_key)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def user_clients(root_iam: Any, client: e2e_fixtures.ClientFactory) -> UserClients:
    """`user_clients(*statements)`: a new user with that inline policy; its ec2 and sts
    clients (`{"ec2": ..., "sts": ..., "arn": ...}`)."""

    def make(*statements: dict[str, Any]) -> dict[str, Any]:
        name = f"u{uuid.uuid4().hex[:10]}"
        user = root_iam.create_user(UserName=name)["User"]
        root_iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
        key = root_iam.create_access_key(UserName=name)["AccessKey"]
        pair = (key["AccessKeyId"], key["SecretAccessKey"])
        return {"ec2": client("ec2", *pair), "sts": client("sts", *pair), "arn": user["Arn"]}

    return make
