"""Custom policy checks: CheckNoNewAccess, CheckAccessNotGranted, CheckNoPublicAccess.

Each is one solver question over the request space (`encoding`), asked for every principal
the policies can tell apart (anonymous; the root, a user and a role session of each account
they name and of one they do not; each web-identity provider they name). A check PASSes
only when the question is unsatisfiable for all of them; the reasons of a FAIL name the
statements (index and Sid) through which the access comes. A question the solver cannot
settle FAILs (a check never passes on a guess).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import z3  # type: ignore[import-untyped]

from ..policy import Policy, PolicyKind, PolicyValidationError, parse_policy
from ..policy.model import Statement, StatementEffect
from .encoding import (
    ANON,
    FEDERATED,
    ROLE,
    ROOT,
    USER,
    Alphabet,
    PolicyFormula,
    SymbolicRequest,
    declare_keys,
    glob_regex,
    solve,
)
from .errors import InvalidParameter
from .external import unlisted_keys

__all__ = [
    "CheckResult",
    "check_access_not_granted",
    "check_no_new_access",
    "check_no_public_access",
]

NEW_ACCESS: Final = "The modified permissions grant new access compared to your existing policy."
NO_NEW_ACCESS: Final = (
    "The modified permissions do not grant new access compared to your existing policy."
)
NOT_GRANTED: Final = "The policy document does not grant access to perform the listed actions."
GRANTED: Final = "The policy document grants access to perform one or more of the listed actions."
NOT_PUBLIC: Final = "The resource policy does not grant public access for the given resource type."
PUBLIC: Final = "The resource policy grants public access for the given resource type."
_UNLISTED_ACCOUNT: Final = "000000000000"
_TRUST_TYPE: Final = "AWS::IAM::AssumeRolePolicyDocument"


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def as_output(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"result": "PASS" if self.passed else "FAIL"}
        shape["message"] = self.message
        shape["reasons"] = self.reasons
        return shape


def _parse(document: str, policy_type: str, trust: bool = False) -> Policy:
    kinds = [PolicyKind.IDENTITY] if policy_type == "IDENTITY_POLICY" else [PolicyKind.RESOURCE]
    if policy_type != "IDENTITY_POLICY":
        kinds.insert(0 if trust else 1, PolicyKind.TRUST)
    error: PolicyValidationError | None = None
    for kind in kinds:
        try:
            return parse_policy(document, kind, max_size=0)
        except PolicyValidationError as failure:
            error = error or failure
        except (ValueError, RecursionError) as failure:
            raise InvalidParameter(f"The policy document is not valid JSON: {failure}") from None
    raise InvalidParameter(f"The policy document is not valid: {error}")


def _candidates(policies: Sequence[Policy], principals: bool) -> list[tuple[int, str | None]]:
    text = json.dumps([policy.document for policy in policies])
    accounts = list(dict.fromkeys(re.findall(r"(?<![0-9])[0-9]{12}(?![0-9])", text)))
    found: list[tuple[int, str | None]] = [(ANON, None)] if principals else []
    for account in [*accounts, _UNLISTED_ACCOUNT]:
        found.extend((ptype, account) for ptype in (ROOT, USER, ROLE))
    if principals and '"Federated"' in text:
        found.append((FEDERATED, None))
    return found


class _Question:
    """One check over some policies: formulas built per principal candidate."""

    def __init__(self, policies: Sequence[Policy], principals: bool) -> None:
        self.policies = policies
        self.alphabet = Alphabet(json.dumps([p.document for p in policies], ensure_ascii=False))
        self.candidates = _candidates(policies, principals)

    def ask(self, build: Any) -> Any:
        """sat / unsat / unknown of `build(request, formulas)` over every candidate."""
        undecided = False
        for candidate in self.candidates:
            request = SymbolicRequest(*candidate, self.alphabet)
            declare_keys(request, [s for p in self.policies for s in p.statements])
            formulas = [PolicyFormula(policy, request) for policy in self.policies]
            constraints = [request.well_formed(_UNLISTED_ACCOUNT), *build(request, formulas)]
            if candidate[0] == FEDERATED:
                names = [
                    v
                    for p in self.policies
                    for s in p.statements
                    for spec in (s.principal, s.not_principal)
                    if spec is not None
                    for v in spec.values.get("Federated", ())
                ]
                provider = [request.provider == self.alphabet.text(n) for n in names]
                constraints.append(self.alphabet.any_of(provider))
            result, _ = solve(self.alphabet, constraints)
            if result == z3.sat:
                return z3.sat
            undecided = undecided or result == z3.unknown
        return z3.unknown if undecided else z3.unsat


def _reason(statement: Statement, description: str) -> dict[str, Any]:
    reason: dict[str, Any] = {
        "description": f"{description} in the statement with index: {statement.ref.index}.",
        "statementIndex": statement.ref.index,
    }
    if statement.ref.sid:
        reason["statementId"] = statement.ref.sid
    return reason


def _allow_statements(policy: Policy) -> list[Statement]:
    return [s for s in policy.statements if s.effect is StatementEffect.ALLOW]


def check_no_new_access(new_document: str, existing_document: str, policy_type: str) -> CheckResult:
    """FAIL when the new policy allows a request the existing one does not."""
    new = _parse(new_document, policy_type)
    existing = _parse(existing_document, policy_type)
    question = _Question([new, existing], policy_type != "IDENTITY_POLICY")
    reasons: list[dict[str, Any]] = []
    for statement in _allow_statements(new):

        def build(
            request: SymbolicRequest, formulas: list[PolicyFormula], s: Any = statement
        ) -> list[Any]:
            new_formula, existing_formula = formulas
            return [
                new_formula.allows(),
                new_formula.statement_applies(s, True),
                z3.Not(existing_formula.allows(over=False)),
            ]

        if question.ask(build) != z3.unsat:
            reasons.append(_reason(statement, "New access"))
    if reasons:
        return CheckResult(False, NEW_ACCESS, reasons)
    return CheckResult(True, NO_NEW_ACCESS)


def check_access_not_granted(
    document: str, access: Sequence[Mapping[str, Any]], policy_type: str
) -> CheckResult:
    """FAIL when the policy allows one of the listed actions on one of the listed resources
    (only actions: on any resource; only resources: any action on one of them)."""
    if len(access) != 1:
        raise InvalidParameter("Specify exactly one access object.")
    actions = [str(a) for a in access[0].get("actions") or ()]
    resources = [str(r) for r in access[0].get("resources") or ()]
    if not actions and not resources:
        raise InvalidParameter("The access object must list actions or resources.")
    if any("*" in a or "?" in a for a in actions):
        raise InvalidParameter("Wildcards are not allowed in the listed actions.")
    policy = _parse(document, policy_type)
    question = _Question([policy], policy_type != "IDENTITY_POLICY")
    reasons: list[dict[str, Any]] = []
    for statement in _allow_statements(policy):

        def build(
            request: SymbolicRequest, formulas: list[PolicyFormula], s: Any = statement
        ) -> list[Any]:
            alphabet = request.alphabet
            (formula,) = formulas
            parts = [formula.allows(), formula.statement_applies(s, True)]
            if actions:
                parts.append(
                    alphabet.any_of([request.action == alphabet.text(a.lower()) for a in actions])
                )
            if resources:
                parts.append(
                    alphabet.any_of(
                        [z3.InRe(request.resource, glob_regex(r, alphabet)) for r in resources]
                    )
                )
            return parts

        if question.ask(build) != z3.unsat:
            reasons.append(_reason(statement, "One of the listed actions or resources"))
    if reasons:
        return CheckResult(False, GRANTED, reasons)
    return CheckResult(True, NOT_GRANTED)


def check_no_public_access(document: str, resource_type: str) -> CheckResult:
    """FAIL when the resource policy allows an anonymous caller, or one from an account it
    does not name, with every restricting condition key absent or at a value it never names."""
    policy = _parse(document, "RESOURCE_POLICY", trust=resource_type == _TRUST_TYPE)
    question = _Question([policy], True)
    question.candidates = [(ANON, None), (ROOT, _UNLISTED_ACCOUNT)]
    reasons: list[dict[str, Any]] = []
    for statement in _allow_statements(policy):

        def build(
            request: SymbolicRequest, formulas: list[PolicyFormula], s: Any = statement
        ) -> list[Any]:
            (formula,) = formulas
            return [formula.allows(), formula.statement_applies(s, True), unlisted_keys(request)]

        if question.ask(build) != z3.unsat:
            reasons.append(_reason(statement, "Public access"))
    if reasons:
        return CheckResult(False, PUBLIC, reasons)
    return CheckResult(True, NOT_PUBLIC)
