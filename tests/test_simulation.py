"""The simulator's pure parts: context keys, context entries, results (no store, no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolegate.errors import InvalidInput
from rolegate.iam.simulation import Simulation, context_keys, simulate
from rolegate.iam.simulation_inputs import context_entries, custom_sources
from rolegate.policy import PolicyKind, Principal, parse_policy


def _doc(*statements: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


def test_context_keys_keep_case_and_read_variables_with_defaults() -> None:
    policy = parse_policy(
        _doc(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/Team, 'none'}/${*}/${aws:username}",
                "Condition": {
                    "StringLike": {"s3:prefix": "${aws:userid}/*"},
                    "Bool": {"aws:SecureTransport": "true"},
                },
            },
            {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::${AWS:Username}"},
        )
    )
    assert context_keys([policy]) == [
        "aws:PrincipalTag/Team",
        "aws:username",
        "s3:prefix",
        "aws:userid",
        "aws:SecureTransport",
    ]
    # Version 2008-10-17 has no policy variables: `${...}` is literal text.
    old = parse_policy(
        _doc(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::${aws:username}"},
            version="2008-10-17",
        )
    )
    assert context_keys([old]) == []


def test_context_entries_are_checked_by_type() -> None:
    entries = context_entries(
        [
            {
                "ContextKeyName": "aws:SourceIp",
                "ContextKeyValues": ["10.0.0.0/8"],
                "ContextKeyType": "ip",
            },
            {
                "ContextKeyName": "aws:MultiFactorAuthPresent",
                "ContextKeyValues": ["TRUE"],
                "ContextKeyType": "boolean",
            },
            {
                "ContextKeyName": "s3:max-keys",
                "ContextKeyValues": ["1.5", "-2"],
                "ContextKeyType": "numericList",
            },
            {
                "ContextKeyName": "aws:CurrentTime",
                "ContextKeyValues": ["1700000000"],
                "ContextKeyType": "date",
            },
            {
                "ContextKeyName": "ec2:Blob",
                "ContextKeyValues": ["aGVsbG8="],
                "ContextKeyType": "binary",
            },
        ]
    )
    assert entries["aws:MultiFactorAuthPresent"] == ("true",)
    assert entries["s3:max-keys"] == ("1.5", "-2")
    for key_type, value in (
        ("date", "yesterday"),
        ("binary", "***"),
        ("numericList", "1e"),
        ("ipList", "10.0.0.300"),
        ("booleanList", "1"),
    ):
        with pytest.raises(InvalidInput):
            context_entries(
                [
                    {
                        "ContextKeyName": "aws:Key",
                        "ContextKeyValues": [value],
                        "ContextKeyType": key_type,
                    }
                ]
            )


def test_missing_keys_come_only_from_statements_that_apply() -> None:
    sources = custom_sources(
        [
            _doc(
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                    "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
                },
                {
                    "Effect": "Allow",
                    "Action": "ec2:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"ec2:Region": "us-east-1"}},
                },
            )
        ],
        "PolicyInputList",
    )
    principal = Principal("arn:aws:iam::111122223333:user/u", unique_id="AIDAEXAMPLE0000000001")
    simulation = Simulation(principal=principal, identity=sources)
    (on_bucket,) = simulate(simulation, ["s3:GetObject"], ["arn:aws:s3:::b/k"])
    assert on_bucket["EvalDecision"] == "implicitDeny"
    assert on_bucket["MissingContextValues"] == ["aws:SourceVpc"]
    (elsewhere,) = simulate(simulation, ["s3:GetObject"], ["arn:aws:s3:::other/k"])
    assert elsewhere["MissingContextValues"] == []
    supplied = Simulation(
        principal=principal, identity=sources, context={"aws:sourcevpc": ("vpc-1",)}
    )
    (allowed,) = simulate(supplied, ["s3:GetObject"], ["arn:aws:s3:::b/k"])
    assert allowed["EvalDecision"] == "allowed"
    assert allowed["MissingContextValues"] == []
    # Without ResourceArns the resource is "*", which a statement on b/* does not match.
    (everything,) = simulate(supplied, ["s3:GetObject"], None)
    assert everything["EvalDecision"] == "implicitDeny"
    assert "ResourceSpecificResults" not in everything


def test_the_decision_is_the_engines_for_every_resource() -> None:
    boundary = parse_policy(
        _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}),
        PolicyKind.BOUNDARY,
        policy_id="boundary",
    )
    sources = custom_sources(
        [_doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})], "PolicyInputList"
    )
    simulation = Simulation(
        principal=Principal("arn:aws:iam::111122223333:user/u"), identity=sources, boundary=boundary
    )
    (result,) = simulate(simulation, ["s3:PutObject"], ["arn:aws:s3:::b/k", "arn:aws:s3:::c/k"])
    assert result["EvalDecision"] == "implicitDeny"
    assert result["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert [
        (r["EvalResourceDecision"], r["PermissionsBoundaryDecisionDetail"])
        for r in result["ResourceSpecificResults"]
    ] == [
        ("allowed", {"AllowedByPermissionsBoundary": True}),
        ("implicitDeny", {"AllowedByPermissionsBoundary": False}),
    ]
    assert result["MatchedStatements"] == []  # no statement decided the implicit deny
