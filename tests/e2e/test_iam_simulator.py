"""The IAM policy simulator through boto3 and the aws CLI against the real server."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolegate.demo import build_world, profiles_text
from rolegate.iam.accounts import NewAccount

from .conftest import ClientFactory
from .server import RunningServer
from .test_s3 import new_bucket_name, s3_client


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(
    action: str | list[str], resource: str | list[str] = "*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _decisions(response: dict[str, Any]) -> dict[str, str]:
    return {r["EvalActionName"]: r["EvalDecision"] for r in response["EvaluationResults"]}


def _user_arn(account: NewAccount, name: str) -> str:
    return f"arn:aws:iam::{account.account_id}:user/{name}"


def test_allowed_through_a_group_policy_names_the_group_statement(
    root_iam: Any, account: NewAccount
) -> None:
    root_iam.create_user(UserName="carol")
    root_iam.create_group(GroupName="Readers")
    root_iam.add_user_to_group(GroupName="Readers", UserName="carol")
    root_iam.put_group_policy(
        GroupName="Readers",
        PolicyName="read-reports",
        PolicyDocument=_doc(_allow("s3:GetObject", "arn:aws:s3:::reports/*")),
    )
    response = root_iam.simulate_principal_policy(
        PolicySourceArn=_user_arn(account, "carol"),
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::reports/q1.csv"],
    )
    assert response["IsTruncated"] is False
    get, put = response["EvaluationResults"]
    assert get["EvalActionName"] == "s3:GetObject"
    assert get["EvalDecision"] == "allowed"
    assert get["MatchedStatements"] == [
        {
            "SourcePolicyId": "read-reports",
            "SourcePolicyType": "group",
            "StartPosition": {"Line": 1, "Column": 42},
            "EndPosition": {"Line": 1, "Column": 124},
        }
    ]
    assert get["MissingContextValues"] == []
    assert get["ResourceSpecificResults"] == [
        {
            "EvalResourceName": "arn:aws:s3:::reports/q1.csv",
            "EvalResourceDecision": "allowed",
            "MatchedStatements": get["MatchedStatements"],
            "MissingContextValues": [],
        }
    ]
    assert put["EvalDecision"] == "implicitDeny"
    assert put["MatchedStatements"] == []
    # Same account with resource ARNs: the details map is there but empty.
    assert get.get("EvalDecisionDetails", {}) == {}


def test_attached_managed_policies_are_user_managed_or_aws_managed(
    root_iam: Any, account: NewAccount
) -> None:
    root_iam.create_user(UserName="dave")
    arn = root_iam.create_policy(
        PolicyName="ListAll", PolicyDocument=_doc(_allow("iam:ListUsers"))
    )["Policy"]["Arn"]
    root_iam.attach_user_policy(UserName="dave", PolicyArn=arn)
    root_iam.attach_user_policy(
        UserName="dave", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    )
    result = root_iam.simulate_principal_policy(
        PolicySourceArn=_user_arn(account, "dave"), ActionNames=["iam:ListUsers"]
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed"
    assert result["EvalResourceName"] == "*"
    assert "ResourceSpecificResults" not in result
    assert "EvalDecisionDetails" not in result
    sources = {(s["SourcePolicyId"], s["SourcePolicyType"]) for s in result["MatchedStatements"]}
    assert sources == {("ListAll", "user-managed"), ("IAMReadOnlyAccess", "aws-managed")}


def test_an_explicit_deny_wins_and_is_the_only_matched_statement(
    root_iam: Any, account: NewAccount
) -> None:
    root_iam.create_user(UserName="erin")
    root_iam.put_user_policy(
        UserName="erin", PolicyName="all-s3", PolicyDocument=_doc(_allow("s3:*"))
    )
    root_iam.create_group(GroupName="NoDeletes")
    root_iam.add_user_to_group(GroupName="NoDeletes", UserName="erin")
    root_iam.put_group_policy(
        GroupName="NoDeletes",
        PolicyName="no-delete",
        PolicyDocument=_doc(_deny("s3:DeleteObject")),
    )
    response = root_iam.simulate_principal_policy(
        PolicySourceArn=_user_arn(account, "erin"),
        ActionNames=["s3:DeleteObject", "s3:GetObject"],
    )
    delete, get = response["EvaluationResults"]
    assert delete["EvalDecision"] == "explicitDeny"
    assert [s["SourcePolicyId"] for s in delete["MatchedStatements"]] == ["no-delete"]
    assert delete["MatchedStatements"][0]["SourcePolicyType"] == "group"
    assert get["EvalDecision"] == "allowed"
    assert [(s["SourcePolicyId"], s["SourcePolicyType"]) for s in get["MatchedStatements"]] == [
        ("all-s3", "user")
    ]


def test_a_permissions_boundary_blocks_what_it_does_not_allow(
    root_iam: Any, account: NewAccount
) -> None:
    boundary = root_iam.create_policy(
        PolicyName="OnlyReads", PolicyDocument=_doc(_allow("s3:GetObject"))
    )["Policy"]["Arn"]
    root_iam.create_user(UserName="frank", PermissionsBoundary=boundary)
    root_iam.put_user_policy(
        UserName="frank", PolicyName="all-s3", PolicyDocument=_doc(_allow("s3:*"))
    )
    response = root_iam.simulate_principal_policy(
        PolicySourceArn=_user_arn(account, "frank"),
        ActionNames=["s3:GetObject", "s3:PutObject"],
    )
    get, put = response["EvaluationResults"]
    assert get["EvalDecision"] == "allowed"
    assert get["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert put["EvalDecision"] == "implicitDeny"
    assert put["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    # A boundary given in the call replaces the attached one.
    replaced = root_iam.simulate_principal_policy(
        PolicySourceArn=_user_arn(account, "frank"),
        ActionNames=["s3:GetObject", "s3:PutObject"],
        PermissionsBoundaryPolicyInputList=[_doc(_allow("s3:PutObject"))],
    )
    assert _decisions(replaced) == {"s3:GetObject": "implicitDeny", "s3:PutObject": "allowed"}
    # Excluding the boundary simulates the user without it.
    unbounded = root_iam.simulate_principal_policy(
        PolicySourceArn=_user_arn(account, "frank"),
        ActionNames=["s3:PutObject"],
        PolicyExclusionList=[{"PolicyType": "permission-boundary"}],
    )
    assert _decisions(unbounded) == {"s3:PutObject": "allowed"}
    assert "PermissionsBoundaryDecisionDetail" not in unbounded["EvaluationResults"][0]


def test_policy_exclusions_remove_inline_and_managed_policies(
    root_iam: Any, account: NewAccount
) -> None:
    root_iam.create_user(UserName="gina")
    root_iam.put_user_policy(
        UserName="gina", PolicyName="inline-list", PolicyDocument=_doc(_allow("iam:ListRoles"))
    )
    arn = root_iam.create_policy(
        PolicyName="ManagedList", PolicyDocument=_doc(_allow("iam:ListGroups"))
    )["Policy"]["Arn"]
    root_iam.attach_user_policy(UserName="gina", PolicyArn=arn)
    source = _user_arn(account, "gina")
    actions = ["iam:ListRoles", "iam:ListGroups"]
    assert _decisions(
        root_iam.simulate_principal_policy(PolicySourceArn=source, ActionNames=actions)
    ) == {"iam:ListRoles": "allowed", "iam:ListGroups": "allowed"}
    by_name = root_iam.simulate_principal_policy(
        PolicySourceArn=source,
        ActionNames=actions,
        PolicyExclusionList=[
            {
                "InlinePolicyIdentifier": {
                    "PolicyName": "inline-list",
                    "AttachmentType": "user",
                    "AttachmentName": "GINA",
                }
            },
            {"PolicyArn": f"arn:aws:iam::{account.account_id}:policy/Managed*"},
        ],
    )
    assert _decisions(by_name) == {
        "iam:ListRoles": "implicitDeny",
        "iam:ListGroups": "implicitDeny",
    }
    with pytest.raises(ClientError) as caught:
        root_iam.simulate_principal_policy(
            PolicySourceArn=source,
            ActionNames=actions,
            PolicyExclusionList=[{"PolicyArn": "arn:aws:iam::*:policy/*a*"}],
        )
    assert _error(caught) == ("InvalidInput", 400)


def test_roles_and_groups_are_simulated_with_their_own_policies(
    root_iam: Any, account: NewAccount
) -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    role_arn = root_iam.create_role(RoleName="Deployer", AssumeRolePolicyDocument=trust)["Role"][
        "Arn"
    ]
    root_iam.put_role_policy(
        RoleName="Deployer",
        PolicyName="deploy",
        PolicyDocument=_doc(
            _allow("s3:PutObject", "arn:aws:s3:::releases/*"),
            _allow("iam:GetRole", "arn:aws:iam::*:role/${aws:PrincipalTag/team}"),
        ),
    )
    root_iam.tag_role(RoleName="Deployer", Tags=[{"Key": "team", "Value": "Deployer"}])
    role = root_iam.simulate_principal_policy(
        PolicySourceArn=role_arn,
        ActionNames=["s3:PutObject", "iam:GetRole"],
        ResourceArns=["arn:aws:s3:::releases/v1.zip", role_arn],
    )
    put, get_role = role["EvaluationResults"]
    assert put["EvalDecision"] == "implicitDeny"  # the most restrictive across the resources
    assert [r["EvalResourceDecision"] for r in put["ResourceSpecificResults"]] == [
        "allowed",
        "implicitDeny",
    ]
    assert put["MatchedStatements"] == []
    # The role's tags are principal tags, as for a session of the role.
    assert [r["EvalResourceDecision"] for r in get_role["ResourceSpecificResults"]] == [
        "implicitDeny",
        "allowed",
    ]
    assert get_role["ResourceSpecificResults"][1]["MatchedStatements"][0]["SourcePolicyType"] == (
        "role"
    )
    with pytest.raises(ClientError) as caught:
        root_iam.simulate_principal_policy(
            PolicySourceArn=role_arn,
            ActionNames=["s3:PutObject"],
            ResourcePolicy=_doc(
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": "*",
                }
            ),
        )
    assert _error(caught) == ("InvalidInput", 400)

    group_arn = root_iam.create_group(GroupName="Ops", Path="/teams/")["Group"]["Arn"]
    root_iam.put_group_policy(
        GroupName="Ops", PolicyName="ops", PolicyDocument=_doc(_allow("ec2:RebootInstances"))
    )
    group = root_iam.simulate_principal_policy(
        PolicySourceArn=group_arn, ActionNames=["ec2:RebootInstances"]
    )
    assert _decisions(group) == {"ec2:RebootInstances": "allowed"}
    # The path is part of the ARN.
    with pytest.raises(ClientError) as caught:
        root_iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{account.account_id}:group/Ops",
            ActionNames=["ec2:RebootInstances"],
        )
    assert _error(caught) == ("NoSuchEntity", 404)


def test_service_control_policies_of_a_custom_simulation(root_iam: Any) -> None:
    levels = [
        {"ServiceControlPolicyInputList": [_doc(_allow("*"))]},
        {"ServiceControlPolicyInputList": [_doc(_allow(["s3:*", "ec2:*"]), _deny("s3:Delete*"))]},
    ]
    response = root_iam.simulate_custom_policy(
        PolicyInputList=[_doc(_allow("*"))],
        OrderedOrganizationPolicyInputList=levels,
        ActionNames=["s3:GetObject", "s3:DeleteObject", "iam:ListUsers"],
    )
    get, delete, list_users = response["EvaluationResults"]
    assert get["EvalDecision"] == "allowed"
    assert get["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": True}
    assert delete["EvalDecision"] == "explicitDeny"
    assert delete["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}
    assert delete["MatchedStatements"] == []  # SCP statements are never listed
    assert list_users["EvalDecision"] == "implicitDeny"
    assert list_users["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}


def test_a_resource_policy_grants_a_cross_account_caller(
    root_iam: Any, account: NewAccount, make_account: Callable[..., NewAccount]
) -> None:
    owner = make_account()
    caller = f"arn:aws:iam::{account.account_id}:user/hana"
    bucket_object = "arn:aws:s3:::partner-bucket/data.csv"
    identity = _doc(_allow("s3:GetObject"))
    granting = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": caller},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::partner-bucket/*",
                }
            ],
        }
    )
    allowed = root_iam.simulate_custom_policy(
        PolicyInputList=[identity],
        ActionNames=["s3:GetObject"],
        ResourceArns=[bucket_object],
        ResourcePolicy=granting,
        ResourceOwner=f"arn:aws:iam::{owner.account_id}:root",
        CallerArn=caller,
    )["EvaluationResults"][0]
    assert allowed["EvalDecision"] == "allowed"
    assert {(s["SourcePolicyId"], s["SourcePolicyType"]) for s in allowed["MatchedStatements"]} == {
        ("PolicyInputList.1", "none"),
        ("ResourcePolicy", "resource"),
    }
    assert allowed["EvalDecisionDetails"] == {
        "identity-based policy": "allowed",
        "resource-based policy": "allowed",
    }
    specific = allowed["ResourceSpecificResults"][0]
    assert specific["EvalResourceDecision"] == "allowed"
    assert specific["EvalDecisionDetails"] == allowed["EvalDecisionDetails"]

    # Cross-account, the identity side must allow as well.
    no_identity = root_iam.simulate_custom_policy(
        PolicyInputList=[_doc(_allow("s3:ListBucket"))],
        ActionNames=["s3:GetObject"],
        ResourceArns=[bucket_object],
        ResourcePolicy=granting,
        ResourceOwner=f"arn:aws:iam::{owner.account_id}:root",
        CallerArn=caller,
    )["EvaluationResults"][0]
    assert no_identity["EvalDecision"] == "implicitDeny"
    assert no_identity["EvalDecisionDetails"]["identity-based policy"] == "implicitDeny"
    # Owned by the caller's own account, the resource policy alone is enough.
    same_account = root_iam.simulate_custom_policy(
        PolicyInputList=[_doc(_allow("s3:ListBucket"))],
        ActionNames=["s3:GetObject"],
        ResourceArns=[bucket_object],
        ResourcePolicy=granting,
        CallerArn=caller,
    )["EvaluationResults"][0]
    assert same_account["EvalDecision"] == "allowed"
    assert same_account["EvalDecisionDetails"] == {}
    # A resource policy needs a caller to match its Principal.
    with pytest.raises(ClientError) as caught:
        root_iam.simulate_custom_policy(
            PolicyInputList=[identity], ActionNames=["s3:GetObject"], ResourcePolicy=granting
        )
    assert _error(caught) == ("InvalidInput", 400)


def test_context_entries_satisfy_conditions_and_missing_keys_are_reported(
    root_iam: Any,
) -> None:
    policy = _doc(
        _allow(
            "dynamodb:CreateBackup",
            Condition={"DateGreaterThan": {"aws:CurrentTime": "2018-08-16T12:00:00Z"}},
        ),
        _allow("ec2:StartInstances", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    )

    def simulate(*entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return dict(
            root_iam.simulate_custom_policy(
                PolicyInputList=[policy],
                ActionNames=["dynamodb:CreateBackup", "ec2:StartInstances"],
                ContextEntries=list(entries),
                **extra,
            )
        )

    matching = simulate(
        {
            "ContextKeyName": "aws:CurrentTime",
            "ContextKeyValues": ["2019-04-25T11:00:00Z"],
            "ContextKeyType": "date",
        },
        {
            "ContextKeyName": "aws:SourceIp",
            "ContextKeyValues": ["10.1.2.3"],
            "ContextKeyType": "ip",
        },
    )
    assert _decisions(matching) == {
        "dynamodb:CreateBackup": "allowed",
        "ec2:StartInstances": "allowed",
    }
    assert all(r["MissingContextValues"] == [] for r in matching["EvaluationResults"])
    too_early = simulate(
        {
            "ContextKeyName": "aws:CurrentTime",
            "ContextKeyValues": ["2014-04-25T11:00:00Z"],
            "ContextKeyType": "date",
        }
    )
    backup, start = too_early["EvaluationResults"]
    assert backup["EvalDecision"] == "implicitDeny" and backup["MissingContextValues"] == []
    assert start["EvalDecision"] == "implicitDeny"
    assert start["MissingContextValues"] == ["aws:SourceIp"]
    # With resource ARNs the missing keys are reported per resource too.
    listed = simulate(ResourceArns=["arn:aws:ec2:us-east-1:111122223333:instance/i-1"])
    start = listed["EvaluationResults"][1]
    assert start["ResourceSpecificResults"][0]["MissingContextValues"] == ["aws:SourceIp"]
    assert start["MissingContextValues"] == ["aws:SourceIp"]

    for bad_type, value in (("ip", "not-an-ip"), ("numeric", "ten"), ("boolean", "yes")):
        with pytest.raises(ClientError) as caught:
            simulate(
                {
                    "ContextKeyName": "aws:Some",
                    "ContextKeyValues": [value],
                    "ContextKeyType": bad_type,
                }
            )
        assert _error(caught) == ("InvalidInput", 400)


def test_typed_list_context_entries(root_iam: Any) -> None:
    policy = _doc(
        _allow(
            "s3:PutObject",
            Condition={
                "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]},
                "NumericLessThan": {"s3:max-keys": "100"},
                "Bool": {"aws:SecureTransport": "true"},
            },
        )
    )
    entries = [
        {
            "ContextKeyName": "aws:TagKeys",
            "ContextKeyValues": ["team"],
            "ContextKeyType": "stringList",
        },
        {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["10"], "ContextKeyType": "numeric"},
        {
            "ContextKeyName": "aws:SecureTransport",
            "ContextKeyValues": ["TRUE"],
            "ContextKeyType": "boolean",
        },
    ]
    result = root_iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["s3:PutObject"], ContextEntries=entries
    )
    assert _decisions(result) == {"s3:PutObject": "allowed"}
    entries[0]["ContextKeyValues"] = ["team", "owner"]
    result = root_iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["s3:PutObject"], ContextEntries=entries
    )
    assert _decisions(result) == {"s3:PutObject": "implicitDeny"}


def test_results_are_paged_with_max_items(root_iam: Any) -> None:
    actions = [
        f"iam:{name}" for name in ("ListUsers", "ListRoles", "ListGroups", "GetUser", "GetRole")
    ]
    policy = _doc(_allow("iam:List*"))
    first = root_iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=actions, MaxItems=2
    )
    assert first["IsTruncated"] is True
    assert [r["EvalActionName"] for r in first["EvaluationResults"]] == actions[:2]
    second = root_iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=actions, MaxItems=2, Marker=first["Marker"]
    )
    assert [r["EvalActionName"] for r in second["EvaluationResults"]] == actions[2:4]
    pages = root_iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[policy], ActionNames=actions, PaginationConfig={"PageSize": 2}
    )
    collected = [r for page in pages for r in page["EvaluationResults"]]
    assert [r["EvalDecision"] for r in collected] == ["allowed"] * 3 + ["implicitDeny"] * 2


def test_matched_statement_positions_in_a_multi_line_document(
    root_iam: Any, account: NewAccount
) -> None:
    document = (
        "{\n"
        '    "Version": "2012-10-17",\n'
        '    "Statement": [\n'
        "        {\n"
        '            "Sid": "ReadOnly",\n'
        '            "Effect": "Allow",\n'
        '            "Action": "codecommit:ListRepositories",\n'
        '            "Resource": "*"\n'
        "        },\n"
        '        {"Sid": "NoDelete", "Effect": "Deny", "Action": "codecommit:Delete*",\n'
        '         "Resource": "*"}\n'
        "    ]\n"
        "}\n"
    )
    root_iam.create_user(UserName="ivan")
    root_iam.put_user_policy(
        UserName="ivan", PolicyName="Grant-Access-To-CodeCommit-ListRepo", PolicyDocument=document
    )
    response = root_iam.simulate_principal_policy(
        PolicySourceArn=_user_arn(account, "ivan"),
        ActionNames=["codecommit:ListRepositories", "codecommit:DeleteRepository"],
    )
    listing, deleting = response["EvaluationResults"]
    assert listing["MatchedStatements"] == [
        {
            "SourcePolicyId": "Grant-Access-To-CodeCommit-ListRepo",
            "SourcePolicyType": "user",
            "StartPosition": {"Line": 4, "Column": 10},
            "EndPosition": {"Line": 9, "Column": 10},
        }
    ]
    assert deleting["EvalDecision"] == "explicitDeny"
    assert deleting["MatchedStatements"][0]["StartPosition"] == {"Line": 10, "Column": 10}
    assert deleting["MatchedStatements"][0]["EndPosition"] == {"Line": 11, "Column": 26}
    # The one-line document of AWS's own simulate-custom-policy example: columns 38..167.
    aws_example = (
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*",'
        '"Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
    )
    example = root_iam.simulate_custom_policy(
        PolicyInputList=[aws_example],
        ActionNames=["dynamodb:CreateBackup"],
        ContextEntries=[
            {
                "ContextKeyName": "aws:CurrentTime",
                "ContextKeyValues": ["2019-04-25T11:00:00Z"],
                "ContextKeyType": "date",
            }
        ],
    )["EvaluationResults"][0]
    assert example["MatchedStatements"] == [
        {
            "SourcePolicyId": "PolicyInputList.1",
            "SourcePolicyType": "none",
            "StartPosition": {"Line": 1, "Column": 38},
            "EndPosition": {"Line": 1, "Column": 167},
        }
    ]


def test_context_keys_of_custom_and_principal_policies(root_iam: Any, account: NewAccount) -> None:
    policy = _doc(
        _allow(
            "dynamodb:*",
            "arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",
            Condition={"DateGreaterThan": {"aws:CurrentTime": "2015-08-16T12:00:00Z"}},
        )
    )
    keys = root_iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])
    assert keys["ContextKeyNames"] == ["aws:username", "aws:CurrentTime"]
    root_iam.create_user(UserName="judy")
    root_iam.put_user_policy(
        UserName="judy",
        PolicyName="mfa",
        PolicyDocument=_doc(
            _allow("iam:*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
        ),
    )
    principal_keys = root_iam.get_context_keys_for_principal_policy(
        PolicySourceArn=_user_arn(account, "judy"), PolicyInputList=[policy]
    )
    assert principal_keys["ContextKeyNames"] == [
        "aws:MultiFactorAuthPresent",
        "aws:username",
        "aws:CurrentTime",
    ]


def test_errors_are_shaped_like_aws(root_iam: Any, account: NewAccount) -> None:
    cases: list[tuple[Callable[[], Any], tuple[str, int]]] = [
        (
            lambda: root_iam.simulate_principal_policy(
                PolicySourceArn=_user_arn(account, "nobody"), ActionNames=["iam:ListUsers"]
            ),
            ("NoSuchEntity", 404),
        ),
        (
            lambda: root_iam.get_context_keys_for_principal_policy(
                PolicySourceArn=f"arn:aws:iam::{account.account_id}:role/missing"
            ),
            ("NoSuchEntity", 404),
        ),
        (
            lambda: root_iam.simulate_custom_policy(
                PolicyInputList=['{"Statement": [}'], ActionNames=["iam:ListUsers"]
            ),
            ("InvalidInput", 400),
        ),
        (
            lambda: root_iam.simulate_custom_policy(
                PolicyInputList=[_doc({"Effect": "Allow", "Action": "iam:ListUsers"})],
                ActionNames=["iam:ListUsers"],
            ),
            ("InvalidInput", 400),
        ),
        (
            lambda: root_iam.simulate_custom_policy(
                PolicyInputList=[_doc(_allow("iam:*"))], ActionNames=["iam:List*"]
            ),
            ("InvalidInput", 400),
        ),
        (  # larger than any IAM identity policy may be (10240 characters without whitespace)
            lambda: root_iam.simulate_custom_policy(
                PolicyInputList=[_doc(_allow([f"s3:Get{n:05}" for n in range(800)]))],
                ActionNames=["s3:GetObject"],
            ),
            ("InvalidInput", 400),
        ),
        (
            lambda: root_iam.simulate_custom_policy(
                PolicyInputList=[_doc(_allow("iam:*"))],
                ActionNames=["iam:ListUsers"],
                CallerArn=f"arn:aws:sts::{account.account_id}:assumed-role/R/s",
            ),
            ("InvalidInput", 400),
        ),
        (
            lambda: root_iam.simulate_principal_policy(
                PolicySourceArn=f"arn:aws:iam::{account.account_id}:policy/NotAPrincipal",
                ActionNames=["iam:ListUsers"],
            ),
            ("InvalidInput", 400),
        ),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught) == expected


def test_simulating_needs_the_simulate_permissions(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    root_iam.create_user(UserName="auditor")
    root_iam.create_user(UserName="target")
    root_iam.create_user(UserName="other")
    root_iam.put_user_policy(
        UserName="auditor",
        PolicyName="simulate-target",
        PolicyDocument=_doc(
            _allow("iam:SimulatePrincipalPolicy", _user_arn(account, "target")),
            _allow("iam:GetContextKeysForCustomPolicy"),
        ),
    )
    key = root_iam.create_access_key(UserName="auditor")["AccessKey"]
    auditor = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    allowed = auditor.simulate_principal_policy(
        PolicySourceArn=_user_arn(account, "target"), ActionNames=["iam:ListUsers"]
    )
    assert _decisions(allowed) == {"iam:ListUsers": "implicitDeny"}
    keys = auditor.get_context_keys_for_custom_policy(
        PolicyInputList=[_doc(_allow("iam:ListUsers"))]
    )
    assert keys["ContextKeyNames"] == []
    for call in (
        lambda: auditor.simulate_principal_policy(
            PolicySourceArn=_user_arn(account, "other"), ActionNames=["iam:ListUsers"]
        ),
        lambda: auditor.simulate_custom_policy(
            PolicyInputList=[_doc(_allow("iam:ListUsers"))], ActionNames=["iam:ListUsers"]
        ),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert _error(caught) == ("AccessDenied", 403)


# --------------------------------------------------------------------------- the demo world
def _aws_cli(home: Path, config: str, *args: str) -> subprocess.CompletedProcess[str]:
    (home / "config").write_text(config, encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("aws")), *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_demo_world_alice_may_assume_update_app_and_bob_may_not(
    server: RunningServer,
    client: ClientFactory,
    make_account: Callable[..., NewAccount],
    tmp_path: Path,
) -> None:
    development, production = make_account(), make_account()
    world = build_world(server.url, development.to_json(), production.to_json())
    dev = client("iam", development.access_key_id, development.secret_access_key)
    role = world["Roles"]["UpdateApp"]
    dev_account = development.account_id

    def decision(user: str) -> dict[str, Any]:
        result: dict[str, Any] = dev.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{dev_account}:user/{user}",
            ActionNames=["sts:AssumeRole"],
            ResourceArns=[role],
        )["EvaluationResults"][0]
        return result

    alice, bob = decision("alice"), decision("bob")
    assert alice["EvalDecision"] == "allowed"
    assert alice["MatchedStatements"][0]["SourcePolicyId"] == "assume-update-app"
    assert alice["MatchedStatements"][0]["SourcePolicyType"] == "group"
    assert bob["EvalDecision"] == "implicitDeny"
    # What the simulator says is what the gateway does.
    alice_sts = client(
        "sts", world["Users"]["alice"]["AccessKeyId"], world["Users"]["alice"]["SecretAccessKey"]
    )
    alice_sts.assume_role(RoleArn=role, RoleSessionName="sim")
    bob_sts = client(
        "sts", world["Users"]["bob"]["AccessKeyId"], world["Users"]["bob"]["SecretAccessKey"]
    )
    with pytest.raises(ClientError) as caught:
        bob_sts.assume_role(RoleArn=role, RoleSessionName="sim")
    assert _error(caught) == ("AccessDenied", 403)

    # The aws CLI, unchanged, as alice's administrator (the development root).
    config = profiles_text(world) + (
        "\n[profile rolegate-dev-root]\n"
        f"aws_access_key_id = {development.access_key_id}\n"
        f"aws_secret_access_key = {development.secret_access_key}\n"
        f"endpoint_url = {server.url}\n"
        "region = us-east-1\n"
    )
    done = _aws_cli(
        tmp_path,
        config,
        "iam",
        "simulate-principal-policy",
        "--profile",
        "rolegate-dev-root",
        "--policy-source-arn",
        f"arn:aws:iam::{dev_account}:user/alice",
        "--action-names",
        "sts:AssumeRole",
        "iam:GetUser",
        "--resource-arns",
        role,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]
    assert results[0]["ResourceSpecificResults"][0]["EvalResourceName"] == role
    # AWS's own `aws iam simulate-custom-policy` example, verbatim, and its documented output.
    done = _aws_cli(
        tmp_path,
        config,
        "iam",
        "simulate-custom-policy",
        "--profile",
        "rolegate-dev-root",
        "--policy-input-list",
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*",'
        '"Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}',
        "--action-names",
        "dynamodb:CreateBackup",
        "--context-entries",
        "ContextKeyName='aws:CurrentTime',ContextKeyValues='2019-04-25T11:00:00Z',"
        "ContextKeyType=date",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "EvaluationResults": [
            {
                "EvalActionName": "dynamodb:CreateBackup",
                "EvalResourceName": "*",
                "EvalDecision": "allowed",
                "MatchedStatements": [
                    {
                        "SourcePolicyId": "PolicyInputList.1",
                        "SourcePolicyType": "none",
                        "StartPosition": {"Line": 1, "Column": 38},
                        "EndPosition": {"Line": 1, "Column": 167},
                    }
                ],
                "MissingContextValues": [],
            }
        ]
    }


# --------------------------------------------------------------------------- simulator == gateway
_ACTIONS = ["iam:GetUser", "iam:ListUsers", "iam:GetRole", "iam:ListRoles", "iam:ListGroups"]


def _random_policy(rng: random.Random, account_id: str) -> str:
    resources = [
        "*",
        f"arn:aws:iam::{account_id}:user/*",
        f"arn:aws:iam::{account_id}:user/probe",
        f"arn:aws:iam::{account_id}:role/*",
        f"arn:aws:iam::{account_id}:user/p*",
        f"arn:aws:iam::{account_id}:role/Other",
    ]
    statements = []
    for _ in range(rng.randint(1, 4)):
        effect = "Deny" if rng.random() < 0.3 else "Allow"
        action = rng.choice([*_ACTIONS, "iam:Get*", "iam:List*", "iam:*"])
        key = "NotAction" if rng.random() < 0.15 else "Action"
        statements.append({"Effect": effect, key: action, "Resource": rng.choice(resources)})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def test_simulated_decisions_equal_what_the_gateway_enforces(
    root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    rng = random.Random(20261203)
    account_id = account.account_id
    root_iam.create_role(
        RoleName="Probe",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    calls: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "iam:GetUser": (
            f"arn:aws:iam::{account_id}:user/probe",
            lambda iam: iam.get_user(UserName="probe"),
        ),
        "iam:ListUsers": (f"arn:aws:iam::{account_id}:user/", lambda iam: iam.list_users()),
        "iam:GetRole": (
            f"arn:aws:iam::{account_id}:role/Probe",
            lambda iam: iam.get_role(RoleName="Probe"),
        ),
        "iam:ListRoles": (f"arn:aws:iam::{account_id}:role/", lambda iam: iam.list_roles()),
        "iam:ListGroups": (f"arn:aws:iam::{account_id}:group/", lambda iam: iam.list_groups()),
    }
    root_iam.create_user(UserName="probe")
    key = root_iam.create_access_key(UserName="probe")["AccessKey"]
    probe = client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    compared = 0
    for round_number in range(6):
        for name in root_iam.list_user_policies(UserName="probe")["PolicyNames"]:
            root_iam.delete_user_policy(UserName="probe", PolicyName=name)
        for number in range(rng.randint(1, 2)):
            root_iam.put_user_policy(
                UserName="probe",
                PolicyName=f"random-{round_number}-{number}",
                PolicyDocument=_random_policy(rng, account_id),
            )
        for action, (resource, call) in calls.items():
            simulated = root_iam.simulate_principal_policy(
                PolicySourceArn=f"arn:aws:iam::{account_id}:user/probe",
                ActionNames=[action],
                ResourceArns=[resource],
            )["EvaluationResults"][0]["EvalDecision"]
            try:
                call(probe)
                enforced = "allowed"
            except ClientError as error:
                assert error.response["Error"]["Code"] == "AccessDenied"
                enforced = "denied"
            assert (simulated == "allowed") == (enforced == "allowed"), (
                action,
                resource,
                root_iam.get_user_policy(UserName="probe", PolicyName=f"random-{round_number}-0")[
                    "PolicyDocument"
                ],
            )
            compared += 1
    assert compared == 30


_S3_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]


def _random_s3_policy(rng: random.Random, bucket: str) -> str:
    resources = [
        "*",
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/*",
        f"arn:aws:s3:::{bucket}/public/*",
        "arn:aws:s3:::another-bucket/*",
    ]
    statements = [
        {
            "Effect": "Deny" if rng.random() < 0.25 else "Allow",
            "Action": rng.choice([*_S3_ACTIONS, "s3:Get*", "s3:*Object", "s3:*"]),
            "Resource": rng.choice(resources),
        }
        for _ in range(rng.randint(1, 4))
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def test_simulated_role_decisions_equal_what_s3_enforces_for_a_role_session(
    server: RunningServer, root_iam: Any, account: NewAccount, client: ClientFactory
) -> None:
    rng = random.Random(1203)
    account_id = account.account_id
    bucket = new_bucket_name("sim")
    root_s3 = s3_client(server, account.access_key_id, account.secret_access_key)
    root_s3.create_bucket(Bucket=bucket)
    root_s3.put_object(Bucket=bucket, Key="public/a.txt", Body=b"a")
    role_arn = root_iam.create_role(
        RoleName="S3Probe",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    root_iam.create_user(UserName="assumer")
    root_iam.put_user_policy(
        UserName="assumer", PolicyName="assume", PolicyDocument=_doc(_allow("sts:AssumeRole"))
    )
    key = root_iam.create_access_key(UserName="assumer")["AccessKey"]
    sts = client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    calls: dict[tuple[str, str], Callable[[Any], Any]] = {
        ("s3:GetObject", f"arn:aws:s3:::{bucket}/public/a.txt"): lambda s3: s3.get_object(
            Bucket=bucket, Key="public/a.txt"
        ),
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/private/b.txt"): lambda s3: s3.put_object(
            Bucket=bucket, Key="private/b.txt", Body=b"b"
        ),
        ("s3:DeleteObject", f"arn:aws:s3:::{bucket}/private/none.txt"): lambda s3: s3.delete_object(
            Bucket=bucket, Key="private/none.txt"
        ),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}"): lambda s3: s3.list_objects_v2(Bucket=bucket),
    }
    try:
        for round_number in range(4):
            root_iam.put_role_policy(
                RoleName="S3Probe",
                PolicyName="random",
                PolicyDocument=_random_s3_policy(rng, bucket),
            )
            credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=f"r{round_number}")[
                "Credentials"
            ]
            session = s3_client(
                server,
                credentials["AccessKeyId"],
                credentials["SecretAccessKey"],
                credentials["SessionToken"],
            )
            results = root_iam.simulate_principal_policy(
                PolicySourceArn=role_arn,
                ActionNames=_S3_ACTIONS,
                ResourceArns=sorted({resource for _, resource in calls}),
            )["EvaluationResults"]
            simulated = {
                (result["EvalActionName"], specific["EvalResourceName"]): specific[
                    "EvalResourceDecision"
                ]
                for result in results
                for specific in result["ResourceSpecificResults"]
            }
            for (action, resource), call in calls.items():
                try:
                    call(session)
                    enforced = "allowed"
                except ClientError as error:
                    assert error.response["Error"]["Code"] == "AccessDenied"
                    enforced = "denied"
                assert (simulated[(action, resource)] == "allowed") == (enforced == "allowed"), (
                    action,
                    resource,
                    root_iam.get_role_policy(RoleName="S3Probe", PolicyName="random"),
                )
    finally:
        for item in root_s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            root_s3.delete_object(Bucket=bucket, Key=item["Key"])
        root_s3.delete_bucket(Bucket=bucket)
