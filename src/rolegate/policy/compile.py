"""Compile parsed policies into matchers, indexed by action, built once and reused."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import Final

from .conditions import CompiledCondition, parse_operator
from .memo import WeightedMemo
from .model import Policy, PolicyKind, PrincipalSpec, Statement, StatementEffect, StatementRef
from .patterns import Context, Glob, Template
from .request import Principal, PrincipalType, Request

__all__ = [
    "CompiledStatement",
    "PrincipalMatch",
    "StatementIndex",
    "compile_policy",
]

_ACTION_CACHE_LIMIT: Final = 8192


class PrincipalMatch(IntEnum):
    """How strongly a Principal element names the caller (stronger grants more)."""

    NONE = 0
    ACCOUNT = 1
    ROLE = 2
    WILDCARD = 3
    DIRECT = 4


# Plain ints for the hot path: enum member lookups cost more than the work around them.
_NONE: Final = int(PrincipalMatch.NONE)
_ACCOUNT: Final = int(PrincipalMatch.ACCOUNT)
_ROLE: Final = int(PrincipalMatch.ROLE)
_WILDCARD: Final = int(PrincipalMatch.WILDCARD)
_DIRECT: Final = int(PrincipalMatch.DIRECT)


class _PrincipalMatcher:
    __slots__ = ("accounts", "everyone", "names")

    def __init__(self, spec: PrincipalSpec) -> None:
        self.everyone = spec.everyone
        accounts: set[str] = set()
        names: set[str] = set()
        for principal_type, values in spec.values.items():
            for value in values:
                if principal_type == "AWS" and value.isdigit():
                    accounts.add(value)
                elif principal_type == "AWS" and value.endswith(":root"):
                    accounts.add(value.split(":")[4])
                else:
                    names.add(value)
        self.accounts = frozenset(accounts)
        self.names = frozenset(names)

    def strength(self, principal: Principal) -> int:
        if not self.names.isdisjoint(principal.direct_identities):
            return _DIRECT
        if self.everyone:
            return _WILDCARD
        if not self.names.isdisjoint(principal.role_identities):
            return _ROLE
        if principal.account is not None and principal.account in self.accounts:
            return _ACCOUNT
        return _NONE

    def excludes(self, principal: Principal) -> bool:
        """NotPrincipal: true only when every identity layer of the caller is listed."""
        if self.everyone:
            return True
        if principal.type is PrincipalType.ANONYMOUS:
            return False
        if principal.direct_identities and self.names.isdisjoint(principal.direct_identities):
            return False
        if principal.role_identities and self.names.isdisjoint(principal.role_identities):
            return False
        return principal.account is None or principal.account in self.accounts


class CompiledStatement:
    """A statement with its patterns and conditions compiled."""

    __slots__ = (
        "_actions",
        "_conditions",
        "_needs_principal",
        "_not_principal",
        "_principal",
        "_resource_applies",
        "_resources",
        "action_negated",
        "applies",
        "is_deny",
        "kind",
        "ref",
        "resource_negated",
    )

    def __init__(self, statement: Statement, variables: bool) -> None:
        self.ref: StatementRef = statement.ref
        self.kind: PolicyKind = statement.ref.kind
        self.is_deny = statement.effect is StatementEffect.DENY
        self.action_negated = statement.actions is None
        action_values = statement.actions or statement.not_actions or ()
        self._actions = tuple(Glob(action, fold_case=True) for action in action_values)
        self.resource_negated = statement.resources is None and statement.not_resources is not None
        resource_values = statement.resources or statement.not_resources
        self._resources: tuple[Template, ...] | None = (
            None
            if resource_values is None
            else tuple(
                Template(resource, variables=variables, wildcards=True)
                for resource in resource_values
            )
        )
        self._resource_applies = _resource_test(self._resources, self.resource_negated)
        self._principal = (
            _PrincipalMatcher(statement.principal) if statement.principal is not None else None
        )
        self._not_principal = (
            _PrincipalMatcher(statement.not_principal)
            if statement.not_principal is not None
            else None
        )
        conditions: list[CompiledCondition] = []
        for entry in statement.conditions:
            spec = parse_operator(entry.operator)
            if isinstance(spec, str):  # validated before; unreachable for parsed policies
                raise ValueError(spec)
            conditions.append(CompiledCondition(spec, entry.key, entry.values, variables))
        self._conditions = tuple(conditions)
        self._needs_principal = self._principal is not None or self._not_principal is not None
        self.applies: Callable[[Request, Context], int] = self._fast_path() or self._applies

    def matches_action(self, action_key: str) -> bool:
        hit = any(glob.matches(action_key) for glob in self._actions)
        return hit != self.action_negated

    def principal_strength(self, principal: Principal) -> int:
        """A `PrincipalMatch` value (as a plain int) for this statement and caller."""
        if self._principal is not None:
            return self._principal.strength(principal)
        if self._not_principal is not None:
            return _NONE if self._not_principal.excludes(principal) else _WILDCARD
        return _DIRECT

    def _fast_path(self) -> Callable[[Request, Context], int] | None:
        """A specialised `applies` for the common shapes of identity-side statements.

        Evaluation calls `applies` for every candidate statement; a closure fitted to the
        statement's shape avoids the attribute lookups and branches of the general path.
        """
        if self._needs_principal or len(self._conditions) > 1:
            return None
        resource_applies = self._resource_applies
        condition = self._conditions[0].matches if self._conditions else None
        if resource_applies is None and condition is None:
            return lambda request, context: _DIRECT
        if resource_applies is None and condition is not None:
            return lambda request, context: _DIRECT if condition(context) else _NONE
        if resource_applies is not None and condition is None:
            return lambda request, context: (
                _DIRECT if resource_applies(request.resource, context) else _NONE
            )
        assert resource_applies is not None and condition is not None
        return lambda request, context: (
            _DIRECT if resource_applies(request.resource, context) and condition(context) else _NONE
        )

    def _applies(self, request: Request, context: Context) -> int:
        """How this statement applies (a `PrincipalMatch` value; 0 when it does not)."""
        if self._needs_principal:
            strength = self.principal_strength(request.principal)
            if not strength:
                return _NONE
        else:
            strength = _DIRECT
        resource_applies = self._resource_applies
        if resource_applies is not None and not resource_applies(request.resource, context):
            return _NONE
        for condition in self._conditions:
            if not condition.matches(context):
                return _NONE
        return strength


def _resource_test(
    templates: tuple[Template, ...] | None, negated: bool
) -> Callable[[str, Context], bool] | None:
    """Whether a statement's Resource/NotResource lets it apply; None means always."""
    if templates is None:
        return None
    constant = [template.constant_matcher for template in templates]
    if all(match is not None for match in constant):
        if any(template.source == "*" for template in templates):
            return None if not negated else (lambda resource, context: False)
        matchers = [match for match in constant if match is not None]
        if len(matchers) == 1:
            only = matchers[0]
            if negated:
                return lambda resource, context: not only(resource)
            return lambda resource, context: only(resource)
        return lambda resource, context: any(m(resource) for m in matchers) != negated
    return lambda resource, context: (
        any(template.matches(resource, context) for template in templates) != negated
    )


