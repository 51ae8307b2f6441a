"""Direct checks of the test-only reference evaluator, and the corpus run through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reference_evaluator import reference_decide

CORPUS_DIR = Path(__file__).parent / "corpus"
ALICE = "arn:aws:iam::111122223333:user/alice"
OBJECT = "arn:aws:s3:::productionapp/a.txt"


def corpus_cases() -> list[Any]:
    params = []
    for path in sorted(CORPUS_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        cases = data["cases"] if isinstance(data, dict) else data
        for case in cases:
            params.append(pytest.param(case, id=f"{path.stem}:{case['name']}"))
    return params


@pytest.mark.parametrize("case", corpus_cases())
def test_reference_agrees_with_corpus(case: dict[str, Any]) -> None:
    assert reference_decide(case) == case["expect"], json.dumps(case, indent=2)


def statement(effect: str = "Allow", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Effect": effect, "Action": "s3:GetObject", "Resource": "*"}
    body.update(fields)
    return body


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def case_for(
    policies: dict[str, Any],
    principal: dict[str, Any] | None = None,
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    context: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    case = {
        "name": "unit",
        "principal": principal or {"arn": ALICE},
        "action": action,
        "resource": resource,
        "context": context or {},
        "policies": policies,
    }
    case.update(extra)
    return case


def test_default_is_implicit_deny() -> None:
    assert reference_decide(case_for({})) == "ImplicitDeny"


def test_action_matching_ignores_case_and_resource_matching_does_not() -> None:
    allow = policy(statement(Action="S3:get*", Resource="arn:aws:s3:::productionapp/*"))
    assert reference_decide(case_for({"identity": [allow]})) == "Allow"
    upper = policy(statement(Resource="arn:aws:s3:::ProductionApp/*"))
    assert reference_decide(case_for({"identity": [upper]})) == "ImplicitDeny"


def test_deny_beats_allow_and_not_action_deny() -> None:
    allow = policy(statement())
    deny = policy(statement("Deny", NotAction="s3:PutObject"))
    assert reference_decide(case_for({"identity": [allow, deny]})) == "ExplicitDeny"


def test_variables_only_under_2012_and_escapes_are_literal() -> None:
    resource = "arn:aws:s3:::productionapp/${aws:username}/x"
    context_case: dict[str, Any] = {"resource": "arn:aws:s3:::productionapp/alice/x"}
    allow_2012 = policy(statement(Resource=resource))
    assert reference_decide(case_for({"identity": [allow_2012]}, **context_case)) == "Allow"
    allow_2008 = policy(statement(Resource=resource), version="2008-10-17")
    assert reference_decide(case_for({"identity": [allow_2008]}, **context_case)) == (
        "ImplicitDeny"
    )
    literal = policy(statement(Resource="arn:aws:s3:::productionapp/${*}"))
    assert reference_decide(case_for({"identity": [literal]})) == "ImplicitDeny"
    star_object = "arn:aws:s3:::productionapp/*"
    assert reference_decide(case_for({"identity": [literal]}, resource=star_object)) == "Allow"


def test_variable_default_and_unresolved() -> None:
    with_default = policy(statement(Resource="arn:aws:s3:::${aws:PrincipalTag/team, 'none'}/*"))
    none_object = "arn:aws:s3:::none/a"
    assert reference_decide(case_for({"identity": [with_default]}, resource=none_object)) == (
        "Allow"
    )
    tagged = {"arn": ALICE, "tags": {"Team": "blue"}}
    blue_object = "arn:aws:s3:::blue/a"
    assert (
        reference_decide(case_for({"identity": [with_default]}, tagged, resource=blue_object))
        == "Allow"
    )
    unresolved = policy(
        statement("Deny", NotResource="arn:aws:s3:::${aws:PrincipalTag/x}/*"), statement()
    )
    assert reference_decide(case_for({"identity": [unresolved]})) == "ExplicitDeny"


@pytest.mark.parametrize(
    ("operator", "values", "context", "expected"),
    [
        ("StringEquals", "a", {}, False),
        ("StringNotEquals", "a", {}, True),
        ("StringNotEquals", ["a", "b"], {"k": "b"}, False),
        ("StringEqualsIfExists", "a", {}, True),
        ("StringEqualsIgnoreCase", "ABC", {"k": "abc"}, True),
        ("StringLike", "a*c?", {"k": "abbcd"}, True),
        ("NumericLessThan", "10", {"k": "9.5"}, True),
        ("NumericNotEquals", "10", {"k": "ten"}, True),
        ("NumericGreaterThanEquals", "10", {"k": 10}, True),
        ("DateLessThan", "2024-01-01T00:00:00Z", {"k": "1700000000"}, True),
        ("DateGreaterThan", "2024-01-01", {"k": "2024-01-01T00:00:01+00:00"}, True),
        ("Bool", "TRUE", {"k": True}, True),
        ("BinaryEquals", "aGk=", {"k": "aGk="}, True),
        ("IpAddress", "203.0.113.0/24", {"k": "203.0.113.7"}, True),
        ("NotIpAddress", "2001:db8::/32", {"k": "2001:db8::1"}, False),
        ("IpAddress", "2001:db8::/32", {"k": "203.0.113.7"}, False),
        ("ArnLike", "arn:aws:iam::*:role/a*", {"k": "arn:aws:iam::1:role/ab:c"}, True),
        ("ArnEquals", "arn:aws:iam::1", {"k": "arn:aws:iam::1"}, False),
        ("Null", "true", {}, True),
        ("Null", "false", {"k": []}, False),
        ("ForAllValues:StringEquals", ["a", "b"], {}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "c"]}, False),
        ("ForAnyValue:StringEquals", ["a", "b"], {"k": ["a", "c"]}, True),
        ("ForAnyValue:StringEquals", ["a"], {}, False),
        ("ForAnyValue:StringEqualsIfExists", ["a"], {}, True),
        ("ForAllValues:StringNotLike", ["a*"], {"k": ["b", "c"]}, True),
    ],
)
def test_condition_operators(
    operator: str, values: Any, context: dict[str, Any], expected: bool
) -> None:
    allow = policy(statement(Condition={operator: {"K": values}}))
    decision = reference_decide(case_for({"identity": [allow]}, context=context))
    assert decision == ("Allow" if expected else "ImplicitDeny")


SESSION = {
    "arn": "arn:aws:sts::111122223333:assumed-role/App/s1",
    "role_arn": "arn:aws:iam::111122223333:role/team/App",
    "id": "AROAEXAMPLE",
}
ROLE_OBJECT = "arn:aws:iam::111122223333:role/team/Target"


def test_resource_policy_match_kinds_in_same_account() -> None:
    def bucket_policy(principal: Any) -> dict[str, Any]:
        return policy(statement(Principal=principal))

    session_arn = {"AWS": SESSION["arn"]}
    boundary = policy(statement(Action="s3:PutObject"))
    direct = case_for({"resource": bucket_policy(session_arn), "boundary": boundary}, SESSION)
    assert reference_decide(direct) == "Allow"
    by_role = {"AWS": SESSION["role_arn"]}
    limited = case_for({"resource": bucket_policy(by_role), "boundary": boundary}, SESSION)
    assert reference_decide(limited) == "ImplicitDeny"
    account_only = case_for({"resource": bucket_policy({"AWS": "111122223333"})}, SESSION)
    assert reference_decide(account_only) == "ImplicitDeny"


def test_unique_ids_name_the_layer_of_their_arn() -> None:
    boundary = policy(statement(Action="s3:PutObject"))
    by_role_id = policy(statement(Principal={"AWS": "AROAEXAMPLE"}))
    assert (
        reference_decide(case_for({"resource": by_role_id, "boundary": boundary}, SESSION))
        == "ImplicitDeny"
    )
    assert reference_decide(case_for({"resource": by_role_id}, SESSION)) == "Allow"
    alice = {"arn": ALICE, "id": "AIDAALICE"}
    by_user_id = policy(statement(Principal={"AWS": "AIDAALICE"}))
    assert (
        reference_decide(case_for({"resource": by_user_id, "boundary": boundary}, alice)) == "Allow"
    )
    deny_others = policy(
        statement("Deny", NotPrincipal={"AWS": ["AIDAALICE", "111122223333"]}),
        statement(Principal="*"),
    )
    assert reference_decide(case_for({"resource": deny_others}, alice)) == "Allow"


def test_callers_without_an_account_need_only_the_resource_policy() -> None:
    public = policy(statement(Principal="*"))
    anonymous = {"arn": "anonymous"}
    cross: dict[str, Any] = {"resource_account": "444455556666"}
    assert reference_decide(case_for({"resource": public}, anonymous, **cross)) == "Allow"
    assert reference_decide(case_for({}, anonymous)) == "ImplicitDeny"
    by_service = policy(statement(Principal={"Service": "cloudtrail.amazonaws.com"}))
    service = {"arn": "cloudtrail.amazonaws.com"}
    assert reference_decide(case_for({"resource": by_service}, service)) == "Allow"


def test_not_principal_needs_every_identity_listed() -> None:
    listed = [SESSION["arn"], SESSION["role_arn"], "AROAEXAMPLE", "111122223333"]
    deny_others = policy(statement("Deny", NotPrincipal={"AWS": listed}), statement(Principal="*"))
    assert reference_decide(case_for({"resource": deny_others}, SESSION)) == "Allow"
    partial = policy(statement("Deny", NotPrincipal={"AWS": listed[:2]}), statement(Principal="*"))
    assert reference_decide(case_for({"resource": partial}, SESSION)) == "ExplicitDeny"


def test_cross_account_needs_both_sides_and_trust_rule() -> None:
    bucket_policy = policy(statement(Principal={"AWS": ALICE}))
    cross: dict[str, Any] = {"resource_account": "444455556666"}
    assert reference_decide(case_for({"resource": bucket_policy}, **cross)) == "ImplicitDeny"
    both = {"resource": bucket_policy, "identity": [policy(statement())]}
    assert reference_decide(case_for(both, **cross)) == "Allow"
    identity_only = {"identity": [policy(statement(Action="sts:AssumeRole"))]}
    assume = case_for(identity_only, action="sts:AssumeRole", resource=ROLE_OBJECT)
    assert reference_decide(assume) == "ImplicitDeny"
    trust = policy(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        }
    )
    trusted = case_for(
        {**identity_only, "resource": trust}, action="sts:AssumeRole", resource=ROLE_OBJECT
    )
    assert reference_decide(trusted) == "Allow"


def test_scp_levels_and_session_policies() -> None:
    allow_all = policy(statement(Action="*"))
    identity = [policy(statement())]
    assert (
        reference_decide(case_for({"identity": identity, "scp": [[allow_all], []]}))
        == "ImplicitDeny"
    )
    root = {"arn": "arn:aws:iam::111122223333:root"}
    assert reference_decide(case_for({"scp": [[allow_all]]}, root)) == "Allow"
    sessions = [policy(statement(Action="s3:PutObject")), policy(statement())]
    assert (
        reference_decide(case_for({"identity": identity, "session": sessions}, SESSION)) == "Allow"
    )
    assert (
        reference_decide(case_for({"identity": identity, "session": sessions[:1]}, SESSION))
        == "ImplicitDeny"
    )
