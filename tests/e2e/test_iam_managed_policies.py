"""Managed policies, versions, attachments and authorization details through boto3."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import insert, select

from rolegate.iam.accounts import NewAccount
from rolegate.iam.aws_managed import AWS_MANAGED_POLICIES, ensure_aws_managed_policies
from rolegate.iam.common import get_user
from rolegate.ids import GROUP_ID_PREFIX, ROLE_ID_PREFIX, new_unique_id
from rolegate.store.schema import group_members, groups, inline_policies, managed_policies, roles

from .conftest import ClientFactory
from .server import RunningServer

ALLOW_LIST_USERS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}],
}
ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
IAM_READ_ARN = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _doc(document: dict[str, Any]) -> str:
    return json.dumps(document)


@pytest.fixture(autouse=True)
def _aws_managed(server: RunningServer) -> None:
    with server.database.write() as uow:
        ensure_aws_managed_policies(uow)


@pytest.fixture
def make_group(server: RunningServer, account: NewAccount) -> Callable[..., str]:
    """Groups straight into the store (their API belongs to another module)."""

    def make(name: str, members: tuple[str, ...] = (), path: str = "/") -> str:
        group_id = new_unique_id(GROUP_ID_PREFIX)
        with server.database.write() as uow:
            uow.lock_account(account.account_id)
            uow.connection.execute(
                insert(groups).values(
                    id=group_id,
                    account_id=account.account_id,
                    name=name,
                    name_key=name.lower(),
                    path=path,
                    created_at=uow.now,
                )
            )
            for user_name in members:
                user_id = get_user(uow, account.account_id, user_name).id
                uow.connection.execute(
                    insert(group_members).values(group_id=group_id, user_id=user_id)
                )
        return group_id

    return make


@pytest.fixture
def make_role(server: RunningServer, account: NewAccount) -> Callable[..., str]:
    def make(name: str, trust: dict[str, Any], path: str = "/") -> str:
        role_id = new_unique_id(ROLE_ID_PREFIX)
        with server.database.write() as uow:
            uow.lock_account(account.account_id)
            uow.connection.execute(
                insert(roles).values(
                    id=role_id,
                    account_id=account.account_id,
                    name=name,
                    name_key=name.lower(),
                    path=path,
                    trust_policy=json.dumps(trust),
                    description=None,
                    max_session_duration=3600,
                    boundary_arn=None,
                    created_at=uow.now,
                )
            )
        return role_id

    return make


@pytest.fixture
def put_inline(server: RunningServer, account: NewAccount) -> Callable[[str, str, Any], None]:
    def put(entity_id: str, name: str, document: Any) -> None:
        with server.database.write() as uow:
            uow.lock_account(account.account_id)
            uow.connection.execute(
                insert(inline_policies).values(
                    entity_id=entity_id,
                    name=name,
                    name_key=name.lower(),
                    document=json.dumps(document),
                )
            )

    return put


@pytest.fixture
def make_user_client(root_iam: Any, client: ClientFactory) -> Callable[[str], Any]:
    def make(name: str) -> Any:
        root_iam.create_user(UserName=name)
        key = root_iam.create_access_key(UserName=name)["AccessKey"]
        return client("iam", key["AccessKeyId"], key["SecretAccessKey"])

    return make


# --------------------------------------------------------------------------- policies


def test_create_get_delete_policy(root_iam: Any, account: NewAccount) -> None:
    created = root_iam.create_policy(
        PolicyName="Readers",
        Path="/team/",
        PolicyDocument=_doc(ALLOW_LIST_USERS),
        Description="read users",
        Tags=[{"Key": "owner", "Value": "ops"}],
    )["Policy"]
    arn = f"arn:aws:iam::{account.account_id}:policy/team/Readers"
    assert created["Arn"] == arn
    assert created["PolicyId"].startswith("ANPA") and len(created["PolicyId"]) == 21
    assert created["DefaultVersionId"] == "v1"
    assert created["AttachmentCount"] == 0
    assert created["PermissionsBoundaryUsageCount"] == 0
    assert created["IsAttachable"] is True
    assert created["Description"] == "read users"
    assert created["Tags"] == [{"Key": "owner", "Value": "ops"}]
    assert created["CreateDate"] == created["UpdateDate"]

    fetched = root_iam.get_policy(PolicyArn=arn)["Policy"]
    assert fetched == created

    version = root_iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == ALLOW_LIST_USERS  # URL-encoded on the wire, decoded by boto3
    assert version["IsDefaultVersion"] is True
    assert version["VersionId"] == "v1"

    root_iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as caught:
        root_iam.get_policy(PolicyArn=arn)
    assert _error(caught) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")
    with pytest.raises(ClientError) as caught:
        root_iam.delete_policy(PolicyArn=arn)
    assert _error(caught) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")


def test_policy_document_is_returned_url_encoded_on_the_wire(
    root_iam: Any, account: NewAccount
) -> None:
    arn = root_iam.create_policy(PolicyName="Enc", PolicyDocument=_doc(ALLOW_S3))["Policy"]["Arn"]
    raw: dict[str, Any] = {}

    def capture(http_response: Any, **_: Any) -> None:
        raw["body"] = http_response.text

    root_iam.meta.events.register("after-call.iam.GetPolicyVersion", capture)
    root_iam.get_policy_version(PolicyArn=arn, VersionId="v1")
    assert "%7B%22Version%22%3A%20%222012-10-17%22" in raw["body"]


def test_duplicate_policy_names_are_case_insensitive(root_iam: Any) -> None:
    root_iam.create_policy(PolicyName="Dup", PolicyDocument=_doc(ALLOW_S3))
    with pytest.raises(ClientError) as caught:
        root_iam.create_policy(PolicyName="dup", Path="/other/", PolicyDocument=_doc(ALLOW_S3))
    assert _error(caught) == (
        "EntityAlreadyExists",
        409,
        "A policy called dup already exists. Duplicate names are not allowed.",
    )


def test_policy_document_validation_and_size(root_iam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        root_iam.create_policy(
            PolicyName="Bad",
            PolicyDocument=_doc(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
            ),
        )
    assert _error(caught) == (
        "MalformedPolicyDocument",
        400,
        "/Statement/0: Policy statement must contain resources.",
    )
    big = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:" + "x" * 6100], "Resource": "*"}],
    }
    with pytest.raises(ClientError) as caught:
        root_iam.create_policy(PolicyName="Big", PolicyDocument=_doc(big))
    assert _error(caught) == ("LimitExceeded", 409, "Cannot exceed quota for PolicySize: 6144")
    # Whitespace does not count toward the quota.
    roomy = json.dumps(ALLOW_S3, indent=2) + " " * 7000
    root_iam.create_policy(PolicyName="Roomy", PolicyDocument=roomy)


def test_unknown_policy_errors(root_iam: Any, account: NewAccount) -> None:
    arn = f"arn:aws:iam::{account.account_id}:policy/Nope"
    unknown_calls: list[Callable[[], object]] = [
        lambda: root_iam.get_policy(PolicyArn=arn),
        lambda: root_iam.list_policy_versions(PolicyArn=arn),
        lambda: root_iam.list_entities_for_policy(PolicyArn=arn),
        lambda: root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_S3)),
    ]
    for call in unknown_calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")


# --------------------------------------------------------------------------- versions


def test_policy_versions_lifecycle(
    root_iam: Any, account: NewAccount, server: RunningServer
) -> None:
    created = root_iam.create_policy(PolicyName="Versioned", PolicyDocument=_doc(ALLOW_S3))
    arn = created["Policy"]["Arn"]
    server.clock.advance(60)
    v2 = root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_LIST_USERS))
    assert v2["PolicyVersion"]["VersionId"] == "v2"
    assert v2["PolicyVersion"]["IsDefaultVersion"] is False
    assert "Document" not in v2["PolicyVersion"]
    policy = root_iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v1"
    assert policy["UpdateDate"] > policy["CreateDate"]

    v3 = root_iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=_doc(ALLOW_LIST_USERS), SetAsDefault=True
    )["PolicyVersion"]
    assert (v3["VersionId"], v3["IsDefaultVersion"]) == ("v3", True)
    assert root_iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"

    listed = root_iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in listed] == [
        ("v3", True),
        ("v2", False),
        ("v1", False),
    ]
    assert all("Document" not in v for v in listed)
    got = root_iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert got["Document"] == ALLOW_LIST_USERS and got["IsDefaultVersion"] is False

    root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_S3))
    root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_S3))
    with pytest.raises(ClientError) as caught:
        root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_S3))
    assert _error(caught) == (
        "LimitExceeded",
        409,
        "A managed policy can have up to 5 versions. Before you create a new version, you "
        "must delete an existing version.",
    )
    with pytest.raises(ClientError) as caught:
        root_iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete the default version of a policy.",
    )
    missing_versions: list[Callable[[], object]] = [
        lambda: root_iam.delete_policy_version(PolicyArn=arn, VersionId="v9"),
        lambda: root_iam.get_policy_version(PolicyArn=arn, VersionId="v9"),
        lambda: root_iam.set_default_policy_version(PolicyArn=arn, VersionId="v9"),
    ]
    for call in missing_versions:
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught) == (
            "NoSuchEntity",
            404,
            f"Policy {arn} version v9 does not exist or is not attachable.",
        )
    with pytest.raises(ClientError) as caught:
        root_iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=_doc({"Version": "2012-10-17", "Statement": []})
        )
    assert _error(caught)[:2] == ("MalformedPolicyDocument", 400)

    root_iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    root_iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    assert root_iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    # Version ids are never reused.
    assert (
        root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_S3))[
            "PolicyVersion"
        ]["VersionId"]
        == "v6"
    )

    with pytest.raises(ClientError) as caught:
        root_iam.delete_policy(PolicyArn=arn)
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "This policy has more than one version. Before you delete a policy, you must delete "
        "the policy's versions. The default version is deleted with the policy.",
    )
    for version in root_iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            root_iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    root_iam.delete_policy(PolicyArn=arn)


def test_list_policy_versions_paginates(root_iam: Any) -> None:
    arn = root_iam.create_policy(PolicyName="Pages", PolicyDocument=_doc(ALLOW_S3))["Policy"]["Arn"]
    for _ in range(3):
        root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_S3))
    first = root_iam.list_policy_versions(PolicyArn=arn, MaxItems=3)
    assert first["IsTruncated"] is True and len(first["Versions"]) == 3
    rest = root_iam.list_policy_versions(PolicyArn=arn, MaxItems=3, Marker=first["Marker"])
    assert rest["IsTruncated"] is False
    assert [v["VersionId"] for v in first["Versions"] + rest["Versions"]] == [
        "v4",
        "v3",
        "v2",
        "v1",
    ]


# --------------------------------------------------------------------------- attachments


def test_attach_detach_list_for_users_groups_roles(
    root_iam: Any,
    account: NewAccount,
    make_group: Callable[..., str],
    make_role: Callable[..., str],
) -> None:
    arn = root_iam.create_policy(
        PolicyName="Shared", Path="/shared/", PolicyDocument=_doc(ALLOW_S3)
    )["Policy"]["Arn"]
    user_id = root_iam.create_user(UserName="ann")["User"]["UserId"]
    group_id = make_group("devs")
    role_id = make_role("runner", {"Version": "2012-10-17", "Statement": []})

    root_iam.attach_user_policy(UserName="ann", PolicyArn=arn)
    root_iam.attach_user_policy(UserName="ANN", PolicyArn=arn)  # twice: a no-op
    root_iam.attach_group_policy(GroupName="devs", PolicyArn=arn)
    root_iam.attach_role_policy(RoleName="runner", PolicyArn=arn)
    root_iam.attach_role_policy(RoleName="runner", PolicyArn=ADMIN_ARN)

    expected = [{"PolicyName": "Shared", "PolicyArn": arn}]
    assert root_iam.list_attached_user_policies(UserName="ann")["AttachedPolicies"] == expected
    assert root_iam.list_attached_group_policies(GroupName="devs")["AttachedPolicies"] == expected
    attached_role = root_iam.list_attached_role_policies(RoleName="runner")["AttachedPolicies"]
    assert attached_role == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN_ARN},
        {"PolicyName": "Shared", "PolicyArn": arn},
    ]
    only_shared = root_iam.list_attached_role_policies(RoleName="runner", PathPrefix="/shared/")
    assert only_shared["AttachedPolicies"] == expected
    assert root_iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3

    entities = root_iam.list_entities_for_policy(PolicyArn=arn)
    assert entities["PolicyUsers"] == [{"UserName": "ann", "UserId": user_id}]
    assert entities["PolicyGroups"] == [{"GroupName": "devs", "GroupId": group_id}]
    assert entities["PolicyRoles"] == [{"RoleName": "runner", "RoleId": role_id}]
    assert entities["IsTruncated"] is False
    roles_only = root_iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert roles_only["PolicyRoles"] == [{"RoleName": "runner", "RoleId": role_id}]
    assert roles_only["PolicyUsers"] == [] and roles_only["PolicyGroups"] == []
    paged = root_iam.list_entities_for_policy(PolicyArn=arn, MaxItems=2)
    assert paged["IsTruncated"] is True
    assert len(paged["PolicyGroups"] + paged["PolicyUsers"] + paged["PolicyRoles"]) == 2
    rest = root_iam.list_entities_for_policy(PolicyArn=arn, MaxItems=2, Marker=paged["Marker"])
    assert rest["PolicyRoles"] == [{"RoleName": "runner", "RoleId": role_id}]

    with pytest.raises(ClientError) as caught:
        root_iam.delete_policy(PolicyArn=arn)
    assert _error(caught) == ("DeleteConflict", 409, "Cannot delete a policy attached to entities.")
    with pytest.raises(ClientError) as caught:
        root_iam.delete_user(UserName="ann")
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    )

    root_iam.detach_user_policy(UserName="ann", PolicyArn=arn)
    root_iam.detach_group_policy(GroupName="devs", PolicyArn=arn)
    root_iam.detach_role_policy(RoleName="runner", PolicyArn=arn)
    second_detaches: list[Callable[[], object]] = [
        lambda: root_iam.detach_user_policy(UserName="ann", PolicyArn=arn),
        lambda: root_iam.detach_group_policy(GroupName="devs", PolicyArn=arn),
        lambda: root_iam.detach_role_policy(RoleName="runner", PolicyArn=arn),
    ]
    for call in second_detaches:
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")
    assert root_iam.list_attached_user_policies(UserName="ann")["AttachedPolicies"] == []
    assert root_iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    root_iam.delete_policy(PolicyArn=arn)
    root_iam.delete_user(UserName="ann")


def test_attach_errors(root_iam: Any, account: NewAccount) -> None:
    arn = f"arn:aws:iam::{account.account_id}:policy/Missing"
    root_iam.create_user(UserName="bo")
    with pytest.raises(ClientError) as caught:
        root_iam.attach_user_policy(UserName="bo", PolicyArn=arn)
    assert _error(caught) == (
        "NoSuchEntity",
        404,
        f"Policy {arn} does not exist or is not attachable.",
    )
    with pytest.raises(ClientError) as caught:
        root_iam.attach_user_policy(UserName="ghost", PolicyArn=ADMIN_ARN)
    assert _error(caught) == ("NoSuchEntity", 404, "The user with name ghost cannot be found.")
    with pytest.raises(ClientError) as caught:
        root_iam.attach_group_policy(GroupName="ghosts", PolicyArn=ADMIN_ARN)
    assert _error(caught) == ("NoSuchEntity", 404, "The group with name ghosts cannot be found.")
    with pytest.raises(ClientError) as caught:
        root_iam.list_attached_role_policies(RoleName="ghost")
    assert _error(caught) == ("NoSuchEntity", 404, "The role with name ghost cannot be found.")


def test_attached_policies_quota(root_iam: Any) -> None:
    root_iam.create_user(UserName="busy")
    arns = [
        root_iam.create_policy(PolicyName=f"p{i:02d}", PolicyDocument=_doc(ALLOW_S3))["Policy"][
            "Arn"
        ]
        for i in range(11)
    ]
    for arn in arns[:10]:
        root_iam.attach_user_policy(UserName="busy", PolicyArn=arn)
    root_iam.attach_user_policy(UserName="busy", PolicyArn=arns[0])  # already attached: fine
    with pytest.raises(ClientError) as caught:
        root_iam.attach_user_policy(UserName="busy", PolicyArn=arns[10])
    assert _error(caught) == ("LimitExceeded", 409, "Cannot exceed quota for PoliciesPerUser: 10")
    first = root_iam.list_attached_user_policies(UserName="busy", MaxItems=4)
    assert first["IsTruncated"] is True
    names = [p["PolicyName"] for p in first["AttachedPolicies"]]
    paginator = root_iam.get_paginator("list_attached_user_policies")
    pages = list(paginator.paginate(UserName="busy", PaginationConfig={"PageSize": 4}))
    assert len(pages) == 3
    all_names = [p["PolicyName"] for page in pages for p in page["AttachedPolicies"]]
    assert all_names == [f"p{i:02d}" for i in range(10)]
    assert names == all_names[:4]


def test_permissions_boundary_usage(root_iam: Any, account: NewAccount) -> None:
    arn = root_iam.create_policy(PolicyName="Fence", PolicyDocument=_doc(ALLOW_S3))["Policy"]["Arn"]
    user_id = root_iam.create_user(UserName="fenced", PermissionsBoundary=arn)["User"]["UserId"]
    policy = root_iam.get_policy(PolicyArn=arn)["Policy"]
    assert (policy["AttachmentCount"], policy["PermissionsBoundaryUsageCount"]) == (0, 1)
    with pytest.raises(ClientError) as caught:
        root_iam.delete_policy(PolicyArn=arn)
    assert _error(caught) == ("DeleteConflict", 409, "Cannot delete a policy attached to entities.")

    boundary = root_iam.list_entities_for_policy(
        PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary"
    )
    assert boundary["PolicyUsers"] == [{"UserName": "fenced", "UserId": user_id}]
    as_policy = root_iam.list_entities_for_policy(
        PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy"
    )
    assert as_policy["PolicyUsers"] == []
    listed = root_iam.list_policies(
        Scope="Local", OnlyAttached=True, PolicyUsageFilter="PermissionsBoundary"
    )["Policies"]
    assert [p["PolicyName"] for p in listed] == ["Fence"]
    listed = root_iam.list_policies(
        Scope="Local", OnlyAttached=True, PolicyUsageFilter="PermissionsPolicy"
    )["Policies"]
    assert listed == []

    root_iam.delete_user_permissions_boundary(UserName="fenced")
    root_iam.delete_policy(PolicyArn=arn)


# --------------------------------------------------------------------------- listing


def test_list_policies_scope_path_attached_and_pages(root_iam: Any, account: NewAccount) -> None:
    for index in range(5):
        root_iam.create_policy(
            PolicyName=f"local{index}",
            Path="/app/" if index % 2 else "/",
            PolicyDocument=_doc(ALLOW_S3),
        )
    local = root_iam.list_policies(Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in local] == [f"local{i}" for i in range(5)]
    assert all("Description" not in p and "Tags" not in p for p in local)
    aws = root_iam.list_policies(Scope="AWS")["Policies"]
    assert sorted(p["PolicyName"] for p in aws) == sorted(p.name for p in AWS_MANAGED_POLICIES)
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws)
    everything = root_iam.list_policies()["Policies"]
    assert len(everything) == len(local) + len(aws)
    in_app = root_iam.list_policies(Scope="Local", PathPrefix="/app/")["Policies"]
    assert [p["PolicyName"] for p in in_app] == ["local1", "local3"]

    root_iam.create_user(UserName="lister")
    root_iam.attach_user_policy(UserName="lister", PolicyArn=IAM_READ_ARN)
    root_iam.attach_user_policy(UserName="lister", PolicyArn=local[2]["Arn"])
    attached = root_iam.list_policies(OnlyAttached=True)["Policies"]
    assert [p["PolicyName"] for p in attached] == ["IAMReadOnlyAccess", "local2"]
    assert all(p["AttachmentCount"] == 1 for p in attached)

    paginator = root_iam.get_paginator("list_policies")
    names = [
        p["PolicyName"]
        for page in paginator.paginate(Scope="Local", PaginationConfig={"PageSize": 2})
        for p in page["Policies"]
    ]
    assert names == [f"local{i}" for i in range(5)]


# --------------------------------------------------------------------------- AWS managed


def test_aws_managed_policies(
    root_iam: Any, make_account: Callable[..., NewAccount], client: ClientFactory, server: Any
) -> None:
    with server.database.write() as uow:  # idempotent
        ensure_aws_managed_policies(uow)
        ensure_aws_managed_policies(uow)
        count = len(
            uow.connection.execute(
                select(managed_policies.c.id).where(managed_policies.c.account_id == "aws")
            ).all()
        )
    assert count == len(AWS_MANAGED_POLICIES)

    admin = root_iam.get_policy(PolicyArn=ADMIN_ARN)["Policy"]
    assert admin["PolicyName"] == "AdministratorAccess"
    assert admin["PolicyId"].startswith("ANPA") and len(admin["PolicyId"]) == 21
    assert admin["Description"] == "Provides full access to AWS services and resources."
    document = root_iam.get_policy_version(PolicyArn=ADMIN_ARN, VersionId="v1")["PolicyVersion"]
    assert document["Document"]["Statement"] == [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}
    ]

    root_iam.create_user(UserName="adm")
    root_iam.attach_user_policy(UserName="adm", PolicyArn=ADMIN_ARN)
    assert root_iam.get_policy(PolicyArn=ADMIN_ARN)["Policy"]["AttachmentCount"] == 1
    other = make_account()
    other_iam = client("iam", other.access_key_id, other.secret_access_key)
    assert other_iam.get_policy(PolicyArn=ADMIN_ARN)["Policy"]["AttachmentCount"] == 0
    assert other_iam.list_entities_for_policy(PolicyArn=ADMIN_ARN)["PolicyUsers"] == []

    forbidden: list[tuple[str, Callable[[], object]]] = [
        ("DeletePolicy", lambda: root_iam.delete_policy(PolicyArn=ADMIN_ARN)),
        (
            "CreatePolicyVersion",
            lambda: root_iam.create_policy_version(
                PolicyArn=ADMIN_ARN, PolicyDocument=_doc(ALLOW_S3)
            ),
        ),
        (
            "SetDefaultPolicyVersion",
            lambda: root_iam.set_default_policy_version(PolicyArn=ADMIN_ARN, VersionId="v1"),
        ),
        (
            "DeletePolicyVersion",
            lambda: root_iam.delete_policy_version(PolicyArn=ADMIN_ARN, VersionId="v1"),
        ),
    ]
    for name, call in forbidden:
        with pytest.raises(ClientError) as caught:
            call()
        code, status, message = _error(caught)
        assert (code, status) == ("AccessDenied", 403)
        assert message.endswith(f"iam:{name} on resource: policy {ADMIN_ARN}")


def test_other_accounts_policies_are_invisible(
    root_iam: Any, make_account: Callable[..., NewAccount], client: ClientFactory
) -> None:
    arn = root_iam.create_policy(PolicyName="Mine", PolicyDocument=_doc(ALLOW_S3))["Policy"]["Arn"]
    other = make_account()
    other_iam = client("iam", other.access_key_id, other.secret_access_key)
    with pytest.raises(ClientError) as caught:
        other_iam.get_policy(PolicyArn=arn)
    assert _error(caught) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")
    other_iam.create_user(UserName="x")
    with pytest.raises(ClientError) as caught:
        other_iam.attach_user_policy(UserName="x", PolicyArn=arn)
    assert _error(caught) == (
        "NoSuchEntity",
        404,
        f"Policy {arn} does not exist or is not attachable.",
    )
    assert other_iam.list_policies(Scope="Local")["Policies"] == []


# --------------------------------------------------------------------------- authorization


def test_attachments_take_effect_immediately(
    root_iam: Any, make_user_client: Callable[[str], Any], account: NewAccount
) -> None:
    reader = make_user_client("reader")
    denied = (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{account.account_id}:user/reader is not authorized to perform: "
        f"iam:ListUsers on resource: arn:aws:iam::{account.account_id}:user/ because no "
        "identity-based policy allows the iam:ListUsers action",
    )
    with pytest.raises(ClientError) as caught:
        reader.list_users()
    assert _error(caught) == denied

    root_iam.attach_user_policy(UserName="reader", PolicyArn=IAM_READ_ARN)
    assert [u["UserName"] for u in reader.list_users()["Users"]] == ["reader"]
    with pytest.raises(ClientError) as caught:
        reader.create_user(UserName="nope")
    assert _error(caught)[:2] == ("AccessDenied", 403)
    root_iam.detach_user_policy(UserName="reader", PolicyArn=IAM_READ_ARN)
    with pytest.raises(ClientError) as caught:
        reader.list_users()
    assert _error(caught) == denied

    arn = root_iam.create_policy(PolicyName="Lister", PolicyDocument=_doc(ALLOW_LIST_USERS))[
        "Policy"
    ]["Arn"]
    root_iam.attach_user_policy(UserName="reader", PolicyArn=arn)
    reader.list_users()
    root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_S3))
    reader.list_users()  # a non-default version changes nothing
    root_iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    with pytest.raises(ClientError) as caught:
        reader.list_users()
    assert _error(caught) == denied
    root_iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    reader.list_users()
    root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc(ALLOW_S3), SetAsDefault=True)
    with pytest.raises(ClientError) as caught:
        reader.list_users()
    assert _error(caught) == denied


def test_group_attachment_grants_members(
    root_iam: Any, make_user_client: Callable[[str], Any], make_group: Callable[..., str]
) -> None:
    member = make_user_client("member")
    make_group("readers", members=("member",))
    with pytest.raises(ClientError):
        member.list_users()
    root_iam.attach_group_policy(GroupName="readers", PolicyArn=IAM_READ_ARN)
    assert len(member.list_users()["Users"]) == 1
    root_iam.detach_group_policy(GroupName="readers", PolicyArn=IAM_READ_ARN)
    with pytest.raises(ClientError):
        member.list_users()


def test_permissions_boundary_limits_an_admin(
    root_iam: Any, make_user_client: Callable[[str], Any], account: NewAccount
) -> None:
    admin = make_user_client("boss")
    root_iam.attach_user_policy(UserName="boss", PolicyArn=ADMIN_ARN)
    admin.create_user(UserName="made-by-boss")
    fence = root_iam.create_policy(PolicyName="OnlyList", PolicyDocument=_doc(ALLOW_LIST_USERS))[
        "Policy"
    ]["Arn"]
    root_iam.put_user_permissions_boundary(UserName="boss", PermissionsBoundary=fence)
    assert len(admin.list_users()["Users"]) == 2
    with pytest.raises(ClientError) as caught:
        admin.create_user(UserName="blocked")
    code, status, message = _error(caught)
    assert (code, status) == ("AccessDenied", 403)
    assert "permissions boundary" in message
    # The boundary's own default version is what counts.
    root_iam.create_policy_version(
        PolicyArn=fence, PolicyDocument=_doc(ALLOW_S3), SetAsDefault=True
    )
    with pytest.raises(ClientError):
        admin.list_users()
    root_iam.delete_user_permissions_boundary(UserName="boss")
    admin.create_user(UserName="unblocked")
    # An admin user can manage policies too (resource: the policy ARN).
    created = admin.create_policy(PolicyName="ByBoss", PolicyDocument=_doc(ALLOW_S3))["Policy"]
    assert created["Arn"] == f"arn:aws:iam::{account.account_id}:policy/ByBoss"


def test_policy_operations_are_authorized_on_policy_arns(
    root_iam: Any, make_user_client: Callable[[str], Any], account: NewAccount
) -> None:
    user = make_user_client("limited")
    arn = root_iam.create_policy(PolicyName="Target", PolicyDocument=_doc(ALLOW_S3))["Policy"][
        "Arn"
    ]
    scoped = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:GetPolicy", "iam:ListPolicies"], "Resource": arn}
        ],
    }
    scoped_arn = root_iam.create_policy(PolicyName="Scoped", PolicyDocument=_doc(scoped))["Policy"][
        "Arn"
    ]
    root_iam.attach_user_policy(UserName="limited", PolicyArn=scoped_arn)
    assert user.get_policy(PolicyArn=arn)["Policy"]["PolicyName"] == "Target"
    with pytest.raises(ClientError) as caught:
        user.get_policy(PolicyArn=scoped_arn)
    assert _error(caught)[2] == (
        f"User: arn:aws:iam::{account.account_id}:user/limited is not authorized to perform: "
        f"iam:GetPolicy on resource: {scoped_arn} because no identity-based policy allows "
        "the iam:GetPolicy action"
    )
    with pytest.raises(ClientError) as caught:
        user.list_policies()
    assert (
        f"iam:ListPolicies on resource: arn:aws:iam::{account.account_id}:policy/ "
        in (_error(caught)[2])
    )
    with pytest.raises(ClientError) as caught:
        user.get_account_authorization_details()
    assert "iam:GetAccountAuthorizationDetails on resource: * " in _error(caught)[2]


# --------------------------------------------------------------------------- account details


@pytest.fixture
def populated(
    root_iam: Any,
    account: NewAccount,
    make_group: Callable[..., str],
    make_role: Callable[..., str],
    put_inline: Callable[[str, str, Any], None],
) -> Iterator[dict[str, Any]]:
    local = root_iam.create_policy(
        PolicyName="Local", PolicyDocument=_doc(ALLOW_S3), Description="local one"
    )["Policy"]["Arn"]
    root_iam.create_policy_version(PolicyArn=local, PolicyDocument=_doc(ALLOW_LIST_USERS))
    user = root_iam.create_user(
        UserName="dora", Tags=[{"Key": "k", "Value": "v"}], PermissionsBoundary=local
    )["User"]
    put_inline(user["UserId"], "inline-u", ALLOW_S3)
    group_id = make_group("crew", members=("dora",))
    put_inline(group_id, "inline-g", ALLOW_LIST_USERS)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_id = make_role("svc", trust, path="/service/")
    root_iam.attach_user_policy(UserName="dora", PolicyArn=local)
    root_iam.attach_group_policy(GroupName="crew", PolicyArn=IAM_READ_ARN)
    root_iam.attach_role_policy(RoleName="svc", PolicyArn=ADMIN_ARN)
    yield {
        "local": local,
        "user": user,
        "group_id": group_id,
        "role_id": role_id,
        "trust": trust,
    }


def test_account_authorization_details(
    root_iam: Any, account: NewAccount, populated: dict[str, Any]
) -> None:
    details = root_iam.get_account_authorization_details()
    assert details["IsTruncated"] is False
    [user] = details["UserDetailList"]
    acct = account.account_id
    assert user["UserName"] == "dora" and user["UserId"] == populated["user"]["UserId"]
    assert user["Arn"] == f"arn:aws:iam::{acct}:user/dora"
    assert user["UserPolicyList"] == [{"PolicyName": "inline-u", "PolicyDocument": ALLOW_S3}]
    assert user["GroupList"] == ["crew"]
    assert user["AttachedManagedPolicies"] == [
        {"PolicyName": "Local", "PolicyArn": populated["local"]}
    ]
    assert user["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": populated["local"],
    }
    assert user["Tags"] == [{"Key": "k", "Value": "v"}]

    [group] = details["GroupDetailList"]
    assert group["GroupName"] == "crew" and group["GroupId"] == populated["group_id"]
    assert group["GroupPolicyList"] == [
        {"PolicyName": "inline-g", "PolicyDocument": ALLOW_LIST_USERS}
    ]
    assert group["AttachedManagedPolicies"] == [
        {"PolicyName": "IAMReadOnlyAccess", "PolicyArn": IAM_READ_ARN}
    ]

    [role] = details["RoleDetailList"]
    assert role["RoleName"] == "svc" and role["RoleId"] == populated["role_id"]
    assert role["Arn"] == f"arn:aws:iam::{acct}:role/service/svc"
    assert role["AssumeRolePolicyDocument"] == populated["trust"]
    assert role["RolePolicyList"] == []
    assert role["InstanceProfileList"] == []
    assert role["AttachedManagedPolicies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN_ARN}
    ]

    policies = {p["PolicyName"]: p for p in details["Policies"]}
    # Own policies, and only the AWS managed policies in use in the account.
    assert set(policies) == {"Local", "IAMReadOnlyAccess", "AdministratorAccess"}
    local = policies["Local"]
    assert local["Description"] == "local one"
    assert (local["AttachmentCount"], local["PermissionsBoundaryUsageCount"]) == (1, 1)
    assert [
        (v["VersionId"], v["IsDefaultVersion"], v["Document"]) for v in local["PolicyVersionList"]
    ] == [("v2", False, ALLOW_LIST_USERS), ("v1", True, ALLOW_S3)]


def test_account_authorization_details_filter_and_pages(
    root_iam: Any, populated: dict[str, Any]
) -> None:
    only = root_iam.get_account_authorization_details(Filter=["Role", "AWSManagedPolicy"])
    assert [r["RoleName"] for r in only["RoleDetailList"]] == ["svc"]
    assert sorted(p["PolicyName"] for p in only["Policies"]) == [
        "AdministratorAccess",
        "IAMReadOnlyAccess",
    ]
    assert "UserDetailList" not in only and "GroupDetailList" not in only
    local = root_iam.get_account_authorization_details(Filter=["LocalManagedPolicy"])
    assert [p["PolicyName"] for p in local["Policies"]] == ["Local"]

    first = root_iam.get_account_authorization_details(MaxItems=2)
    assert first["IsTruncated"] is True
    assert [u["UserName"] for u in first["UserDetailList"]] == ["dora"]
    assert [g["GroupName"] for g in first["GroupDetailList"]] == ["crew"]
    assert first["RoleDetailList"] == [] and first["Policies"] == []
    paginator = root_iam.get_paginator("get_account_authorization_details")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    total = sum(
        len(page["UserDetailList"])
        + len(page["GroupDetailList"])
        + len(page["RoleDetailList"])
        + len(page["Policies"])
        for page in pages
    )
    assert total == 6
