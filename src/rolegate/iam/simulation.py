"""The IAM policy simulator: what the engine decides for given policies, actions, resources.

Every decision is `rolegate.policy.evaluate`, the function that authorizes real requests;
this module only assembles its inputs (the principal's stored policies, the documents of the
call, the context entries) and words its `Decision` the way SimulatePrincipalPolicy and
SimulateCustomPolicy answer: one `EvaluationResult` per action, the most restrictive
decision across the resources, per-resource details in `ResourceSpecificResults`.

Choices where AWS's behaviour is not documented:
- Keys the engine derives from the simulated principal itself (aws:username, aws:userid,
  aws:PrincipalArn, aws:PrincipalTag/..., aws:PrincipalAccount) are known, as for a real
  request; keys of the request (aws:SourceIp, aws:CurrentTime, ...) exist only when a
  context entry supplies them, else they are reported in `MissingContextValues`.
- Without a ResourcePolicy only the caller's side is simulated (the owner of the resource is
  the caller's account); with one, the owner is the ARN's account, else ResourceOwner, else
  the caller's, and a cross-account simulation needs both sides to allow.
- A role is simulated as a session of the role, a group as an identity of its account.
- `EvalDecisionDetails` keys are the engine's policy-kind labels.
- `MissingContextValues` are the keys (conditions and policy variables) of the statements
  whose Action and Resource apply to the request, whether or not they matched.
- The top-level `EvalResourceName` is `*`: rolegate has no catalog of ARN formats per action
  (AWS: "or * if no ARN format is defined for the action"). ResourceHandlingOption (EC2
  scenarios) is accepted and does not change anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from ..errors import InvalidInput, ServiceError
from ..policy import (
    Decision,
    Effect,
    Policy,
    PolicyKind,
    PolicySet,
    Principal,
    Request,
    evaluate,
    parse_policy,
)
from ..policy.compile import CompiledStatement, compile_policy
from ..policy.model import Statement
from ..policy.patterns import Template
from ..policy.request import account_of_arn
from ..store.database import UnitOfWork
from .simulation_inputs import (
    PolicySource,
    caller_principal,
    check_exclusions,
    context_entries,
    custom_sources,
    excluded,
    parse_document,
    principal_policies,
)

__all__ = [
    "PolicyEvaluation",
    "Simulation",
    "context_keys",
    "custom_context_keys",
    "principal_context_keys",
    "simulate",
    "simulate_custom",
    "simulate_principal",
]

_DECISION_NAMES: Final = {
    Effect.ALLOW: "allowed",
    Effect.EXPLICIT_DENY: "explicitDeny",
    Effect.IMPLICIT_DENY: "implicitDeny",
}
_RESTRICTIVENESS: Final = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
_IDENTITY_LABEL: Final = PolicyKind.IDENTITY.label
_RESOURCE_LABEL: Final = PolicyKind.RESOURCE.label
_BOUNDARY_LABEL: Final = PolicyKind.BOUNDARY.label
_ALLOW_ALL: Final = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    PolicyKind.IDENTITY,
    policy_id="simulator-allow-all",
)
_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_DEFAULT: Final = re.compile(r"^\s*([^,\s][^,]*?)\s*,\s*'[^']*'\s*$")
_ESCAPED: Final = frozenset({"*", "?", "$"})
_ACCOUNT_ID: Final = re.compile(r"^\d{12}$")
_ACCOUNT_ROOT: Final = re.compile(r"^arn:aws:iam::(\d{12}):root$")


class PolicyEvaluation(ServiceError):
    """AWS's PolicyEvaluationException: a provided policy could not be evaluated."""

    code = "PolicyEvaluation"
    http_status = 500


@dataclass(frozen=True)
class Simulation:
    """Everything one simulation evaluates with."""

    principal: Principal
    identity: Sequence[PolicySource]
    boundary: Policy | None = None
    resource_policy: PolicySource | None = None
    scp: Sequence[Sequence[Policy]] = ()
    resource_owner: str | None = None
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# --------------------------------------------------------------------------- context keys
def _variables(text: str) -> Iterable[str]:
    for found in _VARIABLE.finditer(text):
        body = found.group(1)
        if body in _ESCAPED:
            continue
        with_default = _VARIABLE_DEFAULT.match(body)
        yield with_default.group(1) if with_default else body.strip()


def _statement_keys(statement: Statement, variables: bool) -> list[str]:
    keys: list[str] = []
    if variables:
        for resource in statement.resources or statement.not_resources or ():
            keys.extend(_variables(resource))
    for condition in statement.conditions:
        keys.append(condition.key)
        if variables:
            for value in condition.values:
                keys.extend(_variables(value))
    return keys


