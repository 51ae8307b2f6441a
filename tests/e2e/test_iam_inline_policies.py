"""Inline policies of users, groups and roles through boto3 against the real server."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount

from .conftest import ClientFactory

KINDS = ("user", "group", "role")
QUOTAS = {"user": 2048, "group": 5120, "role": 10240}


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _policy(action: str = "iam:ListUsers", resource: str = "*", **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _create(root_iam: Any, account: NewAccount, kind: str, name: str) -> None:
    if kind == "user":
        root_iam.create_user(UserName=name)
    elif kind == "group":
        root_iam.create_group(GroupName=name)
    else:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))


class _Ops:
    """The four inline-policy calls of one entity kind, bound to an entity name."""

    def __init__(self, root_iam: Any, kind: str, name: str) -> None:
        self.iam = root_iam
        self.label = kind.capitalize()
        self.snake = kind
        self.name = name

    def _entity(self) -> dict[str, str]:
        return {f"{self.label}Name": self.name}

    def put(self, policy: str, document: dict[str, Any] | str) -> None:
        text = document if isinstance(document, str) else json.dumps(document)
        getattr(self.iam, f"put_{self.snake}_policy")(
            PolicyName=policy, PolicyDocument=text, **self._entity()
        )

    def get(self, policy: str) -> dict[str, Any]:
        method = getattr(self.iam, f"get_{self.snake}_policy")
        result: dict[str, Any] = method(PolicyName=policy, **self._entity())
        return result

    def names(self, **paging: Any) -> dict[str, Any]:
        method = getattr(self.iam, f"list_{self.snake}_policies")
        result: dict[str, Any] = method(**self._entity(), **paging)
        return result

    def delete(self, policy: str) -> None:
        getattr(self.iam, f"delete_{self.snake}_policy")(PolicyName=policy, **self._entity())


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ops(root_iam: Any, account: NewAccount, kind: str) -> _Ops:
    _create(root_iam, account, kind, "Owner")
    return _Ops(root_iam, kind, "Owner")


def test_put_get_list_delete(ops: _Ops, kind: str) -> None:
    first = _policy()
    second = _policy("iam:GetUser", "arn:aws:iam::*:user/*")
    ops.put("ReadUsers", first)
    ops.put("another", second)
    fetched = ops.get("ReadUsers")
    assert fetched[f"{ops.label}Name"] == "Owner"
    assert fetched["PolicyName"] == "ReadUsers"
    assert fetched["PolicyDocument"] == first  # boto3 URL-decodes and parses the document
    # Entity and policy names are case-insensitive.
    lowered = getattr(ops.iam, f"get_{kind}_policy")(
        PolicyName="readusers", **{f"{ops.label}Name": "OWNER"}
    )
    assert lowered[f"{ops.label}Name"] == "Owner"
    assert lowered["PolicyName"] == "ReadUsers"
    listed = ops.names()
    assert listed["PolicyNames"] == ["another", "ReadUsers"]
    assert listed["IsTruncated"] is False

    ops.delete("READUSERS")
    assert ops.names()["PolicyNames"] == ["another"]
    with pytest.raises(ClientError) as caught:
        ops.get("ReadUsers")
    assert _error(caught) == (
        "NoSuchEntity",
        404,
        f"The {kind} policy with name ReadUsers cannot be found.",
    )
    with pytest.raises(ClientError) as caught:
        ops.delete("ReadUsers")
    assert _error(caught) == (
        "NoSuchEntity",
        404,
        f"The {kind} policy with name ReadUsers cannot be found.",
    )
    ops.delete("another")
    assert ops.names()["PolicyNames"] == []


def test_put_overwrites_same_name_in_any_case(ops: _Ops) -> None:
    ops.put("Policy", _policy())
    replacement = _policy("iam:GetGroup")
    ops.put("POLICY", replacement)
    assert len(ops.names()["PolicyNames"]) == 1
    assert ops.get("policy")["PolicyDocument"] == replacement


def test_missing_entity(root_iam: Any, kind: str) -> None:
    ghost = _Ops(root_iam, kind, "ghost")
    message = f"The {kind} with name ghost cannot be found."
    calls = (
        lambda: ghost.put("p", _policy()),
        lambda: ghost.get("p"),
        lambda: ghost.names(),
        lambda: ghost.delete("p"),
    )
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught) == ("NoSuchEntity", 404, message)


def test_documents_are_url_encoded_on_the_wire(ops: _Ops, kind: str) -> None:
    document = _policy(
        "s3:GetObject",
        "arn:aws:s3:::bucket/a b+c%20&<é>",
        Condition={"StringLike": {"aws:UserAgent": "x&y=z"}},
    )
    text = json.dumps(document, indent=2)
    ops.put("encoded", text)
    bodies: list[str] = []

    def capture(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.text)

    ops.iam.meta.events.register(f"after-call.iam.Get{ops.label}Policy", capture)
    assert ops.get("encoded")["PolicyDocument"] == document
    # The document comes back as it was sent (whitespace kept), URL-encoded.
    assert f"<PolicyDocument>{quote(text, safe='-_.~')}</PolicyDocument>" in bodies[0]


def test_malformed_documents(ops: _Ops, kind: str) -> None:
    without_action = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}
    with pytest.raises(ClientError) as caught:
        ops.put("bad", without_action)
    code, status, message = _error(caught)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert "/Statement/0" in message and "actions" in message
    with pytest.raises(ClientError) as caught:
        ops.put("bad", '{"Version": "2012-10-17", "Statement": [')
    code, status, message = _error(caught)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert "Syntax errors in policy" in message
    # A trust-policy element has no place in an identity policy.
    with pytest.raises(ClientError) as caught:
        ops.put("bad", _policy(Principal={"AWS": "*"}))
    assert _error(caught)[:2] == ("MalformedPolicyDocument", 400)
    assert ops.names()["PolicyNames"] == []


def _sized(size: int) -> str:
    """An identity policy of exactly `size` characters (whitespace not counted)."""
    prefix = "arn:aws:s3:::"
    base = json.dumps(_policy(resource=prefix), separators=(",", ":"))
    filler = size - len(base)
    assert filler > 0
    return json.dumps(_policy(resource=prefix + "a" * filler), separators=(",", ":"))


def test_total_size_quota(ops: _Ops, kind: str) -> None:
    quota = QUOTAS[kind]
    message = f"Maximum policy size of {quota} bytes exceeded for {kind} Owner"
    with pytest.raises(ClientError) as caught:
        ops.put("huge", _sized(quota + 1))
    assert _error(caught) == ("LimitExceeded", 409, message)
    # Whitespace does not count: exactly the quota, padded with spaces, fits.
    exact = json.loads(_sized(quota))
    ops.put("exact", json.dumps(exact, indent=8))
    assert ops.get("exact")["PolicyDocument"] == exact
    # Overwriting a policy does not count its old document.
    ops.put("EXACT", _sized(quota))
    # The sum of all the entity's inline documents is what counts.
    ops.put("exact", _sized(quota - 200))
    with pytest.raises(ClientError) as caught:
        ops.put("second", _sized(201))
    assert _error(caught) == ("LimitExceeded", 409, message)
    ops.put("second", _sized(200))
    assert ops.names()["PolicyNames"] == ["exact", "second"]


def test_list_policies_paginates(ops: _Ops, kind: str) -> None:
    for index in range(5):
        ops.put(f"policy{index}", _policy(f"iam:Get{index}"))
    first = ops.names(MaxItems=2)
    assert first["IsTruncated"] is True
    names = list(first["PolicyNames"])
    marker = first["Marker"]
    while marker:
        following = ops.names(MaxItems=2, Marker=marker)
        names += following["PolicyNames"]
        marker = following.get("Marker")
    assert names == [f"policy{i}" for i in range(5)]
    paginator = ops.iam.get_paginator(f"list_{kind}_policies")
    pages = list(
        paginator.paginate(**{f"{ops.label}Name": "Owner"}, PaginationConfig={"PageSize": 3})
    )
    assert [n for p in pages for n in p["PolicyNames"]] == names
    assert len(pages) == 2


def test_deleting_an_entity_with_inline_policies_conflicts(ops: _Ops, kind: str) -> None:
    ops.put("keep", _policy())
    with pytest.raises(ClientError) as caught:
        getattr(ops.iam, f"delete_{kind}")(**{f"{ops.label}Name": "Owner"})
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    )
    ops.delete("keep")
    getattr(ops.iam, f"delete_{kind}")(**{f"{ops.label}Name": "Owner"})


def test_user_policy_changes_authorization_immediately(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="worker")
    key = root_iam.create_access_key(UserName="worker")["AccessKey"]
    worker = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    denied = (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{account.account_id}:user/worker is not authorized to perform: "
        f"iam:ListUsers on resource: arn:aws:iam::{account.account_id}:user/ because no "
        "identity-based policy allows the iam:ListUsers action",
    )
    with pytest.raises(ClientError) as caught:
        worker.list_users()
    assert _error(caught) == denied
    root_iam.put_user_policy(
        UserName="worker", PolicyName="list", PolicyDocument=json.dumps(_policy())
    )
    assert [u["UserName"] for u in worker.list_users()["Users"]] == ["worker"]
    # Only what the policy allows.
    with pytest.raises(ClientError) as caught:
        worker.list_groups()
    assert _error(caught)[:2] == ("AccessDenied", 403)
    root_iam.delete_user_policy(UserName="worker", PolicyName="list")
    with pytest.raises(ClientError) as caught:
        worker.list_users()
    assert _error(caught) == denied


def test_group_policy_changes_authorization_immediately(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="worker")
    root_iam.create_group(GroupName="crew")
    root_iam.add_user_to_group(GroupName="crew", UserName="worker")
    key = root_iam.create_access_key(UserName="worker")["AccessKey"]
    worker = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        worker.list_users()
    assert _error(caught)[:2] == ("AccessDenied", 403)
    root_iam.put_group_policy(
        GroupName="crew", PolicyName="list", PolicyDocument=json.dumps(_policy())
    )
    assert [u["UserName"] for u in worker.list_users()["Users"]] == ["worker"]
    root_iam.delete_group_policy(GroupName="crew", PolicyName="list")
    with pytest.raises(ClientError) as caught:
        worker.list_users()
    assert _error(caught)[:2] == ("AccessDenied", 403)
    root_iam.put_group_policy(
        GroupName="crew", PolicyName="list", PolicyDocument=json.dumps(_policy())
    )
    assert worker.list_users()["Users"]
    root_iam.remove_user_from_group(GroupName="crew", UserName="worker")
    with pytest.raises(ClientError) as caught:
        worker.list_users()
    assert _error(caught)[:2] == ("AccessDenied", 403)


def test_inline_policy_operations_are_authorized_on_the_entity(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="tester")
    _create(root_iam, account, "group", "staff")
    _create(root_iam, account, "role", "runner")
    key = root_iam.create_access_key(UserName="tester")["AccessKey"]
    tester = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    arn = f"arn:aws:iam::{account.account_id}:"
    document = json.dumps(_policy())
    calls: list[tuple[str, dict[str, Any], str, str]] = [
        (
            "put_user_policy",
            {"UserName": "tester", "PolicyDocument": document},
            "PutUserPolicy",
            f"{arn}user/tester",
        ),
        ("get_group_policy", {"GroupName": "staff"}, "GetGroupPolicy", f"{arn}group/staff"),
        ("list_role_policies", {"RoleName": "runner"}, "ListRolePolicies", f"{arn}role/runner"),
        ("delete_role_policy", {"RoleName": "runner"}, "DeleteRolePolicy", f"{arn}role/runner"),
    ]
    for method, params, action, resource in calls:
        if method != "list_role_policies":
            params = {**params, "PolicyName": "p"}
        with pytest.raises(ClientError) as caught:
            getattr(tester, method)(**params)
        assert _error(caught) == (
            "AccessDenied",
            403,
            f"User: {arn}user/tester is not authorized to perform: iam:{action} on resource: "
            f"{resource} because no identity-based policy allows the iam:{action} action",
        ), method
    # Allowed on its own user only: the user may then manage its own inline policies.
    own = _policy("iam:*UserPolic*", f"{arn}user/tester")
    root_iam.put_user_policy(UserName="tester", PolicyName="self", PolicyDocument=json.dumps(own))
    assert tester.list_user_policies(UserName="tester")["PolicyNames"] == ["self"]
    with pytest.raises(ClientError) as caught:
        tester.put_group_policy(GroupName="staff", PolicyName="p", PolicyDocument=document)
    assert _error(caught)[:2] == ("AccessDenied", 403)
