"""Whatever the document, ValidatePolicy answers with findings whose locations are in it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolegate.analyzer.validate import POLICY_TYPES, RESOURCE_TYPES, validate_policy

from .helpers import document

_WORDS = st.sampled_from(
    [
        "*",
        "",
        "s3:GetObject",
        "s3:Get*",
        "iam:PassRole",
        "iam:*",
        "s4:Nope",
        "arn:aws:s3:::b/*",
        "arn:aws:iam::111122223333:role/r",
        "arn:aws:iam::1:role/*",
        "arn:aws:*:*:*:*",
        "arn:aws:s3:x",
        "10.0.0.0/8",
        "203.0.113.9/24",
        "2026-01-01",
        "${aws:username}",
        "true",
        "x" * 300,
        "arn:aws:s3:::" + "a*" * 200,
    ]
)
_SCALARS = st.one_of(_WORDS, st.text(max_size=12), st.integers(), st.booleans(), st.none())
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_WORDS, inner, max_size=3),
    max_leaves=8,
)
_ELEMENTS = st.sampled_from(
    [
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "Unknown",
    ]
)
_OPERATORS = st.sampled_from(
    [
        "StringEquals",
        "StringLike",
        "ArnLike",
        "IpAddress",
        "NotIpAddress",
        "DateLessThan",
        "NumericEquals",
        "Bool",
        "Null",
        "ForAllValues:StringLike",
        "NullIfExists",
        "Nope",
    ]
)
_KEYS = st.sampled_from(
    [
        "aws:SourceIp",
        "aws:CurrentTime",
        "aws:TagKeys",
        "s3:prefix",
        "aws:PrincipalArn",
        "iam:PassedToService",
        "nope:key",
        "aws:ResourceTag",
        "bad",
    ]
)
_CONDITIONS = st.dictionaries(_OPERATORS, st.dictionaries(_KEYS, _VALUES, max_size=2), max_size=2)
_STATEMENTS = st.dictionaries(_ELEMENTS, _VALUES, max_size=6).flatmap(
    lambda body: (
        st.builds(lambda condition: {**body, "Condition": condition}, _CONDITIONS)
        if "Condition" in body
        else st.just(body)
    )
)


def _check(text: str, policy_type: str, resource: str | None) -> None:
    for finding in validate_policy(text, policy_type, resource):
        data: dict[str, Any] = finding.as_dict()
        assert data["findingType"] in ("ERROR", "SECURITY_WARNING", "WARNING", "SUGGESTION")
        for where in finding.locations:
            assert 0 <= where.start.offset <= where.end.offset <= len(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    statements=st.lists(_STATEMENTS, max_size=3),
    policy_type=st.sampled_from(POLICY_TYPES),
    resource=st.sampled_from((None, *RESOURCE_TYPES)),
)
def test_random_statements_never_break_the_validator(
    statements: list[dict[str, Any]], policy_type: str, resource: str | None
) -> None:
    _check(document(*statements), policy_type, resource)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60), cut=st.integers(min_value=0, max_value=400))
def test_any_text_gets_findings(text: str, cut: int) -> None:
    _check(text, "IDENTITY_POLICY", None)
    truncated = document({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})[:cut]
    _check(truncated, "RESOURCE_POLICY", None)
    _check(json.dumps(text), "SERVICE_CONTROL_POLICY", None)