def _unique(keys: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for key in keys:
        seen.setdefault(key.lower(), key)
    return list(seen.values())


def context_keys(policies: Iterable[Policy]) -> list[str]:
    """Every condition key (and policy variable) the policies use, case kept, once each."""
    return _unique(
        key
        for policy in policies
        for statement in policy.statements
        for key in _statement_keys(statement, policy.variables_enabled)
    )


# --------------------------------------------------------------------------- evaluation
def _resource_matches(
    statement: Statement, resource: str, request: Request, variables: bool
) -> bool:
    patterns = statement.resources or statement.not_resources
    if patterns is None:
        return True
    hit = any(
        Template(pattern, variables=variables, wildcards=True).matches(
            resource, request.evaluation_context
        )
        for pattern in patterns
    )
    return hit if statement.resources is not None else not hit


def _missing(policies: Iterable[Policy], request: Request) -> list[str]:
    """Keys of the statements that apply to the action and resource but lack a value."""
    context = request.evaluation_context
    keys: list[str] = []
    for policy in policies:
        variables = policy.variables_enabled
        for statement, compiled in zip(policy.statements, compile_policy(policy), strict=True):
            if not _applies_to(compiled, statement, request, variables):
                continue
            keys.extend(
                key for key in _statement_keys(statement, variables) if key.lower() not in context
            )
    return _unique(keys)


def _applies_to(
    compiled: CompiledStatement, statement: Statement, request: Request, variables: bool
) -> bool:
    if not compiled.matches_action(request.action_key):
        return False
    return _resource_matches(statement, request.resource, request, variables)


@dataclass
class _Outcome:
    decision: str
    matched: list[dict[str, Any]]
    missing: list[str]
    boundary_allows: bool | None
    organizations_allow: bool | None
    details: dict[str, str] | None  # EvalDecisionDetails of a cross-account simulation


class _Simulator:
    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.principal = simulation.principal
        self.by_id: dict[str, PolicySource] = {
            source.policy.policy_id: source for source in simulation.identity
        }
        resource_source = simulation.resource_policy
        if resource_source is not None:
            self.by_id[resource_source.policy.policy_id] = resource_source
        identity = [source.policy for source in simulation.identity]
        self.reported = [*identity, *([resource_source.policy] if resource_source else [])]
        self.resource_policy = resource_source.policy if resource_source else None
        self.policies = PolicySet(
            identity=identity,
            resource=self.resource_policy
            or (_caller_side_only(self.principal.account) if self.principal.account else None),
            boundary=simulation.boundary,
            scp=simulation.scp,
        )
        self.identity_only = PolicySet(identity=identity)
        self.resource_only = PolicySet(
            identity=[self.resource_policy] if self.resource_policy else []
        )
        self.boundary_only = (
            PolicySet(identity=[simulation.boundary]) if simulation.boundary is not None else None
        )
        self.scp_only = (
            PolicySet(identity=[_ALLOW_ALL], scp=simulation.scp) if simulation.scp else None
        )

    def owner(self, resource: str) -> str | None:
        if self.resource_policy is None:
            return self.principal.account
        return account_of_arn(resource) or self.simulation.resource_owner or self.principal.account

    def statement(self, ref_policy_id: str, index: int) -> dict[str, Any]:
        source = self.by_id[ref_policy_id]
        found: dict[str, Any] = {
            "SourcePolicyId": source.source_id,
            "SourcePolicyType": source.source_type,
        }
        if source.spans:
            span = source.spans[index]
            found["StartPosition"] = {"Line": span.start.line, "Column": span.start.column}
            found["EndPosition"] = {"Line": span.end.line, "Column": span.end.column}
        return found

    def matched(self, decision: Decision) -> list[dict[str, Any]]:
        return [
            self.statement(ref.policy_id, ref.index)
            for ref in decision.statements
            if ref.policy_id in self.by_id
            and ref.kind in (PolicyKind.IDENTITY, PolicyKind.RESOURCE)
        ]

    def outcome(self, action: str, resource: str) -> _Outcome:
        owner = self.owner(resource)
        request = Request(
            self.principal,
            action,
            resource,
            context=self.simulation.context,
            resource_account=owner,
        )
        decision = evaluate(request, self.policies)
        same = Request(
            self.principal,
            action,
            resource,
            context=self.simulation.context,
            resource_account=self.principal.account,
        )
        boundary_allows = (
            evaluate(same, self.boundary_only).allowed if self.boundary_only is not None else None
        )
        organizations = evaluate(same, self.scp_only).allowed if self.scp_only is not None else None
        details: dict[str, str] | None = None
        if owner != self.principal.account:
            details = {
                _IDENTITY_LABEL: _name(evaluate(same, self.identity_only)),
                _RESOURCE_LABEL: _name(evaluate(same, self.resource_only)),
            }
            if self.boundary_only is not None:
                details[_BOUNDARY_LABEL] = _name(evaluate(same, self.boundary_only))
        return _Outcome(
            decision=_name(decision),
            matched=self.matched(decision),
            missing=_missing(self.reported, request),
            boundary_allows=boundary_allows,
            organizations_allow=organizations,
            details=details,
        )


@lru_cache(maxsize=256)
def _caller_side_only(account: str) -> Policy:
    """Without a ResourcePolicy only the caller's side is simulated (AWS: the simulator never
    reads a resource's policy, and a role's trust policy is never simulated). A resource
    policy that names the caller's account, and so neither allows on its own nor denies,
    leaves the engine's decision to the identity policies, the boundary and the SCPs, for
    every action (a role assumption included)."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": "*",
                "Resource": "*",
            }
        ],
    }
    return parse_policy(document, PolicyKind.RESOURCE, policy_id="simulator-caller-side-only")


def _name(decision: Decision) -> str:
    return _DECISION_NAMES[decision.effect]


def _worst(decisions: Iterable[str]) -> str:
    return max(decisions, key=_RESTRICTIVENESS.__getitem__)


def _shape_outcome(outcome: _Outcome, *, decision_member: str) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        decision_member: outcome.decision,
        "MatchedStatements": outcome.matched,
        "MissingContextValues": outcome.missing,
    }
    if outcome.boundary_allows is not None:
        shaped["PermissionsBoundaryDecisionDetail"] = {
            "AllowedByPermissionsBoundary": outcome.boundary_allows
        }
    if outcome.details is not None:
        shaped["EvalDecisionDetails"] = outcome.details
    return shaped


def simulate(
    simulation: Simulation, actions: Sequence[str], resources: Sequence[str] | None
) -> list[dict[str, Any]]:
    """One EvaluationResult per action, shaped like botocore's model."""
    try:
        return _simulate(simulation, actions, resources)
    except RecursionError as error:
        raise PolicyEvaluation(
            "The policies could not be evaluated: a document nests too deeply."
        ) from error


def _simulate(
    simulation: Simulation, actions: Sequence[str], resources: Sequence[str] | None
) -> list[dict[str, Any]]:
    simulator = _Simulator(simulation)
    listed = resources is not None and list(resources) != ["*"]
    results = []
    for action in actions:
        outcomes = [
            (resource, simulator.outcome(action, resource)) for resource in resources or ["*"]
        ]
        decision = _worst(outcome.decision for _, outcome in outcomes)
        matched: list[dict[str, Any]] = []
        for _, outcome in outcomes:
            if outcome.decision == decision:
                matched.extend(item for item in outcome.matched if item not in matched)
        result: dict[str, Any] = {
            "EvalActionName": action,
            "EvalResourceName": "*",
            "EvalDecision": decision,
            "MatchedStatements": matched,
            "MissingContextValues": _unique(
                key for _, outcome in outcomes for key in outcome.missing
            ),
        }
        boundary = [o.boundary_allows for _, o in outcomes if o.boundary_allows is not None]
        if boundary:
            result["PermissionsBoundaryDecisionDetail"] = {
                "AllowedByPermissionsBoundary": all(boundary)
            }
        organizations = [
            o.organizations_allow for _, o in outcomes if o.organizations_allow is not None
        ]
        if organizations:
            result["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": all(organizations)}
        cross = [o.details for _, o in outcomes if o.details is not None]
        if cross:
            merged: dict[str, str] = {}
            for details in cross:
                for source, value in details.items():
                    merged[source] = _worst([merged.get(source, "allowed"), value])
            result["EvalDecisionDetails"] = merged
        elif listed:
            result["EvalDecisionDetails"] = {}
        if listed:
            result["ResourceSpecificResults"] = [
                {
                    "EvalResourceName": resource,
                    **_shape_outcome(outcome, decision_member="EvalResourceDecision"),
                }
                for resource, outcome in outcomes
            ]
        results.append(result)
    return results


# --------------------------------------------------------------------------- use cases
def _resource_owner(value: str | None) -> str | None:
    """ResourceOwner: an account id (SimulatePrincipalPolicy) or `arn:aws:iam::A:root`."""
    if value is None:
        return None
    if _ACCOUNT_ID.match(value):
        return value
    found = _ACCOUNT_ROOT.match(value)
    if found is None:
        raise InvalidInput(
            f"Invalid ResourceOwner {value}: use an account ID or arn:aws:iam::ACCOUNT-ID:root."
        )
    return found.group(1)


def _resource_policy(params: Mapping[str, Any]) -> PolicySource | None:
    text = params.get("ResourcePolicy")
    if text is None:
        return None
    policy = parse_document(text, PolicyKind.RESOURCE, "ResourcePolicy")
    return PolicySource(policy, "ResourcePolicy", "resource", text)


def _input_boundary(params: Mapping[str, Any]) -> Policy | None:
    documents = params.get("PermissionsBoundaryPolicyInputList") or []
    if len(documents) > 1:
        raise InvalidInput("Only one permissions boundary policy can be simulated.")
    if not documents:
        return None
    return parse_document(documents[0], PolicyKind.BOUNDARY, "PermissionsBoundaryPolicyInputList.1")


def simulate_principal(
    uow: UnitOfWork, account_id: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """SimulatePrincipalPolicy: the entity's policies plus the call's documents."""
    stored = principal_policies(uow, account_id, params["PolicySourceArn"])
    exclusions = params.get("PolicyExclusionList") or []
    check_exclusions(exclusions)
    identity = [source for source in stored.identity if not excluded(source, exclusions, False)]
    identity += custom_sources(params.get("PolicyInputList") or [], "PolicyInputList")
    boundary = _input_boundary(params)
    if (
        boundary is None
        and stored.boundary is not None
        and not excluded(stored.boundary, exclusions, True)
    ):
        boundary = stored.boundary.policy
    resource_policy = _resource_policy(params)
    caller_arn = params.get("CallerArn")
    if resource_policy is not None and caller_arn is None and stored.kind != "user":
        raise InvalidInput(
            "CallerArn is required when a ResourcePolicy is simulated for a group or role."
        )
    principal = caller_principal(uow, account_id, caller_arn) if caller_arn else stored.principal
    simulation = Simulation(
        principal=principal,
        identity=identity,
        boundary=boundary,
        resource_policy=resource_policy,
        resource_owner=_resource_owner(params.get("ResourceOwner")),
        context=context_entries(params.get("ContextEntries") or []),
    )
    return simulate(simulation, params["ActionNames"], params.get("ResourceArns"))


def simulate_custom(
    uow: UnitOfWork, account_id: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """SimulateCustomPolicy: only the call's documents."""
    for action in params["ActionNames"]:
        if "*" in action or "?" in action:
            raise InvalidInput(f"Wildcards are not allowed in action names: {action}")
    resource_policy = _resource_policy(params)
    caller_arn = params.get("CallerArn")
    if resource_policy is not None and caller_arn is None:
        raise InvalidInput("CallerArn is required when a ResourcePolicy is simulated.")
    levels = []
    for level, entry in enumerate(params.get("OrderedOrganizationPolicyInputList") or [], 1):
        documents = entry.get("ServiceControlPolicyInputList") or []
        prefix = f"OrderedOrganizationPolicyInputList.{level}.ServiceControlPolicyInputList"
        levels.append(
            [
                parse_document(text, PolicyKind.SCP, f"{prefix}.{number}")
                for number, text in enumerate(documents, 1)
            ]
        )
    principal = (
        caller_principal(uow, account_id, caller_arn)
        if caller_arn
        else Principal(f"arn:aws:iam::{account_id}:policy-simulator")
    )
    simulation = Simulation(
        principal=principal,
        identity=custom_sources(params["PolicyInputList"], "PolicyInputList"),
        boundary=_input_boundary(params),
        resource_policy=resource_policy,
        scp=levels,
        resource_owner=_resource_owner(params.get("ResourceOwner")),
        context=context_entries(params.get("ContextEntries") or []),
    )
    return simulate(simulation, params["ActionNames"], params.get("ResourceArns"))


def principal_context_keys(
    uow: UnitOfWork, account_id: str, arn: str, documents: Sequence[str]
) -> list[str]:
    """GetContextKeysForPrincipalPolicy: keys of the entity's policies and the documents."""
    stored = principal_policies(uow, account_id, arn)
    policies = [source.policy for source in stored.identity]
    if stored.boundary is not None:
        policies.append(stored.boundary.policy)
    policies += [source.policy for source in custom_sources(documents, "PolicyInputList")]
    return context_keys(policies)


def custom_context_keys(documents: Sequence[str]) -> list[str]:
    """GetContextKeysForCustomPolicy: keys of the documents."""
    return context_keys(source.policy for source in custom_sources(documents, "PolicyInputList"))
