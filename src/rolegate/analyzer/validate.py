"""IAM Access Analyzer ValidatePolicy: a policy document's findings, as AWS reports them.

Pure: the only data read is the Service Authorization Reference catalogue
(`validate_catalog`), loaded once. The checks, issue codes and findingDetails follow the AWS
"IAM policy validation check reference"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html):
grammar (`validate_structure`), element values against the catalogue (`validate_elements`),
then security warnings, resource-type fit and redundancy (`validate_practices`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from ..policy.located import LocatedJsonError, LocatedObject, LocatedScalar, load_located
from ..policy.model import VERSION_2012
from ..policy.parse import policy_size
from .validate_elements import check_elements
from .validate_findings import ERROR, WARNING, Finding, FindingSink, Spot
from .validate_practices import check_practices
from .validate_structure import TRUST_POLICY, Entry, PolicyType, StatementView, read_statements

__all__ = ["POLICY_TYPES", "RESOURCE_TYPES", "Finding", "validate_policy"]

POLICY_TYPES: Final = tuple(kind.value for kind in PolicyType)
RESOURCE_TYPES: Final = (
    "AWS::S3::Bucket",
    "AWS::S3::AccessPoint",
    "AWS::S3::MultiRegionAccessPoint",
    "AWS::S3ObjectLambda::AccessPoint",
    TRUST_POLICY,
    "AWS::DynamoDB::Table",
)
_VARIABLE: Final = re.compile(r"\$\{[^}]*\}")
_IDENTITY_QUOTA: Final = 6144
_TRUST_QUOTA: Final = 2048
_BUCKET_QUOTA: Final = 20480
_ORGANIZATIONS_QUOTA: Final = 5120


def _size(text: str, root: Spot, sink: FindingSink, kind: PolicyType, resource: str | None) -> None:
    size = policy_size(text)
    if kind is PolicyType.IDENTITY and size > _IDENTITY_QUOTA:
        sink.add(
            WARNING,
            "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
            f"The {size} characters in the identity policy, excluding whitespace, exceed the "
            f"{_IDENTITY_QUOTA} character maximum for inline and managed policies. We recommend "
            "that you use multiple granular policies.",
            [root],
        )
    elif kind in (PolicyType.SCP, PolicyType.RCP) and len(text) > _ORGANIZATIONS_QUOTA:
        name, short = (
            ("service control policy", "SCP")
            if kind is PolicyType.SCP
            else ("resource control policy", "RCP")
        )
        sink.add(
            ERROR,
            f"POLICY_SIZE_EXCEEDS_{short}_QUOTA",
            f"The {len(text)} characters in the {name} ({short}) exceed the "
            f"{_ORGANIZATIONS_QUOTA} character maximum for {short}s. We recommend that you use "
            "multiple granular policies.",
            [root],
        )
    elif kind is PolicyType.RESOURCE and resource == TRUST_POLICY and size > _TRUST_QUOTA:
        sink.add(
            WARNING,
            "POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA",
            "The characters in the role trust policy, excluding whitespace, exceed the character "
            "maximum. We recommend that you request a role trust policy length quota increase "
            "using Service Quotas and AWS Support Center. If the quotas have already been "
            "increased, then you can ignore this warning.",
            [root],
        )
    elif kind is PolicyType.RESOURCE and resource == "AWS::S3::Bucket" and size > _BUCKET_QUOTA:
        sink.add(
            WARNING,
            "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA",
            f"The {size} characters in the resource policy exceed the {_BUCKET_QUOTA} character "
            "maximum for resource policies. We recommend that you use multiple granular "
            "policies.",
            [root],
        )


def _principal_entries(statement: StatementView) -> Iterable[Entry]:
    for view in (statement.principal, statement.not_principal):
        if view is not None:
            for entries in view.entries.values():
                yield from entries


def _variables(statements: list[StatementView], sink: FindingSink, versioned: bool) -> None:
    for statement in statements:
        for entry in (
            *(statement.actions or ()),
            *(statement.not_actions or ()),
            *_principal_entries(statement),
        ):
            found = _VARIABLE.search(entry.text)
            if found:
                sink.add(
                    ERROR,
                    "VARIABLE_UNSUPPORTED_IN_ELEMENT",
                    "Policy variables are supported in the Resource and Condition elements. "
                    f"Remove the policy variable {found.group()} from this element.",
                    [entry.spot],
                )
        if versioned:
            continue
        spots = [
            entry.spot
            for entry in (*(statement.resources or ()), *(statement.not_resources or ()))
            if _VARIABLE.search(entry.text)
        ]
        spots += [
            condition.spot
            for condition in statement.conditions
            if any(_VARIABLE.search(str(value.value)) for value in condition.values)
        ]
        for spot in spots:
            sink.add(
                ERROR,
                "VARIABLE_UNSUPPORTED_IN_VERSION",
                "To include variables in your policy, use the policy version 2012-10-17 or later.",
                [spot],
            )


def validate_policy(
    document: str, policy_type: str, validate_resource_type: str | None = None
) -> list[Finding]:
    """The findings of `document` checked as a `policy_type` policy (the API's enum names).

    `validate_resource_type` (one of `RESOURCE_TYPES`) narrows a RESOURCE_POLICY to the
    resource it is attached to; it is ignored for the other policy types, as AWS does.
    Raise ValueError for a policy or resource type that is not one of the API's values.
    """
    kind = PolicyType(policy_type)
    if validate_resource_type is not None and validate_resource_type not in RESOURCE_TYPES:
        raise ValueError(f"unknown validatePolicyResourceType {validate_resource_type!r}")
    resource_type = validate_resource_type if kind is PolicyType.RESOURCE else None
    sink = FindingSink(document)
    try:
        root = load_located(document)
    except LocatedJsonError as error:
        where = sink.location((), error.offset, error.offset)
        sink.add_at(
            ERROR,
            "JSON_SYNTAX_ERROR",
            f"Fix the JSON syntax error at index {where.start.offset} line {where.start.line} "
            f"column {where.start.column}.",
            where,
        )
        return sink.findings()
    _size(document, Spot((), root), sink, kind, resource_type)
    statements = read_statements(root, sink, kind, resource_type)
    version = root.get("Version") if isinstance(root, LocatedObject) else None
    versioned = (
        version is not None
        and isinstance(version.value, LocatedScalar)
        and version.value.value == VERSION_2012
    )
    _variables(statements, sink, versioned)
    check_elements(statements, sink, kind)
    check_practices(statements, sink, kind, resource_type)
    return sink.findings()
