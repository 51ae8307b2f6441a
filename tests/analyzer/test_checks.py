"""Custom policy checks on hand-proved cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolegate.analyzer.checks import (
    check_access_not_granted,
    check_no_new_access,
    check_no_public_access,
)
from rolegate.analyzer.errors import InvalidParameter

OTHER = "444455556666"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _read(principal: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
        **extra,
    }


def test_public_trust_policy_and_org_restriction() -> None:
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    result = check_no_public_access(trust, "AWS::IAM::AssumeRolePolicyDocument")
    assert not result.passed and result.reasons[0]["statementIndex"] == 0
    restricted = _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
        }
    )
    assert check_no_public_access(restricted, "AWS::IAM::AssumeRolePolicyDocument").passed


def test_no_public_access_with_deny_and_ip() -> None:
    denied = _doc(
        _read("*"),
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
    )
    assert check_no_public_access(denied, "AWS::S3::Bucket").passed
    by_ip = _doc(_read("*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert check_no_public_access(by_ip, "AWS::S3::Bucket").passed
    everyone_ip = _doc(_read("*", Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}))
    assert not check_no_public_access(everyone_ip, "AWS::S3::Bucket").passed


def test_no_new_access_for_resource_policies() -> None:
    existing = _doc(_read({"AWS": OTHER}))
    wider = _doc(_read({"AWS": OTHER}), _read("*", Sid="Everyone"))
    result = check_no_new_access(wider, existing, "RESOURCE_POLICY")
    assert not result.passed
    assert result.reasons == [
        {
            "description": "New access in the statement with index: 1.",
            "statementIndex": 1,
            "statementId": "Everyone",
        }
    ]
    assert check_no_new_access(existing, wider, "RESOURCE_POLICY").passed


def test_access_not_granted_by_resource() -> None:
    identity = _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::logs/*"})
    assert check_access_not_granted(
        identity, [{"resources": ["arn:aws:s3:::data/*"]}], "IDENTITY_POLICY"
    ).passed
    assert not check_access_not_granted(
        identity, [{"resources": ["arn:aws:s3:::logs/2024/*"]}], "IDENTITY_POLICY"
    ).passed
    with pytest.raises(InvalidParameter):
        check_access_not_granted(identity, [{"actions": ["s3:Get*"]}], "IDENTITY_POLICY")
