"""Parsing and validation: every problem named with its JSON pointer, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolegate.policy import PolicyKind, PolicyValidationError, parse_policy, validate_policy
from rolegate.policy.errors import LIMIT_EXCEEDED, MALFORMED_POLICY_DOCUMENT


def _doc(**statement: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    base.update(statement)
    return {
        "Version": "2012-10-17",
        "Statement": [{k: v for k, v in base.items() if v is not None}],
    }


def _issues(source: Any, kind: PolicyKind = PolicyKind.IDENTITY) -> list[tuple[str, str]]:
    if not isinstance(source, str | bytes):
        source = json.dumps(source)
    return [(issue.pointer, issue.message) for issue in validate_policy(source, kind)]


def test_valid_identity_policy_parses_with_statement_object() -> None:
    policy = parse_policy(
        '{"Version":"2012-10-17","Statement":{"Sid":"Read","Effect":"Allow",'
        '"Action":["s3:Get*"],"Resource":"arn:aws:s3:::b/*"}}'
    )
    assert policy.kind is PolicyKind.IDENTITY
    assert [s.ref.sid for s in policy.statements] == ["Read"]
    assert policy.variables_enabled


def test_not_json_is_a_syntax_error_with_line_and_column() -> None:
    [(pointer, message)] = _issues('{"Version": "2012-10-17", "Statement": [}')
    assert pointer == ""
    assert message.startswith("Syntax errors in policy")
    assert "line 1" in message


def test_invalid_utf8_is_reported() -> None:
    assert _issues(b'{"Statement": "\xff"}') == [("", "Policy document is not valid UTF-8")]


def test_duplicate_keys_are_located() -> None:
    text = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Effect":"Deny",'
        '"Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:username":"a",'
        '"aws:username":"b"}}}]}'
    )
    pointers = [pointer for pointer, _ in _issues(text)]
    assert "/Statement/0/Effect" in pointers
    assert "/Statement/0/Condition/StringEquals/aws:username" in pointers


@pytest.mark.parametrize(
    ("statement", "pointer", "fragment"),
    [
        ({"Action": []}, "/Statement/0/Action", "empty list"),
        ({"Action": 5}, "/Statement/0/Action", "string or a list"),
        ({"Action": ["s3:Get", 7]}, "/Statement/0/Action/1", "must be strings"),
        ({"Action": "GetObject"}, "/Statement/0/Action", "prefaced by a vendor"),
        ({"Action": ["s3:Get", "bad action"]}, "/Statement/0/Action/1", "prefaced by a vendor"),
        ({"Resource": "bucket"}, "/Statement/0/Resource", "must be in ARN format"),
        ({"Resource": ["*", "arn:aws:s3"]}, "/Statement/0/Resource/1", "must be in ARN format"),
        ({"Effect": "allow"}, "/Statement/0/Effect", 'must be "Allow" or "Deny"'),
        ({"Effect": None}, "/Statement/0", "Missing required field Effect"),
        ({"Action": None}, "/Statement/0", "must contain actions"),
        ({"NotAction": "s3:*"}, "/Statement/0", "both Action and NotAction"),
        ({"Resource": None}, "/Statement/0", "must contain resources"),
        ({"NotResource": "*"}, "/Statement/0", "both Resource and NotResource"),
        ({"Sid": "has space"}, "/Statement/0/Sid", "alpha-numeric"),
        ({"Sid": 3}, "/Statement/0/Sid", "Sid must be a string"),
        ({"Principal": "*"}, "/Statement/0/Principal", "should not specify a principal"),
        ({"Bogus": 1}, "/Statement/0/Bogus", "unknown field"),
        ({"Condition": []}, "/Statement/0/Condition", "must be an object"),
        (
            {"Condition": {"StringEqualz": {"aws:username": "a"}}},
            "/Statement/0/Condition/StringEqualz",
            "Invalid Condition type : StringEqualz",
        ),
        (
            {"Condition": {"NullIfExists": {"aws:username": "true"}}},
            "/Statement/0/Condition/NullIfExists",
            "Invalid Condition type",
        ),
        (
            {"Condition": {"Null": {"aws:username": "maybe"}}},
            "/Statement/0/Condition/Null/aws:username",
            "true",
        ),
        (
            {"Condition": {"StringEquals": {"username": "a"}}},
            "/Statement/0/Condition/StringEquals/username",
            "prefaced by a vendor",
        ),
        (
            {"Condition": {"StringEquals": {"aws:username": {"a": 1}}}},
            "/Statement/0/Condition/StringEquals/aws:username",
            "Condition values",
        ),
        (
            {"Condition": {"StringEquals": "a"}},
            "/Statement/0/Condition/StringEquals",
            "must map keys to values",
        ),
    ],
)
def test_statement_errors_name_their_place(
    statement: dict[str, Any], pointer: str, fragment: str
) -> None:
    issues = _issues(_doc(**statement))
    assert any(p == pointer and fragment in m for p, m in issues), issues


def test_document_level_errors() -> None:
    assert _issues([1]) == [("", "Policy document must be a JSON object")]
    assert ("", "Missing required field Statement") in _issues({"Version": "2012-10-17"})
    assert any(p == "/Version" for p, _ in _issues({"Version": "2020-01-01", "Statement": []}))
    assert any(p == "/Statement" for p, _ in _issues({"Version": "2012-10-17", "Statement": []}))
    assert any(p == "/Extra" for p, _ in _issues({**_doc(), "Extra": 1}))
    assert any(p == "/Statement/0" for p, _ in _issues({"Statement": ["x"]}))


def test_duplicate_sids_are_refused() -> None:
    doc = _doc(Sid="A")
    doc["Statement"].append(dict(doc["Statement"][0]))
    assert any("unique" in m for _, m in _issues(doc))


def test_every_problem_is_reported_at_once() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "nope", "Resource": "*"},
            {"Effect": "Maybe", "Action": "s3:*", "Resource": "bucket"},
        ],
    }
    pointers = {p for p, _ in _issues(doc)}
    assert pointers == {"/Statement/0/Action", "/Statement/1/Effect", "/Statement/1/Resource"}


def test_principal_rules_by_kind() -> None:
    resource_doc = _doc(Principal={"AWS": "arn:aws:iam::111122223333:user/alice"})
    assert _issues(resource_doc, PolicyKind.RESOURCE) == []
    assert any("should not specify a principal" in m for _, m in _issues(resource_doc))
    missing = _issues(_doc(), PolicyKind.RESOURCE)
    assert ("/Statement/0", "Missing required field Principal") in missing
    wildcard_user = _doc(Principal={"AWS": "arn:aws:iam::111122223333:user/*"})
    assert any(
        p == "/Statement/0/Principal/AWS" and "Invalid principal" in m
        for p, m in _issues(wildcard_user, PolicyKind.RESOURCE)
    )
    group = _doc(Principal={"AWS": "arn:aws:iam::111122223333:group/Developers"})
    assert any("Invalid principal" in m for _, m in _issues(group, PolicyKind.RESOURCE))
    bad_type = _doc(Principal={"Group": "x"})
    assert any("Invalid principal type" in m for _, m in _issues(bad_type, PolicyKind.RESOURCE))
    listed = _doc(Principal={"AWS": ["111122223333", "nonsense"]})
    assert [p for p, _ in _issues(listed, PolicyKind.RESOURCE)] == ["/Statement/0/Principal/AWS/1"]


def test_trust_policy_rules() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}
        ],
    }
    assert _issues(trust, PolicyKind.TRUST) == []
    with_resource = json.loads(json.dumps(trust))
    with_resource["Statement"][0]["Resource"] = "*"
    assert _issues(with_resource, PolicyKind.TRUST) == [
        ("/Statement/0/Resource", "Has prohibited field Resource")
    ]
    not_principal = json.loads(json.dumps(trust))
    not_principal["Statement"][0]["NotPrincipal"] = not_principal["Statement"][0].pop("Principal")
    assert _issues(not_principal, PolicyKind.TRUST) == [
        ("/Statement/0/NotPrincipal", "Has prohibited field NotPrincipal")
    ]


def test_size_quota_counts_non_whitespace_characters() -> None:
    doc = _doc(Resource=["arn:aws:s3:::bucket/" + "k" * 100 + f"{i}" for i in range(20)])
    text = json.dumps(doc, indent=8)
    assert validate_policy(text, PolicyKind.IDENTITY) == []
    issues = validate_policy(text, PolicyKind.TRUST)
    assert [issue.code for issue in issues] == [LIMIT_EXCEEDED]
    assert "2048" in issues[0].message
    assert validate_policy(text, PolicyKind.SESSION) != []
    assert validate_policy(text, PolicyKind.SESSION, max_size=0) == []


def test_parse_policy_raises_with_every_issue() -> None:
    with pytest.raises(PolicyValidationError) as caught:
        parse_policy('{"Statement": [{"Effect": "Allow"}]}')
    assert caught.value.code == MALFORMED_POLICY_DOCUMENT
    assert "must contain actions" in str(caught.value)
    assert "must contain resources" in str(caught.value)


def test_version_2008_and_absent_version_disable_variables() -> None:
    assert not parse_policy({**_doc(), "Version": "2008-10-17"}).variables_enabled
    assert not parse_policy({"Statement": _doc()["Statement"]}).variables_enabled


def test_deeply_nested_garbage_is_an_error_not_a_crash() -> None:
    assert _issues("[" * 100_000)[0][1].startswith("Syntax errors in policy")
