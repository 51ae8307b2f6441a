"""Real-world policies: AWS managed policies, the AWS documentation's examples, the corpus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rolegate.analyzer import validate_catalog as catalog
from rolegate.analyzer.validate import validate_policy
from rolegate.iam.aws_managed import AWS_MANAGED_POLICIES
from rolegate.policy.located import LocatedJsonError, load_located, plain

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
_KINDS = {
    "identity": "IDENTITY_POLICY",
    "boundary": "IDENTITY_POLICY",
    "session": "IDENTITY_POLICY",
    "resource": "RESOURCE_POLICY",
    "scp": "SERVICE_CONTROL_POLICY",
}


def _documents(kind: str, documents: Any) -> Iterator[Any]:
    items = documents if isinstance(documents, list) else [documents]
    for item in items:
        if isinstance(item, list):  # SCPs: one list per organization level
            yield from _documents(kind, item)
        else:
            yield item


def _corpus(name: str) -> list[tuple[str, str, str]]:
    """(case name, policy type, document text) of every policy in a corpus file."""
    cases = json.loads((CORPUS / name).read_text(encoding="utf-8"))["cases"]
    return [
        (case["name"], _KINDS[kind], json.dumps(doc, indent=2))
        for case in cases
        for kind, documents in case.get("policies", {}).items()
        for doc in _documents(kind, documents)
    ]


# Which AWS managed policies AWS's check reference names for each warning.
_DOCUMENTED_WARNINGS = {
    "AdministratorAccess": {
        "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
        "CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE",
    },
    "IAMFullAccess": {
        "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
        "CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE",
    },
    "PowerUserAccess": {"CREATE_SLR_WITH_STAR_IN_RESOURCE"},
}


@pytest.mark.parametrize("policy", AWS_MANAGED_POLICIES, ids=lambda policy: policy.name)
def test_aws_managed_policies_have_no_error_and_only_the_documented_warnings(policy: Any) -> None:
    found = validate_policy(policy.text, "IDENTITY_POLICY")
    assert [f for f in found if f.finding_type == "ERROR"] == []
    assert {f.issue_code for f in found} == _DOCUMENTED_WARNINGS.get(policy.name, set())


def test_aws_documentation_examples_validate_without_errors() -> None:
    policies = _corpus("aws_doc_examples.json")
    assert len(policies) > 100
    errors = [
        (name, finding.issue_code, finding.details)
        for name, policy_type, text in policies
        for finding in validate_policy(text, policy_type)
        if finding.finding_type == "ERROR"
    ]
    assert errors == []


def test_every_corpus_policy_reads_like_json_loads_and_validates() -> None:
    """The located reader agrees with `json.loads`; the validator answers every policy."""
    count = 0
    for path in sorted(CORPUS.glob("*.json")):
        for _, policy_type, text in _corpus(path.name):
            assert plain(load_located(text)) == json.loads(text)
            for finding in validate_policy(text, policy_type):
                assert finding.locations
                for where in finding.locations:
                    assert 0 <= where.start.offset <= where.end.offset <= len(text)
            count += 1
    assert count > 500


@pytest.mark.parametrize(
    "text",
    ['{"a": [1, 2.5e3, -0, true, false, null, "\\u00e9\\n"]}', "  [ ]  ", '"x"', "{}"],
)
def test_located_reader_matches_json_loads(text: str) -> None:
    assert plain(load_located(text)) == json.loads(text)


@pytest.mark.parametrize("text", ["{", '{"a" 1}', "[1,]", "{} x", "", '"\\q"', "[1"])
def test_located_reader_rejects_what_json_loads_rejects(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(LocatedJsonError):
        load_located(text)


def test_located_reader_rejects_nan_which_is_not_json() -> None:
    with pytest.raises(LocatedJsonError):
        load_located('{"a": NaN}')


def test_catalogue_is_the_service_authorization_reference() -> None:
    assert catalog.catalog_version().startswith("0.1.")
    assert len(catalog.service_prefixes()) > 400
    s3 = catalog.service("S3")
    assert s3 is not None and s3.action("getobject") is not None
    assert [info.name for info in s3.matching("GetObjectAc?")] == ["GetObjectAcl"]
    assert catalog.service("nosuchservice") is None
    assert catalog.condition_key("aws:ResourceTag/team") is not None
    assert catalog.condition_key("s3:ExistingObjectTag/owner") is not None
    assert catalog.condition_key("s3:nosuchkey") is None