def policy_weight(policy: Policy) -> int:
    """About how much a policy's compiled form holds: its statements and their patterns and
    condition values (a compiled pattern or value is ~0.5 KB)."""
    weight = 0
    for statement in policy.statements:
        weight += 1 + len(statement.actions or statement.not_actions or ())
        weight += len(statement.resources or statement.not_resources or ())
        for spec in (statement.principal, statement.not_principal):
            if spec is not None:
                weight += sum(len(values) for values in spec.values.values())
        weight += sum(len(entry.values) for entry in statement.conditions)
    return weight


# ~100,000 patterns: tens of MB at most, thousands of ordinary policies.
_COMPILED: Final[WeightedMemo[Policy, tuple[CompiledStatement, ...]]] = WeightedMemo(
    100_000, lambda policy, _: policy_weight(policy)
)


def compile_policy(policy: Policy) -> tuple[CompiledStatement, ...]:
    """Compiled statements of a policy; cached per Policy object, within a weight budget."""
    variables = policy.variables_enabled
    return _COMPILED.get(
        policy,
        lambda: tuple(CompiledStatement(statement, variables) for statement in policy.statements),
    )


class StatementIndex:
    """The statements of one or more policies of one kind, indexed by action.

    The first request for an action scans the statements once; afterwards the statements
    whose Action/NotAction match it come from a dictionary, so evaluation cost does not grow
    with the number of statements that cannot apply.
    """

    __slots__ = ("_by_action", "statements")

    def __init__(self, policies: Iterable[Policy]) -> None:
        statements: list[CompiledStatement] = []
        for policy in policies:
            statements.extend(compile_policy(policy))
        self.statements: Sequence[CompiledStatement] = tuple(statements)
        self._by_action: dict[str, tuple[CompiledStatement, ...]] = {}

    def for_action(self, action_key: str) -> tuple[CompiledStatement, ...]:
        found = self._by_action.get(action_key)
        if found is None:
            found = tuple(s for s in self.statements if s.matches_action(action_key))
            if len(self._by_action) >= _ACTION_CACHE_LIMIT:
                self._by_action.clear()
            self._by_action[action_key] = found
        return found

    def __len__(self) -> int:
        return len(self.statements)
