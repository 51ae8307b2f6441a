"""Roles through boto3 against the real server: lifecycle, trust policies, tags, boundaries."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import delete, insert

from rolegate.iam.accounts import NewAccount
from rolegate.ids import POLICY_ID_PREFIX, iam_arn, new_unique_id
from rolegate.store.schema import (
    inline_policies,
    managed_policies,
    policy_attachments,
    policy_versions,
)

from .conftest import ClientFactory
from .server import RunningServer

ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _trust(*principals: str, **statement: Any) -> dict[str, Any]:
    principal: Any = {"AWS": list(principals)} if principals else {"Service": "ec2.amazonaws.com"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **statement}
        ],
    }


def _create(iam: Any, name: str, document: dict[str, Any] | None = None, **extra: Any) -> Any:
    text = json.dumps(document or _trust())
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=text, **extra)["Role"]


def _managed_policy(server: RunningServer, account_id: str, name: str) -> str:
    """A customer managed policy put straight into the store (its operations live elsewhere)."""
    arn = iam_arn(account_id, "policy", "/", name)
    policy_id = new_unique_id(POLICY_ID_PREFIX)
    with server.database.write() as uow:
        now = uow.now
        uow.connection.execute(
            insert(managed_policies).values(
                id=policy_id,
                account_id=account_id,
                name=name,
                name_key=name.lower(),
                path="/",
                arn=arn,
                default_version="v1",
                next_version=2,
                created_at=now,
                updated_at=now,
            )
        )
        uow.connection.execute(
            insert(policy_versions).values(
                policy_id=policy_id, version_id="v1", document=ALLOW_ALL, created_at=now
            )
        )
    return arn


def test_create_get_list_update_delete_role(root_iam: Any, account: NewAccount) -> None:
    document = _trust(account.account_id)
    created = _create(
        root_iam,
        "deployer",
        document,
        Path="/ci/",
        Description="Deploys things",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    assert created["Arn"] == f"arn:aws:iam::{account.account_id}:role/ci/deployer"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == document
    assert created["Description"] == "Deploys things"
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]

    fetched = root_iam.get_role(RoleName="DEPLOYER")["Role"]
    assert fetched["RoleName"] == "deployer"
    assert fetched["RoleId"] == created["RoleId"]
    assert fetched["Path"] == "/ci/"
    assert fetched["MaxSessionDuration"] == 7200
    assert fetched["AssumeRolePolicyDocument"] == document
    assert fetched["RoleLastUsed"] == {}
    assert fetched["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert "PermissionsBoundary" not in fetched

    root_iam.update_role(RoleName="deployer", Description="Ships", MaxSessionDuration=43200)
    fetched = root_iam.get_role(RoleName="deployer")["Role"]
    assert (fetched["Description"], fetched["MaxSessionDuration"]) == ("Ships", 43200)
    updated = root_iam.update_role_description(RoleName="deployer", Description="Releases")
    assert updated["Role"]["Description"] == "Releases"
    assert updated["Role"]["Arn"] == created["Arn"]

    listed = root_iam.list_roles()["Roles"]
    assert [role["RoleName"] for role in listed] == ["deployer"]
    assert listed[0]["AssumeRolePolicyDocument"] == document
    assert listed[0]["Description"] == "Releases"
    assert "Tags" not in listed[0] and "RoleLastUsed" not in listed[0]

    root_iam.delete_role(RoleName="deployer")
    with pytest.raises(ClientError) as caught:
        root_iam.get_role(RoleName="deployer")
    assert _error(caught) == ("NoSuchEntity", 404, "The role with name deployer cannot be found.")
    assert root_iam.list_roles()["Roles"] == []


def test_defaults(root_iam: Any) -> None:
    created = _create(root_iam, "plain")
    assert created["Path"] == "/"
    assert "Description" not in created and "Tags" not in created
    fetched = root_iam.get_role(RoleName="plain")["Role"]
    assert fetched["MaxSessionDuration"] == 3600
    assert "Description" not in fetched


def test_documents_are_url_encoded_on_the_wire(root_iam: Any, account: NewAccount) -> None:
    document = _trust(
        account.account_id, Condition={"StringLike": {"sts:ExternalId": "a b+c%20&<é>"}}
    )
    _create(root_iam, "encoded", document)
    bodies: list[str] = []

    def capture(http_response: Any, **_: Any) -> None:
        bodies.append(http_response.text)

    root_iam.meta.events.register("after-call.iam.GetRole", capture)
    assert root_iam.get_role(RoleName="encoded")["Role"]["AssumeRolePolicyDocument"] == document
    text = json.dumps(document)
    assert f"<AssumeRolePolicyDocument>{quote(text, safe='-_.~')}<" in bodies[0]


def test_duplicate_names_are_case_insensitive(root_iam: Any) -> None:
    _create(root_iam, "Builder")
    with pytest.raises(ClientError) as caught:
        _create(root_iam, "builder")
    assert _error(caught) == ("EntityAlreadyExists", 409, "Role with name builder already exists.")


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("get_role", {}),
        ("delete_role", {}),
        ("update_role", {"Description": "x"}),
        ("update_role_description", {"Description": "x"}),
        ("update_assume_role_policy", {"PolicyDocument": json.dumps(_trust())}),
        ("tag_role", {"Tags": [{"Key": "k", "Value": "v"}]}),
        ("untag_role", {"TagKeys": ["k"]}),
        ("list_role_tags", {}),
        ("delete_role_permissions_boundary", {}),
    ],
)
def test_missing_role(root_iam: Any, method: str, extra: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as caught:
        getattr(root_iam, method)(RoleName="ghost", **extra)
    assert _error(caught) == ("NoSuchEntity", 404, "The role with name ghost cannot be found.")


def test_trust_policy_with_resource_is_malformed(root_iam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        _create(root_iam, "bad", _trust(Resource="*"))
    code, status, message = _error(caught)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert "/Statement/0/Resource" in message
    assert "Has prohibited field Resource" in message


def test_trust_policy_without_principal_is_malformed(root_iam: Any) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}],
    }
    with pytest.raises(ClientError) as caught:
        _create(root_iam, "bad", document)
    code, status, message = _error(caught)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert message == "/Statement/0: Missing required field Principal"
    with pytest.raises(ClientError) as caught:
        root_iam.create_role(RoleName="bad", AssumeRolePolicyDocument="{not json")
    assert _error(caught)[:2] == ("MalformedPolicyDocument", 400)
    assert root_iam.list_roles()["Roles"] == []


def test_trust_policy_size_quota(root_iam: Any, account: NewAccount) -> None:
    filler = "x" * 2100
    with pytest.raises(ClientError) as caught:
        _create(root_iam, "big", _trust(Condition={"StringEquals": {"sts:ExternalId": filler}}))
    assert _error(caught) == ("LimitExceeded", 409, "Cannot exceed quota for ACLSizePerRole: 2048")
    # Whitespace does not count against the quota.
    padded = json.dumps(_trust(account.account_id), indent=400)
    assert len(padded) > 2048
    root_iam.create_role(RoleName="padded", AssumeRolePolicyDocument=padded)
    _create(root_iam, "small")
    with pytest.raises(ClientError) as caught:
        root_iam.update_assume_role_policy(
            RoleName="small",
            PolicyDocument=json.dumps(
                _trust(Condition={"StringEquals": {"sts:ExternalId": filler}})
            ),
        )
    assert _error(caught) == ("LimitExceeded", 409, "Cannot exceed quota for ACLSizePerRole: 2048")


def test_max_session_duration_range(
    root_iam: Any, server: RunningServer, account: NewAccount
) -> None:
    with pytest.raises(ClientError) as caught:
        _create(root_iam, "long", MaxSessionDuration=43201)
    assert _error(caught) == (
        "ValidationError",
        400,
        "1 validation error detected: Value '43201' at 'maxSessionDuration' failed to satisfy "
        "constraint: Member must have value less than or equal to 43200",
    )
    # boto3 refuses values under the minimum itself; a client that does not validate sends them.
    unchecked = boto3.client(
        "iam",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    with pytest.raises(ClientError) as caught:
        _create(unchecked, "short", MaxSessionDuration=100)
    assert _error(caught) == (
        "ValidationError",
        400,
        "1 validation error detected: Value '100' at 'maxSessionDuration' failed to satisfy "
        "constraint: Member must have value greater than or equal to 3600",
    )
    _create(root_iam, "ok")
    with pytest.raises(ClientError) as caught:
        root_iam.update_role(RoleName="ok", MaxSessionDuration=50000)
    assert _error(caught)[:2] == ("ValidationError", 400)
    assert root_iam.get_role(RoleName="ok")["Role"]["MaxSessionDuration"] == 3600


def test_update_assume_role_policy(root_iam: Any, account: NewAccount) -> None:
    _create(root_iam, "switch")
    replacement = _trust(f"arn:aws:iam::{account.account_id}:root")
    root_iam.update_assume_role_policy(RoleName="switch", PolicyDocument=json.dumps(replacement))
    assert root_iam.get_role(RoleName="switch")["Role"]["AssumeRolePolicyDocument"] == replacement
    with pytest.raises(ClientError) as caught:
        root_iam.update_assume_role_policy(
            RoleName="switch", PolicyDocument=json.dumps(_trust(NotResource="*"))
        )
    code, status, message = _error(caught)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert "/Statement/0/NotResource" in message
    assert root_iam.get_role(RoleName="switch")["Role"]["AssumeRolePolicyDocument"] == replacement


def test_delete_conflicts(root_iam: Any, server: RunningServer, account: NewAccount) -> None:
    role_id = _create(root_iam, "busy")["RoleId"]
    with server.database.write() as uow:
        uow.connection.execute(
            insert(inline_policies).values(
                entity_id=role_id, name="inline", name_key="inline", document=ALLOW_ALL
            )
        )
    with pytest.raises(ClientError) as caught:
        root_iam.delete_role(RoleName="busy")
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    )
    policy_arn = _managed_policy(server, account.account_id, "attached")
    with server.database.write() as uow:
        uow.connection.execute(
            delete(inline_policies).where(inline_policies.c.entity_id == role_id)
        )
        policy_id = uow.connection.execute(
            managed_policies.select()
            .with_only_columns(managed_policies.c.id)
            .where(managed_policies.c.arn == policy_arn)
        ).scalar_one()
        uow.connection.execute(
            insert(policy_attachments).values(
                entity_id=role_id, policy_id=policy_id, entity_type="role"
            )
        )
    with pytest.raises(ClientError) as caught:
        root_iam.delete_role(RoleName="busy")
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    )
    with server.database.write() as uow:
        uow.connection.execute(
            delete(policy_attachments).where(policy_attachments.c.entity_id == role_id)
        )
    root_iam.delete_role(RoleName="busy")


def test_list_roles_paginates_and_filters_by_path(root_iam: Any) -> None:
    for index in range(7):
        _create(root_iam, f"role{index}", Path="/app/" if index % 2 else "/")
    first = root_iam.list_roles(MaxItems=3)
    assert first["IsTruncated"] is True
    names = [r["RoleName"] for r in first["Roles"]]
    marker = first["Marker"]
    while marker:
        following = root_iam.list_roles(MaxItems=3, Marker=marker)
        names += [r["RoleName"] for r in following["Roles"]]
        marker = following.get("Marker")
    assert names == [f"role{i}" for i in range(7)]
    paginator = root_iam.get_paginator("list_roles")
    pages = paginator.paginate(PathPrefix="/app/", PaginationConfig={"PageSize": 2})
    assert [r["RoleName"] for p in pages for r in p["Roles"]] == ["role1", "role3", "role5"]


def test_role_tags(root_iam: Any) -> None:
    _create(root_iam, "tagged", Tags=[{"Key": "env", "Value": "dev"}])
    root_iam.tag_role(
        RoleName="tagged",
        Tags=[{"Key": "ENV", "Value": "prod"}, {"Key": "owner", "Value": "ops"}],
    )
    assert root_iam.list_role_tags(RoleName="tagged")["Tags"] == [
        {"Key": "ENV", "Value": "prod"},
        {"Key": "owner", "Value": "ops"},
    ]
    first = root_iam.list_role_tags(RoleName="tagged", MaxItems=1)
    assert first["IsTruncated"] is True and len(first["Tags"]) == 1
    root_iam.untag_role(RoleName="tagged", TagKeys=["env"])
    assert root_iam.get_role(RoleName="tagged")["Role"]["Tags"] == [
        {"Key": "owner", "Value": "ops"}
    ]
    with pytest.raises(ClientError) as caught:
        root_iam.tag_role(
            RoleName="tagged", Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]
        )
    assert _error(caught) == (
        "InvalidInput",
        400,
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    )
    with pytest.raises(ClientError) as caught:
        root_iam.tag_role(
            RoleName="tagged", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]
        )
    assert _error(caught) == ("LimitExceeded", 409, "Cannot exceed quota for TagsPerEntity: 50.")


def test_permissions_boundary(root_iam: Any, server: RunningServer, account: NewAccount) -> None:
    boundary = _managed_policy(server, account.account_id, "fence")
    created = _create(root_iam, "fenced", PermissionsBoundary=boundary)
    expected = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    assert created["PermissionsBoundary"] == expected
    assert root_iam.get_role(RoleName="fenced")["Role"]["PermissionsBoundary"] == expected
    root_iam.delete_role_permissions_boundary(RoleName="fenced")
    assert "PermissionsBoundary" not in root_iam.get_role(RoleName="fenced")["Role"]
    root_iam.put_role_permissions_boundary(RoleName="fenced", PermissionsBoundary=boundary)
    assert root_iam.get_role(RoleName="fenced")["Role"]["PermissionsBoundary"] == expected
    missing = iam_arn(account.account_id, "policy", "/", "nothing")
    message = f"Scope ARN: {missing} does not exist or is not attachable."
    with pytest.raises(ClientError) as caught:
        root_iam.put_role_permissions_boundary(RoleName="fenced", PermissionsBoundary=missing)
    assert _error(caught) == ("NoSuchEntity", 404, message)
    with pytest.raises(ClientError) as caught:
        _create(root_iam, "unfenced", PermissionsBoundary=missing)
    assert _error(caught) == ("NoSuchEntity", 404, message)


def test_unprivileged_user_gets_access_denied(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="tester")
    key = root_iam.create_access_key(UserName="tester")["AccessKey"]
    tester = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        _create(tester, "escalate", Path="/x/")
    assert _error(caught) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{account.account_id}:user/tester is not authorized to perform: "
        f"iam:CreateRole on resource: arn:aws:iam::{account.account_id}:role/x/escalate "
        "because no identity-based policy allows the iam:CreateRole action",
    )
    _create(root_iam, "existing", Path="/p/")
    with pytest.raises(ClientError) as caught:
        tester.get_role(RoleName="existing")
    assert f"on resource: arn:aws:iam::{account.account_id}:role/p/existing " in _error(caught)[2]


def test_trust_policy_is_bound_to_the_user_id(root_iam: Any, account: NewAccount) -> None:
    alice_arn = f"arn:aws:iam::{account.account_id}:user/alice"
    old_id = root_iam.create_user(UserName="alice")["User"]["UserId"]
    document = _trust(alice_arn)
    created = _create(root_iam, "for-alice", document)
    assert created["AssumeRolePolicyDocument"] == document
    assert root_iam.get_role(RoleName="for-alice")["Role"]["AssumeRolePolicyDocument"] == document

    root_iam.delete_user(UserName="alice")
    shown = root_iam.get_role(RoleName="for-alice")["Role"]["AssumeRolePolicyDocument"]
    assert shown == _trust(old_id)
    assert root_iam.list_roles()["Roles"][0]["AssumeRolePolicyDocument"] == _trust(old_id)

    new_id = root_iam.create_user(UserName="alice")["User"]["UserId"]
    assert new_id != old_id
    shown = root_iam.get_role(RoleName="for-alice")["Role"]["AssumeRolePolicyDocument"]
    assert shown == _trust(old_id)

    # Writing the trust again binds it to the new alice.
    root_iam.update_assume_role_policy(RoleName="for-alice", PolicyDocument=json.dumps(document))
    assert root_iam.get_role(RoleName="for-alice")["Role"]["AssumeRolePolicyDocument"] == document


def test_trust_policy_naming_a_role_follows_it(root_iam: Any, account: NewAccount) -> None:
    _create(root_iam, "source", Path="/a/")
    source_arn = f"arn:aws:iam::{account.account_id}:role/a/source"
    _create(root_iam, "target", _trust(source_arn))
    fetched = root_iam.get_role(RoleName="target")["Role"]
    assert fetched["AssumeRolePolicyDocument"] == _trust(source_arn)


@pytest.mark.parametrize("principal", ["user/nobody", "role/nothing", "role/self"])
def test_unknown_principal_is_refused(root_iam: Any, account: NewAccount, principal: str) -> None:
    arn = f"arn:aws:iam::{account.account_id}:{principal}"
    with pytest.raises(ClientError) as caught:
        _create(root_iam, "self", _trust(arn))
    assert _error(caught) == (
        "MalformedPolicyDocument",
        400,
        f'Invalid principal in policy: "AWS":"{arn}"',
    )


def test_recreated_user_is_no_longer_trusted(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    def alice_sts() -> Any:
        key = root_iam.create_access_key(UserName="alice")["AccessKey"]
        return client("sts", key["AccessKeyId"], key["SecretAccessKey"]), key["AccessKeyId"]

    root_iam.create_user(UserName="alice")
    sts, key_id = alice_sts()
    role = _create(root_iam, "trusting", _trust(f"arn:aws:iam::{account.account_id}:user/alice"))
    assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert assumed["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:s1"

    root_iam.delete_access_key(UserName="alice", AccessKeyId=key_id)
    root_iam.delete_user(UserName="alice")
    root_iam.create_user(UserName="alice")
    sts, _ = alice_sts()
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s2")
    assert _error(caught)[:2] == ("AccessDenied", 403)
