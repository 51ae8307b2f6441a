"""External access analysis: hand-proved cases, witnesses the engine allows, and a property:
"no finding" is never contradicted by an external request the engine allows."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policy_strategies import ACTIONS, HOME, OTHER, PRINCIPALS, contexts, documents
from rolegate.analyzer.external import (
    BUCKET_TYPE,
    ROLE_TYPE,
    Analysis,
    Grant,
    Target,
    Zone,
    analyze_policy,
    engine_allows,
    external_access,
)
from rolegate.policy import (
    Policy,
    PolicyKind,
    PolicySet,
    Principal,
    Request,
    evaluate,
    parse_policy,
)
from rolegate.policy.model import PrincipalSpec

OWN = HOME
ROLE = Target(f"arn:aws:iam::{OWN}:role/Deploy", ROLE_TYPE, OWN)
BUCKET = Target("arn:aws:s3:::productionapp", BUCKET_TYPE, OWN)
ZONE = Zone(OWN)


def _trust(*statements: dict[str, Any]) -> Policy:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), PolicyKind.TRUST
    )


def _bucket(*statements: dict[str, Any]) -> Policy:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), PolicyKind.RESOURCE
    )


def _assume(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _only(analysis: Analysis) -> Grant:
    assert len(analysis.grants) == 1, analysis.grants
    return analysis.grants[0]


def _witnessed(policy: Policy, analysis: Analysis, target: Target = ROLE) -> None:
    for grant in analysis.grants:
        assert grant.witness is not None
        assert engine_allows(policy, grant.witness, target.owner), grant.witness
        principal = grant.witness.request(target.owner).principal
        assert principal.account is None or principal.account not in ZONE.trusted


def test_public_trust_policy() -> None:
    policy = _trust(_assume({"AWS": "*"}))
    analysis = analyze_policy(policy, ROLE, ZONE)
    grant = _only(analysis)
    assert (grant.principal, grant.actions, grant.condition, grant.is_public) == (
        {"AWS": "*"},
        ("sts:AssumeRole",),
        {},
        True,
    )
    _witnessed(policy, analysis)


def test_cross_account_root_is_the_bare_account_id() -> None:
    policy = _trust(_assume({"AWS": f"arn:aws:iam::{OTHER}:root"}))
    analysis = analyze_policy(policy, ROLE, ZONE)
    assert _only(analysis).principal == {"AWS": OTHER}
    assert not analysis.used_solver  # read off the statement
    _witnessed(policy, analysis)


def test_own_account_only_is_proven_without_the_solver() -> None:
    policy = _trust(
        _assume({"AWS": [f"arn:aws:iam::{OWN}:root", OWN]}),
        _assume({"Service": "ec2.amazonaws.com"}),
    )
    analysis = analyze_policy(policy, ROLE, ZONE)
    assert analysis.grants == () and not analysis.used_solver


def test_external_id_restricted_keeps_the_condition() -> None:
    policy = _trust(_assume({"AWS": OTHER}, {"StringEquals": {"sts:ExternalId": "x-1"}}))
    analysis = analyze_policy(policy, ROLE, ZONE)
    grant = _only(analysis)
    assert grant.principal == {"AWS": OTHER} and grant.condition == {"sts:ExternalId": "x-1"}
    assert analysis.used_solver
    assert grant.witness is not None and grant.witness.context == {"sts:externalid": "x-1"}
    _witnessed(policy, analysis)


def test_org_restricted_public_principal() -> None:
    policy = _trust(_assume("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}))
    account_analysis = analyze_policy(policy, ROLE, ZONE)
    grant = _only(account_analysis)
    assert grant.principal == {"AWS": "*"} and grant.condition == {"aws:PrincipalOrgID": "o-abc"}
    assert grant.is_public is False  # restricted by a key external callers cannot set
    _witnessed(policy, account_analysis)
    organization = Zone(OWN, frozenset({"555566667777"}), "o-abc")
    assert analyze_policy(policy, ROLE, organization).grants == ()  # proven: unsat


def test_organization_members_are_inside_the_zone() -> None:
    policy = _trust(_assume({"AWS": ["555566667777", OTHER]}))
    organization = Zone(OWN, frozenset({"555566667777"}))
    assert _only(analyze_policy(policy, ROLE, organization)).principal == {"AWS": OTHER}


def test_deny_overrides_the_external_grant() -> None:
    policy = _bucket(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::productionapp/*",
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::productionapp/*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": OWN}},
        },
    )
    analysis = analyze_policy(policy, BUCKET, ZONE)
    assert analysis.grants == () and analysis.used_solver


def test_deny_removes_one_action() -> None:
    policy = _bucket(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/team/Reader"},
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::productionapp/*",
        },
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"},
    )
    analysis = analyze_policy(policy, BUCKET, ZONE)
    grant = _only(analysis)
    assert grant.principal == {"AWS": f"arn:aws:iam::{OTHER}:role/team/Reader"}
    assert grant.actions == ("s3:GetObject",)
    _witnessed(policy, analysis, BUCKET)
    assert grant.witness is not None and grant.witness.role_arn == grant.principal["AWS"]


def test_not_principal_allow_is_public() -> None:
    policy = _bucket(
        {
            "Effect": "Allow",
            "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::productionapp/*",
        }
    )
    analysis = analyze_policy(policy, BUCKET, ZONE)
    grant = _only(analysis)
    assert grant.principal == {"AWS": "*"} and grant.is_public
    _witnessed(policy, analysis, BUCKET)


def test_source_ip_restricted_is_not_public() -> None:
    policy = _bucket(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::productionapp/*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        }
    )
    analysis = analyze_policy(policy, BUCKET, ZONE)
    grant = _only(analysis)
    assert grant.condition == {"aws:SourceIp": "10.0.0.0/8"} and grant.is_public is False
    _witnessed(policy, analysis, BUCKET)
    assert grant.witness is not None
    assert grant.witness.context["aws:sourceip"].startswith("10.")


def test_unrestricting_conditions_stay_public() -> None:
    policy = _bucket(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::productionapp/*",
            "Condition": {
                "Bool": {"aws:SecureTransport": "true"},
                "NumericLessThan": {"s3:max-keys": "10"},
            },
        }
    )
    analysis = analyze_policy(policy, BUCKET, ZONE)
    grant = _only(analysis)
    assert grant.is_public and grant.condition == {}
    _witnessed(policy, analysis, BUCKET)


def test_impossible_condition_is_proven_closed() -> None:
    policy = _bucket(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::productionapp/*",
            "Condition": {
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            },
        }
    )
    assert analyze_policy(policy, BUCKET, ZONE).grants == ()


def test_wildcard_account_principal_is_treated_as_anyone() -> None:
    # The engine refuses wildcards in principals; a hand-made document still gets analyzed
    # conservatively (as AWS: "arn:aws:iam::*:root" is anybody's root).
    parsed = _trust(_assume({"AWS": f"arn:aws:iam::{OTHER}:root"}))
    statement = dataclasses.replace(
        parsed.statements[0],
        principal=PrincipalSpec(False, {"AWS": ("arn:aws:iam::*:root",)}),
    )
    policy = dataclasses.replace(parsed, statements=(statement,))
    grant = _only(analyze_policy(policy, ROLE, ZONE))
    assert grant.principal == {"AWS": "*"} or grant.principal == {"AWS": "arn:aws:iam::*:root"}
    assert grant.is_public
    assert grant.witness is not None


def test_federated_principal() -> None:
    policy = _trust(
        {
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111122223333:saml-provider/corp"},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"saml:aud": "https://signin.aws.amazon.com/saml"}},
        }
    )
    grant = _only(analyze_policy(policy, ROLE, ZONE))
    assert grant.principal == {"Federated": "arn:aws:iam::111122223333:saml-provider/corp"}
    assert grant.actions == ("sts:AssumeRoleWithSAML",)


# --------------------------------------------------------------------------- the property

INSIDE = [
    "arn:aws:s3:::productionapp",
    "arn:aws:s3:::productionapp/a.txt",
    "arn:aws:s3:::productionapp/alice/notes.txt",
    "arn:aws:s3:::productionapp/blue/x.txt",
    "arn:aws:s3:::productionapp/*",
]
# External callers, as rolegate stores them (unique ids of existing principals are shown as
# their ARNs, so a policy's bare ids name deleted principals: nobody carries one).
EXTERNAL = [
    {k: v for k, v in p.items() if k != "id"}
    for p in PRINCIPALS
    if p["arn"] == "anonymous" or p["arn"].split(":")[4] != HOME
]


def _principal(spec: dict[str, Any]) -> Principal:
    return Principal(spec["arn"], role_arn=spec.get("role_arn"), tags=spec.get("tags"))


def _allowed_from_outside(
    policy: Policy, requests: list[tuple[dict[str, Any], str, str, dict[str, Any]]]
) -> tuple[dict[str, Any], str, str, dict[str, Any]] | None:
    """The first of the random external requests the engine allows."""
    allow_all = parse_policy(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    )
    for spec, action, resource, context in requests:
        # aws:PrincipalAccount is the caller's own: a request cannot claim another.
        context = {k: v for k, v in context.items() if k.lower() != "aws:principalaccount"}
        principal = _principal(spec)
        request = Request(principal, action, resource, context=context, resource_account=OWN)
        identity = [allow_all] if principal.account is not None else []
        if evaluate(request, PolicySet(identity=identity, resource=policy)).allowed:
            return spec, action, resource, context
    return None


_REQUESTS = st.lists(
    st.tuples(
        st.sampled_from(EXTERNAL), st.sampled_from(ACTIONS), st.sampled_from(INSIDE), contexts()
    ),
    min_size=1,
    max_size=6,
)
_CHECKS = [HealthCheck.too_slow, HealthCheck.filter_too_much]


def _parsed(document: dict[str, Any]) -> Policy:
    try:
        return parse_policy(json.dumps(document), PolicyKind.RESOURCE)
    except ValueError:
        assume(False)
        raise


@settings(max_examples=100, deadline=None, suppress_health_check=_CHECKS)
@given(document=documents(resource_policy=True, max_statements=3), requests=_REQUESTS)
def test_no_external_access_is_never_contradicted(
    document: dict[str, Any], requests: list[tuple[dict[str, Any], str, str, dict[str, Any]]]
) -> None:
    policy = _parsed(document)
    allowed = _allowed_from_outside(policy, requests)
    if allowed is not None:
        assert external_access(policy, BUCKET, ZONE), f"missed: {allowed}"


@settings(max_examples=15, deadline=None, suppress_health_check=_CHECKS)
@given(document=documents(resource_policy=True, max_statements=2), requests=_REQUESTS)
def test_no_finding_is_never_contradicted(
    document: dict[str, Any], requests: list[tuple[dict[str, Any], str, str, dict[str, Any]]]
) -> None:
    policy = _parsed(document)
    analysis = analyze_policy(policy, BUCKET, ZONE)
    allowed = _allowed_from_outside(policy, requests)
    assert bool(analysis.grants) == external_access(policy, BUCKET, ZONE)
    if allowed is not None:
        assert analysis.grants, f"missed: {allowed}"
