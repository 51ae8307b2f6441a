"""Concurrent writers never lose updates and quotas hold under races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount

from .conftest import ClientFactory


def _outcome(call: Any) -> str:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def test_third_access_key_is_refused_under_a_race(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="racer")
    clients = [client("iam", account.access_key_id, account.secret_access_key) for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(
            pool.map(lambda c: _outcome(lambda: c.create_access_key(UserName="racer")), clients)
        )
    assert sorted(outcomes) == ["LimitExceeded"] * 4 + ["ok"] * 2
    assert len(root_iam.list_access_keys(UserName="racer")["AccessKeyMetadata"]) == 2


def test_concurrent_creates_all_survive(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    clients = [client("iam", account.access_key_id, account.secret_access_key) for _ in range(8)]

    def create(index: int) -> str:
        return _outcome(lambda: clients[index].create_user(UserName=f"parallel{index}"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(create, range(8))) == ["ok"] * 8
    names = {user["UserName"] for user in root_iam.list_users()["Users"]}
    assert names == {f"parallel{i}" for i in range(8)}


def test_same_name_race_creates_exactly_one(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    clients = [client("iam", account.access_key_id, account.secret_access_key) for _ in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(
            pool.map(lambda c: _outcome(lambda: c.create_user(UserName="Same")), clients)
        )
    assert sorted(outcomes) == ["EntityAlreadyExists"] * 4 + ["ok"]
