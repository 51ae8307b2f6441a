"""The authorizer: `evaluate(request, policies) -> Decision`, a pure function."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


class Decision:
    """The effect and why: the statements that decided, or the kinds that did not allow.

    Immutable by convention; a plain slotted class because one is built per evaluation and
    a frozen dataclass costs several times more to construct.
    """

    __slots__ = ("effect", "reasons", "statements")

    def __init__(
        self,
        effect: Effect,
        statements: tuple[StatementRef, ...] = (),
        reasons: tuple[DenyReason, ...] = (),
    ) -> None:
        self.effect = effect
        self.statements = statements
        self.reasons = reasons

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return (self.effect, self.statements, self.reasons) == (
            other.effect,
            other.statements,
            other.reasons,
        )

    def __hash__(self) -> int:
        return hash((self.effect, self.statements, self.reasons))

    def __repr__(self) -> str:
        return (
            f"Decision(effect={self.effect}, statements={self.statements!r}, "
            f"reasons={self.reasons!r})"
        )

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


_ALLOW: Final = Effect.ALLOW
_EXPLICIT_DENY: Final = Effect.EXPLICIT_DENY
_IMPLICIT_DENY: Final = Effect.IMPLICIT_DENY
_NO_SCP: Final = DenyReason.NO_SCP_ALLOW
_NO_RESOURCE: Final = DenyReason.NO_RESOURCE_ALLOW
_NO_IDENTITY: Final = DenyReason.NO_IDENTITY_ALLOW
_NO_BOUNDARY: Final = DenyReason.NO_BOUNDARY_ALLOW
_NO_SESSION: Final = DenyReason.NO_SESSION_ALLOW
_DENIED_BY_SCP: Final = Decision(_IMPLICIT_DENY, reasons=(_NO_SCP,))
_NO_RESOURCE_ALLOW: Final = Decision(_IMPLICIT_DENY, reasons=(_NO_RESOURCE,))
_NONE: Final = int(PrincipalMatch.NONE)
_ROLE: Final = int(PrincipalMatch.ROLE)
_WILDCARD: Final = int(PrincipalMatch.WILDCARD)


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

    def with_session(self, session: Iterable[Policy]) -> PolicySet:
        """The same identity side limited by a session policy (shares indexes)."""
        clone = self._clone()
        policies = list(session)
        clone.session = StatementIndex(policies) if policies else None
        return clone

    def _clone(self) -> PolicySet:
        clone = PolicySet.__new__(PolicySet)
        clone.identity = self.identity
        clone.resource = self.resource
        clone.boundary = self.boundary
        clone.session = self.session
        clone.scp = self.scp
        return clone

    def with_resource(self, resource: Policy | None) -> PolicySet:
        """The same principal-side policies with another resource policy (shares indexes)."""
        clone = self._clone()
        clone.resource = StatementIndex([resource]) if resource is not None else None
        return clone


_Scan = tuple[list[CompiledStatement], list[CompiledStatement], int]
_EMPTY_SCAN: Final[_Scan] = ([], [], 0)


def _scan(index: StatementIndex, request: Request, context: Context) -> _Scan:
    """(allowing statements, denying statements, strongest allow principal match)."""
    candidates = index.for_action(request.action_key)
    if not candidates:
        return _EMPTY_SCAN
    allows: list[CompiledStatement] = []
    denies: list[CompiledStatement] = []
    best = 0
    for statement in candidates:
        strength = statement.applies(request, context)
        if not strength:
            continue
        if statement.is_deny:
            denies.append(statement)
        else:
            allows.append(statement)
            if strength > best:
                best = strength
    return allows, denies, best


def _refs(*groups: Sequence[CompiledStatement]) -> tuple[StatementRef, ...]:
    return tuple(statement.ref for group in groups for statement in group)


_NOTHING: Final[tuple[CompiledStatement, ...]] = ()


def evaluate(request: Request, policies: PolicySet) -> Decision:
    """Decide a request against the policies that apply to it, AWS-style."""
    context = request.evaluation_context
    identity_allows, denies, _ = _scan(policies.identity, request, context)
    resource_allows, resource_denies, resource_strength = (
        _scan(policies.resource, request, context) if policies.resource is not None else _EMPTY_SCAN
    )
    boundary = _scan(policies.boundary, request, context) if policies.boundary is not None else None
    session = _scan(policies.session, request, context) if policies.session is not None else None
    scps = [_scan(level, request, context) for level in policies.scp] if policies.scp else []

    if resource_denies or boundary or session or scps:
        denies = [*denies, *resource_denies]
        for scan in (boundary, session, *scps):
            if scan is not None:
                denies.extend(scan[1])
    if denies:
        return Decision(_EXPLICIT_DENY, _refs(denies))

    scp_allows: list[CompiledStatement] = []
    for scp_allowing, _, _ in scps:
        if not scp_allowing:
            return _DENIED_BY_SCP
        scp_allows.extend(scp_allowing)

    principal = request.principal
    boundary_allows = boundary[0] if boundary is not None else _NOTHING
    session_allows = session[0] if session is not None else _NOTHING
    caller_side_reasons: tuple[DenyReason, ...] = ()
    if not (identity_allows or principal.is_root):
        caller_side_reasons += (_NO_IDENTITY,)
    if boundary is not None and not boundary_allows:
        caller_side_reasons += (_NO_BOUNDARY,)
    if session is not None and not session_allows:
        caller_side_reasons += (_NO_SESSION,)

    if principal.account is None:
        # A service or anonymous caller has no caller side: the resource policy decides.
        if resource_strength == _NONE:
            return _NO_RESOURCE_ALLOW
        return Decision(_ALLOW, _refs(scp_allows, resource_allows))

    if request.same_account:
        if resource_strength >= _WILDCARD:
            return Decision(_ALLOW, _refs(scp_allows, resource_allows))
        if (
            resource_strength == _ROLE
            and (boundary is None or boundary_allows)
            and (session is None or session_allows)
        ):
            return Decision(
                _ALLOW, _refs(scp_allows, resource_allows, boundary_allows, session_allows)
            )
        if resource_strength == _NONE and _is_role_assumption(request):
            return Decision(_IMPLICIT_DENY, reasons=(_NO_RESOURCE, *caller_side_reasons))
    elif resource_strength == _NONE:
        return Decision(_IMPLICIT_DENY, reasons=(_NO_RESOURCE, *caller_side_reasons))
    if caller_side_reasons:
        return Decision(_IMPLICIT_DENY, reasons=caller_side_reasons)
    return Decision(
        _ALLOW,
        _refs(scp_allows, identity_allows, boundary_allows, session_allows, resource_allows),
    )


def _is_role_assumption(request: Request) -> bool:
    return request.action_key in ASSUME_ROLE_ACTIONS and ":role/" in request.resource
