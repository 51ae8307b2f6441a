"""The per-issue-code check table: a policy, the finding AWS gives it and where it points."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from .helpers import findings, location

ID, RES, SCP, RCP = (
    "IDENTITY_POLICY",
    "RESOURCE_POLICY",
    "SERVICE_CONTROL_POLICY",
    "RESOURCE_CONTROL_POLICY",
)
TRUST = "AWS::IAM::AssumeRolePolicyDocument"
S0 = ["Statement", 0]
S1 = ["Statement", 1]


def allow(**elements: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **elements}


def stmt(**elements: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", **elements}


def cond(operator: str, key: str, value: Any, **elements: Any) -> dict[str, Any]:
    return stmt(Condition={operator: {key: value}}, **elements)


@dataclass(frozen=True)
class Case:
    code: str
    finding_type: str
    text: str
    spots: tuple[tuple[str, tuple[int | str, ...], int], ...]  # (needle, path, nth)
    details: str | None = None
    policy_type: str = ID
    resource: str | None = None


def case(
    code: str,
    finding_type: str,
    text: str,
    *spots: tuple[str, list[int | str]] | tuple[str, list[int | str], int],
    details: str | None = None,
    policy_type: str = ID,
    resource: str | None = None,
) -> Any:
    normalized = tuple((s[0], tuple(s[1]), s[2] if len(s) == 3 else 0) for s in spots)
    return pytest.param(
        Case(code, finding_type, text, normalized, details, policy_type, resource), id=code
    )


ROOT = "<root>"  # the whole document
STATEMENT = "<statement>"


def _expected_location(text: str, needle: str, path: tuple[int | str, ...], nth: int) -> Any:
    if needle == ROOT:
        return location(text, text.strip(), list(path))
    if needle.startswith("<statement"):
        body = json.loads(text)["Statement"]
        index = path[1]
        assert isinstance(index, int)
        rendered = json.dumps(body[index], indent=4).replace("\n", "\n        ")
        return location(text, rendered, list(path))
    return location(text, needle, list(path), nth)


def assert_case(check: Case) -> None:
    """The policy has exactly one finding with the code, of the type, wording and locations."""
    got = [
        item
        for item in findings(check.text, check.policy_type, check.resource)
        if item["issueCode"] == check.code
    ]
    assert len(got) == 1, findings(check.text, check.policy_type, check.resource)
    finding = got[0]
    assert finding["findingType"] == check.finding_type
    kind = {
        "ERROR": "error",
        "WARNING": "general-warning",
        "SECURITY_WARNING": "security-warning",
        "SUGGESTION": "suggestion",
    }[check.finding_type]
    assert finding["learnMoreLink"].endswith(
        f"#access-analyzer-reference-policy-checks-{kind}-{check.code.lower().replace('_', '-')}"
    )
    if check.details is not None:
        assert finding["findingDetails"] == check.details
    expected = [_expected_location(check.text, *spot) for spot in check.spots]
    assert finding["locations"] == expected
