"""The authorizer's decisions and their reasons, beyond what the corpus pins."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from rolegate.policy import (
    Decision,
    DenyReason,
    Effect,
    PolicyKind,
    PolicySet,
    Principal,
    PrincipalType,
    Request,
    evaluate,
    parse_policy,
)

ALICE = Principal("arn:aws:iam::111122223333:user/dev/alice", unique_id="AIDAALICE000000000001")
SESSION = Principal(
    "arn:aws:sts::444455556666:assumed-role/UpdateApp/alice",
    role_arn="arn:aws:iam::444455556666:role/apps/UpdateApp",
    unique_id="AROAUPDATEAPP00000001",
    tags={"Team": "blue"},
)
ROOT = Principal("arn:aws:iam::111122223333:root")


def _policy(kind: PolicyKind, *statements: dict[str, Any], policy_id: str = "p") -> Any:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return parse_policy(doc, kind, policy_id=policy_id)


def _allow(action: str = "s3:*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: str = "s3:*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def test_principal_derived_keys() -> None:
    assert ALICE.type is PrincipalType.USER
    assert ALICE.global_context["aws:username"] == ("alice",)
    assert ALICE.global_context["aws:userid"] == ("AIDAALICE000000000001",)
    assert SESSION.type is PrincipalType.ASSUMED_ROLE
    assert SESSION.global_context["aws:principalarn"] == (
        "arn:aws:iam::444455556666:role/apps/UpdateApp",
    )
    assert SESSION.global_context["aws:userid"] == ("AROAUPDATEAPP00000001:alice",)
    assert "aws:username" not in SESSION.global_context
    assert SESSION.global_context["aws:principaltag/team"] == ("blue",)
    assert ROOT.is_root
    assert ROOT.global_context["aws:principaltype"] == ("Account",)
    assert Principal("*").type is PrincipalType.ANONYMOUS


def test_request_context_overrides_and_normalizes() -> None:
    request = Request(
        ALICE,
        "S3:GetObject",
        "arn:aws:s3:::b/k",
        context={"AWS:username": "mallory", "aws:SecureTransport": True, "aws:TagKeys": []},
    )
    assert request.action_key == "s3:getobject"
    assert request.evaluation_context["aws:username"] == ("mallory",)
    assert request.evaluation_context["aws:securetransport"] == ("true",)
    assert "aws:tagkeys" not in request.evaluation_context
    assert request.same_account


def test_explicit_deny_names_the_statement_and_kind() -> None:
    policies = PolicySet(
        identity=[
            _policy(PolicyKind.IDENTITY, _allow(), {**_deny(), "Sid": "NoS3"}, policy_id="Admin")
        ]
    )
    decision = evaluate(Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k"), policies)
    assert decision.effect is Effect.EXPLICIT_DENY
    assert [str(ref) for ref in decision.statements] == ["identity:Admin/NoS3"]
    assert (
        decision.aws_reason("s3:GetObject") == "with an explicit deny in an identity-based policy"
    )


@pytest.mark.parametrize(
    ("policies", "reasons"),
    [
        (PolicySet(), (DenyReason.NO_IDENTITY_ALLOW,)),
        (
            PolicySet(
                identity=[_policy(PolicyKind.IDENTITY, _allow())],
                boundary=_policy(PolicyKind.BOUNDARY, _allow("iam:*")),
            ),
            (DenyReason.NO_BOUNDARY_ALLOW,),
        ),
        (
            PolicySet(
                identity=[_policy(PolicyKind.IDENTITY, _allow())],
                session=[_policy(PolicyKind.SESSION, _allow("ec2:*"))],
            ),
            (DenyReason.NO_SESSION_ALLOW,),
        ),
        (
            PolicySet(
                identity=[_policy(PolicyKind.IDENTITY, _allow())],
                scp=[
                    [_policy(PolicyKind.SCP, _allow("*"))],
                    [_policy(PolicyKind.SCP, _allow("iam:*"))],
                ],
            ),
            (DenyReason.NO_SCP_ALLOW,),
        ),
    ],
)
def test_implicit_deny_says_which_kind_did_not_allow(
    policies: PolicySet, reasons: tuple[DenyReason, ...]
) -> None:
    decision = evaluate(Request(SESSION, "s3:GetObject", "arn:aws:s3:::b/k"), policies)
    assert decision == Decision(Effect.IMPLICIT_DENY, (), reasons)
    assert (
        decision.aws_reason("s3:GetObject") == f"because {reasons[0].value} the s3:GetObject action"
    )


def test_cross_account_without_resource_policy_reports_both_sides() -> None:
    request = Request(ALICE, "s3:GetObject", "arn:aws:s3:::prod/k", resource_account="444455556666")
    decision = evaluate(request, PolicySet())
    assert decision.reasons == (DenyReason.NO_RESOURCE_ALLOW, DenyReason.NO_IDENTITY_ALLOW)


def test_allow_lists_the_statements_that_allowed() -> None:
    bucket = _policy(
        PolicyKind.RESOURCE,
        {**_allow("s3:GetObject", "arn:aws:s3:::prod/*"), "Principal": {"AWS": "111122223333"}},
        policy_id="bucket",
    )
    identity = _policy(
        PolicyKind.IDENTITY, _allow("s3:Get*", "arn:aws:s3:::prod/*"), policy_id="id"
    )
    request = Request(ALICE, "s3:GetObject", "arn:aws:s3:::prod/k", resource_account="444455556666")
    decision = evaluate(request, PolicySet(identity=[identity], resource=bucket))
    assert decision.allowed
    assert [str(ref) for ref in decision.statements] == ["identity:id/#0", "resource:bucket/#0"]
    assert decision.explain() == "Allow: allowed by identity:id/#0, resource:bucket/#0"


def test_root_is_allowed_in_its_own_account_but_not_past_an_scp() -> None:
    request = Request(ROOT, "iam:CreateRole", "arn:aws:iam::111122223333:role/x")
    assert evaluate(request, PolicySet()).allowed
    scp = _policy(PolicyKind.SCP, _allow("s3:*"))
    assert evaluate(request, PolicySet(scp=[[scp]])).reasons == (DenyReason.NO_SCP_ALLOW,)


def test_with_resource_shares_the_principal_side() -> None:
    base = PolicySet(identity=[_policy(PolicyKind.IDENTITY, _allow())])
    bucket = _policy(PolicyKind.RESOURCE, {**_deny(), "Principal": "*"})
    request = Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/k")
    assert evaluate(request, base).allowed
    swapped = base.with_resource(bucket)
    assert swapped.identity is base.identity
    assert evaluate(request, swapped).effect is Effect.EXPLICIT_DENY


def test_evaluation_parses_no_json_and_compiles_no_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    identity = _policy(
        PolicyKind.IDENTITY,
        _allow("s3:*Object", "arn:aws:s3:::b/home/${aws:username}/*"),
        _allow("iam:?etUser", "arn:aws:iam::*:user/*"),
        _deny(
            "s3:*", "*", Condition={"StringLike": {"s3:prefix": ["secret*", "${aws:username}?x"]}}
        ),
        _allow("ec2:*", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    )
    policies = PolicySet(identity=[identity])
    requests = [
        Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/home/alice/k", {"s3:prefix": "alicexx"}),
        Request(ALICE, "iam:GetUser", "arn:aws:iam::111122223333:user/bob"),
        Request(ALICE, "ec2:RunInstances", "*", {"aws:SourceIp": "10.1.2.3"}),
    ]

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("evaluation must not parse JSON or compile patterns")

    monkeypatch.setattr(re, "compile", forbidden)
    monkeypatch.setattr(json, "loads", forbidden)
    assert [evaluate(r, policies).effect for r in requests] == [
        Effect.EXPLICIT_DENY,
        Effect.ALLOW,
        Effect.ALLOW,
    ]
