"""Finding filters and archive-rule filters (AWS's Criterion semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from rolegate.analyzer.errors import AnalyzerValidation
from rolegate.analyzer.filters import check_archive_filter, filter_values, matches

FINDING: dict[str, Any] = {
    "id": "f-1",
    "resource": "arn:aws:iam::111122223333:role/Partner",
    "resourceType": "AWS::IAM::Role",
    "isPublic": False,
    "status": "ACTIVE",
    "principal": {"AWS": "444455556666"},
    "condition": {"sts:ExternalId": "x-1"},
    "action": ["sts:AssumeRole"],
}


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"resource": {"contains": ["role/"]}}, True),
        ({"resource": {"contains": ["bucket"]}}, False),
        ({"isPublic": {"eq": ["false"]}}, True),
        ({"isPublic": {"eq": ["true"]}}, False),
        ({"principal.AWS": {"neq": ["444455556666"]}}, False),
        ({"principal.Federated": {"exists": False}}, True),
        ({"condition.STS:EXTERNALID": {"eq": ["x-1"]}}, True),  # keys are case-insensitive
        ({"condition.aws:SourceIp": {"exists": True}}, False),
        ({"resourceType": {"eq": ["AWS::IAM::Role"]}, "status": {"eq": ["ARCHIVED"]}}, False),
        ({"action": {"eq": ["sts:AssumeRole"]}}, True),
    ],
)
def test_matches(criteria: dict[str, Any], expected: bool) -> None:
    assert matches(criteria, FINDING) is expected


def test_values_of_absent_keys() -> None:
    assert filter_values(FINDING, "error") == []
    assert filter_values(FINDING, "principal.AWS") == ["444455556666"]


@pytest.mark.parametrize(
    "criteria",
    [{}, {"status": {"eq": ["ACTIVE"]}}, {"id": {"eq": ["f-1"]}}, {"resource": {}}],
)
def test_archive_rule_filters_refused(criteria: dict[str, Any]) -> None:
    with pytest.raises(AnalyzerValidation):
        check_archive_filter(criteria)
