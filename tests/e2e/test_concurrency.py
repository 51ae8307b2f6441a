"""Concurrent writers never lose updates and quotas hold under races."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount

from .conftest import ClientFactory
from .server import RunningServer


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


def test_concurrent_put_role_policy_calls_both_survive(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": account.account_id},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    root_iam.create_role(RoleName="busy", AssumeRolePolicyDocument=trust)
    clients = [client("iam", account.access_key_id, account.secret_access_key) for _ in range(6)]

    def put(index: int) -> str:
        document = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": f"s3:Get{index}", "Resource": "*"}],
            }
        )
        return _outcome(
            lambda: clients[index].put_role_policy(
                RoleName="busy", PolicyName=f"policy{index}", PolicyDocument=document
            )
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(put, range(6))) == ["ok"] * 6
    names = root_iam.list_role_policies(RoleName="busy")["PolicyNames"]
    assert sorted(names) == [f"policy{i}" for i in range(6)]


def test_a_policy_change_on_one_node_is_seen_by_another_at_once(
    server: RunningServer, root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    other = RunningServer(server.database.url).start()
    try:
        root_iam.create_user(UserName="roamer")
        key = root_iam.create_access_key(UserName="roamer")["AccessKey"]
        on_other_node = boto3.client(
            "iam",
            endpoint_url=other.url,
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        assert _outcome(on_other_node.list_users) == "AccessDenied"  # cached: no policy
        root_iam.put_user_policy(
            UserName="roamer",
            PolicyName="list",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}],
                }
            ),
        )
        assert _outcome(on_other_node.list_users) == "ok"
        root_iam.delete_user_policy(UserName="roamer", PolicyName="list")
        assert _outcome(on_other_node.list_users) == "AccessDenied"
        root_iam.update_access_key(
            UserName="roamer", AccessKeyId=key["AccessKeyId"], Status="Inactive"
        )
        assert _outcome(on_other_node.list_users) == "InvalidClientTokenId"
    finally:
        other.stop()


def test_a_bucket_policy_change_on_one_node_is_seen_by_another_at_once(
    server: RunningServer, root_iam: Any, account: NewAccount
) -> None:
    """Bucket rows are cached per node by the owner account's generation."""
    other = RunningServer(server.database.url).start()
    try:

        def s3_on(node: RunningServer, key_id: str, secret: str) -> Any:
            return boto3.client(
                "s3",
                endpoint_url=node.url,
                region_name="us-east-1",
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
            )

        owner = s3_on(server, account.access_key_id, account.secret_access_key)
        owner.create_bucket(Bucket="cached-policy")
        owner.put_object(Bucket="cached-policy", Key="k", Body=b"v")
        root_iam.create_user(UserName="reader")
        root_iam.put_user_policy(
            UserName="reader",
            PolicyName="read",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                }
            ),
        )
        key = root_iam.create_access_key(UserName="reader")["AccessKey"]
        reader = s3_on(other, key["AccessKeyId"], key["SecretAccessKey"])
        read = lambda: reader.get_object(Bucket="cached-policy", Key="k")  # noqa: E731
        assert _outcome(read) == "ok"  # the other node now caches the bucket row
        deny = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::cached-policy/*",
                }
            ],
        }
        owner.put_bucket_policy(Bucket="cached-policy", Policy=json.dumps(deny))
        assert _outcome(read) == "AccessDenied"
        owner.delete_bucket_policy(Bucket="cached-policy")
        assert _outcome(read) == "ok"
        owner.delete_object(Bucket="cached-policy", Key="k")
        owner.delete_bucket(Bucket="cached-policy")
        assert _outcome(read) == "NoSuchBucket"
    finally:
        other.stop()
