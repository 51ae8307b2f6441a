"""Users and access keys through boto3 against the real server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount

from .conftest import ClientFactory


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_create_get_list_update_delete_user(root_iam: Any, account: NewAccount) -> None:
    created = root_iam.create_user(
        UserName="alice", Path="/dev/", Tags=[{"Key": "team", "Value": "blue"}]
    )["User"]
    assert created["Arn"] == f"arn:aws:iam::{account.account_id}:user/dev/alice"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    fetched = root_iam.get_user(UserName="ALICE")["User"]
    assert fetched["UserId"] == created["UserId"]
    assert fetched["Tags"] == [{"Key": "team", "Value": "blue"}]
    root_iam.update_user(UserName="alice", NewUserName="alicia", NewPath="/ops/")
    assert root_iam.get_user(UserName="alicia")["User"]["Path"] == "/ops/"
    assert [u["UserName"] for u in root_iam.list_users()["Users"]] == ["alicia"]
    root_iam.delete_user(UserName="alicia")
    with pytest.raises(ClientError) as caught:
        root_iam.get_user(UserName="alicia")
    assert _error(caught) == ("NoSuchEntity", 404, "The user with name alicia cannot be found.")


def test_duplicate_names_are_case_insensitive(root_iam: Any) -> None:
    root_iam.create_user(UserName="Bob")
    with pytest.raises(ClientError) as caught:
        root_iam.create_user(UserName="bob")
    assert _error(caught) == ("EntityAlreadyExists", 409, "User with name bob already exists.")


def test_invalid_names_are_validation_errors(root_iam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        root_iam.create_user(UserName="x" * 65)
    code, status, message = _error(caught)
    assert (code, status) == ("ValidationError", 400)
    assert "userName" in message


def test_unprivileged_user_gets_access_denied(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="tester")
    key = root_iam.create_access_key(UserName="tester")["AccessKey"]
    tester = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        tester.create_user(UserName="mallory")
    assert _error(caught) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{account.account_id}:user/tester is not authorized to perform: "
        f"iam:CreateUser on resource: arn:aws:iam::{account.account_id}:user/mallory because "
        "no identity-based policy allows the iam:CreateUser action",
    )


def test_access_key_lifecycle_and_quota(root_iam: Any, client: ClientFactory) -> None:
    root_iam.create_user(UserName="carol")
    first = root_iam.create_access_key(UserName="carol")["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40
    root_iam.create_access_key(UserName="carol")
    with pytest.raises(ClientError) as caught:
        root_iam.create_access_key(UserName="carol")
    assert _error(caught) == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for AccessKeysPerUser: 2",
    )
    listed = root_iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]
    assert {k["Status"] for k in listed} == {"Active"}
    root_iam.update_access_key(
        UserName="carol", AccessKeyId=first["AccessKeyId"], Status="Inactive"
    )
    carol = client("iam", first["AccessKeyId"], first["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        carol.get_user()
    assert _error(caught)[:2] == ("InvalidClientTokenId", 403)
    with pytest.raises(ClientError) as caught:
        root_iam.delete_user(UserName="carol")
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete access keys first.",
    )
    for key in listed:
        root_iam.delete_access_key(UserName="carol", AccessKeyId=key["AccessKeyId"])
    root_iam.delete_user(UserName="carol")


def test_wrong_secret_and_unknown_key(account: NewAccount, client: ClientFactory) -> None:
    wrong = client("iam", account.access_key_id, "x" * 40)
    with pytest.raises(ClientError) as caught:
        wrong.get_user()
    assert _error(caught)[:2] == ("SignatureDoesNotMatch", 403)
    unknown = client("iam", "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    with pytest.raises(ClientError) as caught:
        unknown.get_user()
    assert _error(caught)[:2] == ("InvalidClientTokenId", 403)


def test_list_users_paginates(root_iam: Any) -> None:
    for index in range(7):
        root_iam.create_user(UserName=f"user{index}")
    first = root_iam.list_users(MaxItems=3)
    assert first["IsTruncated"] is True
    names = [u["UserName"] for u in first["Users"]]
    marker = first["Marker"]
    while marker:
        following = root_iam.list_users(MaxItems=3, Marker=marker)
        names += [u["UserName"] for u in following["Users"]]
        marker = following.get("Marker")
    assert names == [f"user{i}" for i in range(7)]
    paginator = root_iam.get_paginator("list_users")
    assert sum(len(p["Users"]) for p in paginator.paginate(PaginationConfig={"PageSize": 2})) == 7


def test_account_alias_and_summary(root_iam: Any, account: NewAccount) -> None:
    alias = f"acct-{account.account_id}"
    root_iam.create_account_alias(AccountAlias=alias)
    assert root_iam.list_account_aliases()["AccountAliases"] == [alias]
    root_iam.create_user(UserName="dave")
    summary = root_iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] == 1
    assert summary["AccountAccessKeysPresent"] == 1
    root_iam.delete_account_alias(AccountAlias=alias)
    assert root_iam.list_account_aliases()["AccountAliases"] == []


def test_each_key_authenticates_its_own_user(root_iam: Any, client: ClientFactory) -> None:
    """Regression: the key owner must be joined on the key's user, not on the account."""
    keys = {}
    for name in ("first", "second", "third"):
        root_iam.create_user(UserName=name)
        keys[name] = root_iam.create_access_key(UserName=name)["AccessKey"]
    for name, key in keys.items():
        sts = client("sts", key["AccessKeyId"], key["SecretAccessKey"])
        assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
