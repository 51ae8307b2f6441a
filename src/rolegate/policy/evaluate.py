"""The authorizer: `evaluate(request, policies) -> Decision`, a pure function."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from .compile import CompiledStatement, PrincipalMatch, StatementIndex
from .model import Policy, StatementRef
from .patterns import Context
from .request import Request

__all__ = [
    "ASSUME_ROLE_ACTIONS",
    "Decision",
    "DenyReason",
    "Effect",
    "PolicySet",
    "evaluate",
]

ASSUME_ROLE_ACTIONS: Final = frozenset(
    {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"}
)


class Effect(Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class DenyReason(Enum):
    """Which policy kind failed to allow, in AWS's words."""

    NO_SCP_ALLOW = "no service control policy allows"
    NO_RESOURCE_ALLOW = "no resource-based policy allows"
    NO_IDENTITY_ALLOW = "no identity-based policy allows"
    NO_BOUNDARY_ALLOW = "no permissions boundary allows"
    NO_SESSION_ALLOW = "no session policy allows"


@dataclass(frozen=True, slots=True)
class Decision:
    """The effect and why: the statements that decided, or the kinds that did not allow."""

    effect: Effect
    statements: tuple[StatementRef, ...] = ()
    reasons: tuple[DenyReason, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    def aws_reason(self, action: str) -> str:
        """The tail AWS appends to an AccessDenied message."""
        if self.effect is Effect.EXPLICIT_DENY and self.statements:
            label = self.statements[0].kind.label
            article = "an" if label[0] in "aeiou" else "a"
            return f"with an explicit deny in {article} {label}"
        if self.effect is Effect.IMPLICIT_DENY and self.reasons:
            return f"because {self.reasons[0].value} the {action} action"
        return ""

    def explain(self) -> str:
        parts = [self.effect.value]
        if self.statements:
            verb = "denied by" if self.effect is Effect.EXPLICIT_DENY else "allowed by"
            parts.append(f"{verb} " + ", ".join(str(ref) for ref in self.statements))
        if self.reasons:
            parts.append("; ".join(reason.value for reason in self.reasons))
        return ": ".join(parts)


class PolicySet:
    """Every policy that applies to a principal (and resource), compiled and indexed once.

    `session` documents together form one session policy: the inline `Policy` and the
    `PolicyArns` of an AssumeRole call; a request passes it when any of them allows.
    `scp` is the chain of SCP levels from the root to the account; every level must allow.
    """

    __slots__ = ("boundary", "identity", "resource", "scp", "session")

    def __init__(
        self,
        identity: Iterable[Policy] = (),
        resource: Policy | None = None,
        boundary: Policy | None = None,
        session: Iterable[Policy] = (),
        scp: Iterable[Iterable[Policy]] = (),
    ) -> None:
        self.identity = StatementIndex(identity)
        self.resource = StatementIndex([resource]) if resource is not None else None
        self.boundary = StatementIndex([boundary]) if boundary is not None else None
        session_policies = list(session)
        self.session = StatementIndex(session_policies) if session_policies else None
        self.scp = tuple(StatementIndex(level) for level in scp)

    def with_resource(self, resource: Policy | None) -> PolicySet:
        """The same principal-side policies with another resource policy (shares indexes)."""
        clone = PolicySet.__new__(PolicySet)
        clone.identity = self.identity
        clone.boundary = self.boundary
        clone.session = self.session
        clone.scp = self.scp
        clone.resource = StatementIndex([resource]) if resource is not None else None
        return clone


class _Scan:
    """Statements of one index that apply to a request, split by effect."""

    __slots__ = ("allow_strength", "allows", "denies")

    def __init__(self, index: StatementIndex, request: Request, context: Context) -> None:
        allows: list[CompiledStatement] = []
        denies: list[CompiledStatement] = []
        best = PrincipalMatch.NONE
        for statement in index.for_action(request.action_key):
            strength = statement.applies(request, context)
            if not strength:
                continue
            if statement.is_deny:
                denies.append(statement)
            else:
                allows.append(statement)
                if strength > best:
                    best = strength
        self.allows = allows
        self.denies = denies
        self.allow_strength = best


def _refs(*groups: Sequence[CompiledStatement]) -> tuple[StatementRef, ...]:
    return tuple(statement.ref for group in groups for statement in group)


_NOTHING: Final[tuple[CompiledStatement, ...]] = ()


def evaluate(request: Request, policies: PolicySet) -> Decision:
    """Decide a request against the policies that apply to it, AWS-style."""
    context = request.evaluation_context
    identity = _Scan(policies.identity, request, context)
    resource = _Scan(policies.resource, request, context) if policies.resource else None
    boundary = _Scan(policies.boundary, request, context) if policies.boundary else None
    session = _Scan(policies.session, request, context) if policies.session else None
    scps = [_Scan(level, request, context) for level in policies.scp]

    denies: list[CompiledStatement] = []
    for scan in (*scps, resource, identity, boundary, session):
        if scan is not None:
            denies.extend(scan.denies)
    if denies:
        return Decision(Effect.EXPLICIT_DENY, _refs(denies))

    scp_allows: list[CompiledStatement] = []
    for scan in scps:
        if not scan.allows:
            return Decision(Effect.IMPLICIT_DENY, reasons=(DenyReason.NO_SCP_ALLOW,))
        scp_allows.extend(scan.allows)

    principal = request.principal
    identity_ok = principal.is_root or bool(identity.allows)
    boundary_ok = boundary is None or bool(boundary.allows)
    session_ok = session is None or bool(session.allows)
    resource_allows = resource.allows if resource is not None else _NOTHING
    resource_strength = resource.allow_strength if resource is not None else PrincipalMatch.NONE
    boundary_allows = boundary.allows if boundary is not None else _NOTHING
    session_allows = session.allows if session is not None else _NOTHING

    caller_side_reasons: list[DenyReason] = []
    if not identity_ok:
        caller_side_reasons.append(DenyReason.NO_IDENTITY_ALLOW)
    if not boundary_ok:
        caller_side_reasons.append(DenyReason.NO_BOUNDARY_ALLOW)
    if not session_ok:
        caller_side_reasons.append(DenyReason.NO_SESSION_ALLOW)
    caller_allows = (identity.allows, boundary_allows, session_allows)

    if principal.account is None:
        # A service or anonymous caller has no caller side: the resource policy decides.
        if resource_strength is PrincipalMatch.NONE:
            return Decision(Effect.IMPLICIT_DENY, reasons=(DenyReason.NO_RESOURCE_ALLOW,))
        return Decision(Effect.ALLOW, _refs(scp_allows, resource_allows))

    if request.same_account:
        if resource_strength >= PrincipalMatch.WILDCARD:
            return Decision(Effect.ALLOW, _refs(scp_allows, resource_allows))
        if resource_strength is PrincipalMatch.ROLE and boundary_ok and session_ok:
            return Decision(
                Effect.ALLOW, _refs(scp_allows, resource_allows, boundary_allows, session_allows)
            )
        trust_required = _is_role_assumption(request)
        if trust_required and resource_strength is PrincipalMatch.NONE:
            reasons = [DenyReason.NO_RESOURCE_ALLOW, *caller_side_reasons]
            return Decision(Effect.IMPLICIT_DENY, reasons=tuple(reasons))
        if caller_side_reasons:
            return Decision(Effect.IMPLICIT_DENY, reasons=tuple(caller_side_reasons))
        return Decision(Effect.ALLOW, _refs(scp_allows, *caller_allows, resource_allows))

    reasons = []
    if resource_strength is PrincipalMatch.NONE:
        reasons.append(DenyReason.NO_RESOURCE_ALLOW)
    reasons.extend(caller_side_reasons)
    if reasons:
        return Decision(Effect.IMPLICIT_DENY, reasons=tuple(reasons))
    return Decision(Effect.ALLOW, _refs(scp_allows, *caller_allows, resource_allows))


def _is_role_assumption(request: Request) -> bool:
    return request.action_key in ASSUME_ROLE_ACTIONS and ":role/" in request.resource
