"""Groups and group membership through boto3 against the real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount

from .conftest import ClientFactory

ALLOW_LIST_USERS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}],
    }
)


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_create_get_list_update_delete_group(root_iam: Any, account: NewAccount) -> None:
    created = root_iam.create_group(GroupName="Admins", Path="/ops/")["Group"]
    assert created["Arn"] == f"arn:aws:iam::{account.account_id}:group/ops/Admins"
    assert created["GroupId"].startswith("AGPA") and len(created["GroupId"]) == 21
    assert created["Path"] == "/ops/"
    assert created["GroupName"] == "Admins"
    fetched = root_iam.get_group(GroupName="admins")
    assert fetched["Group"] == created
    assert fetched["Users"] == []
    assert fetched["IsTruncated"] is False
    root_iam.create_group(GroupName="devs")
    assert [g["GroupName"] for g in root_iam.list_groups()["Groups"]] == ["Admins", "devs"]
    assert [g["GroupName"] for g in root_iam.list_groups(PathPrefix="/ops/")["Groups"]] == [
        "Admins"
    ]
    assert root_iam.list_groups(PathPrefix="/nothing/")["Groups"] == []

    root_iam.update_group(GroupName="ADMINS", NewGroupName="operators", NewPath="/team/")
    renamed = root_iam.get_group(GroupName="operators")["Group"]
    assert renamed["GroupId"] == created["GroupId"]
    assert renamed["Arn"] == f"arn:aws:iam::{account.account_id}:group/team/operators"
    with pytest.raises(ClientError) as caught:
        root_iam.get_group(GroupName="Admins")
    assert _error(caught) == ("NoSuchEntity", 404, "The group with name Admins cannot be found.")

    root_iam.update_group(GroupName="operators", NewGroupName="Operators")
    assert root_iam.get_group(GroupName="operators")["Group"]["GroupName"] == "Operators"

    root_iam.delete_group(GroupName="operators")
    with pytest.raises(ClientError) as caught:
        root_iam.delete_group(GroupName="operators")
    assert _error(caught) == (
        "NoSuchEntity",
        404,
        "The group with name operators cannot be found.",
    )
    assert [g["GroupName"] for g in root_iam.list_groups()["Groups"]] == ["devs"]


def test_group_names_are_case_insensitive(root_iam: Any) -> None:
    root_iam.create_group(GroupName="Readers")
    with pytest.raises(ClientError) as caught:
        root_iam.create_group(GroupName="readers")
    assert _error(caught) == ("EntityAlreadyExists", 409, "Group with name readers already exists.")
    root_iam.create_group(GroupName="writers")
    with pytest.raises(ClientError) as caught:
        root_iam.update_group(GroupName="writers", NewGroupName="READERS")
    assert _error(caught) == ("EntityAlreadyExists", 409, "Group with name READERS already exists.")


def test_missing_group_errors(root_iam: Any) -> None:
    root_iam.create_user(UserName="alice")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_group", {}),
        ("update_group", {"NewPath": "/x/"}),
        ("delete_group", {}),
        ("add_user_to_group", {"UserName": "alice"}),
        ("remove_user_from_group", {"UserName": "alice"}),
    ]
    for method, extra in calls:
        with pytest.raises(ClientError) as caught:
            getattr(root_iam, method)(GroupName="ghost", **extra)
        assert _error(caught) == (
            "NoSuchEntity",
            404,
            "The group with name ghost cannot be found.",
        ), method


def test_membership(root_iam: Any, account: NewAccount) -> None:
    root_iam.create_group(GroupName="team")
    root_iam.create_group(GroupName="Alpha")
    alice = root_iam.create_user(UserName="alice", Path="/eng/")["User"]
    root_iam.create_user(UserName="bob")

    root_iam.add_user_to_group(GroupName="TEAM", UserName="ALICE")
    root_iam.add_user_to_group(GroupName="team", UserName="alice")  # a second add is a no-op
    root_iam.add_user_to_group(GroupName="team", UserName="bob")
    root_iam.add_user_to_group(GroupName="alpha", UserName="alice")

    members = root_iam.get_group(GroupName="team")["Users"]
    assert [u["UserName"] for u in members] == ["alice", "bob"]
    assert members[0]["Arn"] == alice["Arn"]
    assert members[0]["UserId"] == alice["UserId"]
    assert members[0]["Path"] == "/eng/"

    mine = root_iam.list_groups_for_user(UserName="alice")
    assert [g["GroupName"] for g in mine["Groups"]] == ["Alpha", "team"]
    assert mine["Groups"][1]["Arn"] == f"arn:aws:iam::{account.account_id}:group/team"
    assert mine["IsTruncated"] is False

    root_iam.remove_user_from_group(GroupName="team", UserName="Alice")
    assert [u["UserName"] for u in root_iam.get_group(GroupName="team")["Users"]] == ["bob"]
    assert [g["GroupName"] for g in root_iam.list_groups_for_user(UserName="alice")["Groups"]] == [
        "Alpha"
    ]
    with pytest.raises(ClientError) as caught:
        root_iam.remove_user_from_group(GroupName="team", UserName="alice")
    assert _error(caught) == ("NoSuchEntity", 404, "The user with name alice cannot be found.")

    for method in ("add_user_to_group", "remove_user_from_group"):
        with pytest.raises(ClientError) as caught:
            getattr(root_iam, method)(GroupName="team", UserName="nobody")
        assert _error(caught) == (
            "NoSuchEntity",
            404,
            "The user with name nobody cannot be found.",
        ), method
    with pytest.raises(ClientError) as caught:
        root_iam.list_groups_for_user(UserName="nobody")
    assert _error(caught) == ("NoSuchEntity", 404, "The user with name nobody cannot be found.")


def test_deleting_a_user_in_a_group_conflicts(root_iam: Any) -> None:
    root_iam.create_group(GroupName="team")
    root_iam.create_user(UserName="carol")
    root_iam.add_user_to_group(GroupName="team", UserName="carol")
    with pytest.raises(ClientError) as caught:
        root_iam.delete_user(UserName="carol")
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove users from group first.",
    )
    root_iam.remove_user_from_group(GroupName="team", UserName="carol")
    root_iam.delete_user(UserName="carol")


def test_groups_per_user_quota(root_iam: Any) -> None:
    root_iam.create_user(UserName="joiner")
    for index in range(11):
        root_iam.create_group(GroupName=f"g{index:02d}")
    for index in range(10):
        root_iam.add_user_to_group(GroupName=f"g{index:02d}", UserName="joiner")
    # Re-adding to a group the user is already in stays a no-op at the quota.
    root_iam.add_user_to_group(GroupName="g00", UserName="joiner")
    with pytest.raises(ClientError) as caught:
        root_iam.add_user_to_group(GroupName="g10", UserName="joiner")
    assert _error(caught) == ("LimitExceeded", 409, "Cannot exceed quota for GroupsPerUser: 10")
    assert len(root_iam.list_groups_for_user(UserName="joiner")["Groups"]) == 10
    root_iam.remove_user_from_group(GroupName="g03", UserName="joiner")
    root_iam.add_user_to_group(GroupName="g10", UserName="joiner")


def test_delete_group_conflicts(root_iam: Any) -> None:
    root_iam.create_group(GroupName="busy")
    root_iam.create_user(UserName="dave")

    def delete_conflict() -> str:
        with pytest.raises(ClientError) as caught:
            root_iam.delete_group(GroupName="busy")
        code, status, message = _error(caught)
        assert (code, status) == ("DeleteConflict", 409)
        return message

    root_iam.add_user_to_group(GroupName="busy", UserName="dave")
    assert delete_conflict() == "Cannot delete entity, must remove users from group first."
    root_iam.remove_user_from_group(GroupName="busy", UserName="dave")

    root_iam.put_group_policy(
        GroupName="busy", PolicyName="inline", PolicyDocument=ALLOW_LIST_USERS
    )
    assert delete_conflict() == "Cannot delete entity, must delete policies first."
    root_iam.delete_group_policy(GroupName="busy", PolicyName="inline")

    arn = root_iam.create_policy(PolicyName="managed", PolicyDocument=ALLOW_LIST_USERS)["Policy"][
        "Arn"
    ]
    root_iam.attach_group_policy(GroupName="busy", PolicyArn=arn)
    assert delete_conflict() == "Cannot delete entity, must detach all policies first."
    root_iam.detach_group_policy(GroupName="busy", PolicyArn=arn)

    root_iam.delete_group(GroupName="busy")
    assert root_iam.list_groups()["Groups"] == []
    assert root_iam.list_groups_for_user(UserName="dave")["Groups"] == []


def test_get_group_paginates_users(root_iam: Any) -> None:
    root_iam.create_group(GroupName="crowd")
    for index in range(7):
        root_iam.create_user(UserName=f"member{index}")
        root_iam.add_user_to_group(GroupName="crowd", UserName=f"member{index}")
    first = root_iam.get_group(GroupName="crowd", MaxItems=3)
    assert first["IsTruncated"] is True
    assert first["Group"]["GroupName"] == "crowd"
    names = [u["UserName"] for u in first["Users"]]
    marker = first["Marker"]
    while marker:
        following = root_iam.get_group(GroupName="crowd", MaxItems=3, Marker=marker)
        assert following["Group"]["GroupName"] == "crowd"
        names += [u["UserName"] for u in following["Users"]]
        marker = following.get("Marker")
    assert names == [f"member{i}" for i in range(7)]
    paginator = root_iam.get_paginator("get_group")
    pages = list(paginator.paginate(GroupName="crowd", PaginationConfig={"PageSize": 2}))
    assert len(pages) == 4
    assert sum(len(p["Users"]) for p in pages) == 7


def test_list_groups_and_groups_for_user_paginate(root_iam: Any) -> None:
    root_iam.create_user(UserName="many")
    for index in range(5):
        root_iam.create_group(GroupName=f"grp{index}", Path="/p/" if index % 2 else "/")
        root_iam.add_user_to_group(GroupName=f"grp{index}", UserName="many")
    paginator = root_iam.get_paginator("list_groups")
    listed = [
        g["GroupName"]
        for p in paginator.paginate(PaginationConfig={"PageSize": 2})
        for g in p["Groups"]
    ]
    assert listed == [f"grp{i}" for i in range(5)]
    filtered = root_iam.list_groups(PathPrefix="/p/", MaxItems=1)
    assert [g["GroupName"] for g in filtered["Groups"]] == ["grp1"]
    following = root_iam.list_groups(PathPrefix="/p/", MaxItems=1, Marker=filtered["Marker"])
    assert [g["GroupName"] for g in following["Groups"]] == ["grp3"]
    assert following["IsTruncated"] is False
    paginator = root_iam.get_paginator("list_groups_for_user")
    pages = list(paginator.paginate(UserName="many", PaginationConfig={"PageSize": 2}))
    assert [g["GroupName"] for p in pages for g in p["Groups"]] == [f"grp{i}" for i in range(5)]
    assert len(pages) == 3


def test_unprivileged_user_gets_access_denied_on_group_arns(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="tester")
    root_iam.create_group(GroupName="staff", Path="/corp/")
    key = root_iam.create_access_key(UserName="tester")["AccessKey"]
    tester = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    prefix = f"User: arn:aws:iam::{account.account_id}:user/tester is not authorized to perform:"
    arn = f"arn:aws:iam::{account.account_id}:"
    group = f"{arn}group/corp/staff"
    user = f"{arn}user/tester"
    calls: list[tuple[str, dict[str, Any], str, str]] = [
        ("create_group", {"GroupName": "new"}, "CreateGroup", f"{arn}group/new"),
        ("get_group", {"GroupName": "staff"}, "GetGroup", group),
        (
            "add_user_to_group",
            {"GroupName": "staff", "UserName": "tester"},
            "AddUserToGroup",
            group,
        ),
        (
            "remove_user_from_group",
            {"GroupName": "staff", "UserName": "tester"},
            "RemoveUserFromGroup",
            group,
        ),
        ("delete_group", {"GroupName": "staff"}, "DeleteGroup", group),
        ("list_groups_for_user", {"UserName": "tester"}, "ListGroupsForUser", user),
    ]
    for method, params, action, resource in calls:
        with pytest.raises(ClientError) as caught:
            getattr(tester, method)(**params)
        assert _error(caught) == (
            "AccessDenied",
            403,
            f"{prefix} iam:{action} on resource: {resource} because no identity-based policy "
            f"allows the iam:{action} action",
        ), method


def test_group_policy_grants_members(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="member")
    root_iam.create_group(GroupName="listers")
    key = root_iam.create_access_key(UserName="member")["AccessKey"]
    member = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    root_iam.put_group_policy(
        GroupName="listers", PolicyName="list", PolicyDocument=ALLOW_LIST_USERS
    )
    with pytest.raises(ClientError) as caught:
        member.list_users()
    assert _error(caught)[:2] == ("AccessDenied", 403)
    root_iam.add_user_to_group(GroupName="listers", UserName="member")
    assert [u["UserName"] for u in member.list_users()["Users"]] == ["member"]
    root_iam.remove_user_from_group(GroupName="listers", UserName="member")
    with pytest.raises(ClientError) as caught:
        member.list_users()
    assert _error(caught) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{account.account_id}:user/member is not authorized to perform: "
        f"iam:ListUsers on resource: arn:aws:iam::{account.account_id}:user/ because no "
        "identity-based policy allows the iam:ListUsers action",
    )
