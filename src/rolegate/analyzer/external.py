"""External access of one resource policy: which principals outside the zone of trust it lets
in, proven with z3 (`encoding`), each grant with a witness request the engine allows.

A query is "the policy allows a well-formed request whose principal is outside the zone"
(another account, anonymous, a web-identity provider). Unsatisfiable: there is no external
access (a proof, up to the encoding's over-approximations, which only ever add access).
Satisfiable: one query per principal the Allow statements name (and one for "*" when a
statement names everyone or uses NotPrincipal) gives the grants, AWS's finding shape:
principal `{"AWS": account-or-arn-or-*}` / `{"Federated": provider}`, the actions, the
restricting condition keys left (`aws:SourceIp`, `sts:ExternalId`, ...) and whether it is
public (still allowed when every restricting key is absent or takes a value the policy never
mentions, from a principal the policy never names).

Common policies never reach the solver: when every Allow statement names only principals of
the zone (or AWS services), there is no external access by construction; when the external
grants are unconditional and no statement denies, they are read off the statements.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import z3  # type: ignore[import-untyped]

from ..policy import Policy, PolicySet, Principal, Request, evaluate, parse_policy
from ..policy.model import PrincipalSpec, Statement, StatementEffect
from .encoding import (
    ANON,
    FEDERATED,
    ROLE,
    ROOT,
    USER,
    Alphabet,
    PolicyFormula,
    SymbolicRequest,
    as_text,
    context_of,
    glob_regex,
    solve,
)

__all__ = [
    "RESTRICTING_KEYS",
    "Analysis",
    "Grant",
    "Target",
    "Witness",
    "Zone",
    "analyze_policy",
    "engine_allows",
    "external_access",
    "unlisted_keys",
]

ROLE_TYPE: Final = "AWS::IAM::Role"
BUCKET_TYPE: Final = "AWS::S3::Bucket"
SOLVER_TIMEOUT_MS: Final = 500  # per attempt
# An analysis past this many seconds reports what it could not settle as access (AWS's
# "errs on the side of a false positive"): a policy write never waits on the solver long.
ANALYSIS_BUDGET_S: Final = 5.0
# Condition keys an external caller cannot set freely (AWS's `condition.*` filter keys and
# S3's "fixed value" keys): they restrict a grant and appear in its finding.
RESTRICTING_KEYS: Final = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourceip",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:userid",
        "sts:externalid",
        "kms:calleraccount",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
        "cognito-identity.amazonaws.com:aud",
        "graph.facebook.com:app_id",
        "accounts.google.com:aud",
        "www.amazon.com:app_id",
    }
)
_ORG_KEYS: Final = ("aws:principalorgid", "aws:principalorgpaths")
_UNLISTED_TEXT: Final = "rolegate-unlisted-value"
_UNLISTED_IP: Final = 0xCB00714D  # 203.0.113.77 (TEST-NET-3)
_UNIQUE_ID: Final = re.compile(r"^A[A-Z0-9]{15,127}$")
_ALLOW_ALL: Final = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
)


@dataclass(frozen=True)
class Zone:
    """The zone of trust: the analyzer's account, and for an organization analyzer every
    member account (and the organization id that `aws:PrincipalOrgID` names)."""

    account: str
    members: frozenset[str] = frozenset()
    org_id: str | None = None

    @property
    def trusted(self) -> frozenset[str]:
        return self.members | {self.account}


@dataclass(frozen=True)
class Target:
    """The resource whose policy is analyzed."""

    arn: str
    resource_type: str  # ROLE_TYPE or BUCKET_TYPE
    owner: str


@dataclass(frozen=True)
class Witness:
    """A concrete request the policy allows (kept with the finding)."""

    principal: str
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    role_arn: str | None = None

    def request(self, owner: str) -> Request:
        return Request(
            Principal(self.principal, role_arn=self.role_arn),
            self.action,
            self.resource,
            context=self.context,
            resource_account=owner,
        )

    def as_json(self) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "context": self.context,
        }
        if self.role_arn is not None:
            shape["roleArn"] = self.role_arn
        return shape

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Witness:
        return cls(
            data["principal"],
            data["action"],
            data["resource"],
            dict(data.get("context") or {}),
            data.get("roleArn"),
        )


@dataclass(frozen=True)
class Grant:
    """One external access: a finding's content."""

    principal: dict[str, str]
    actions: tuple[str, ...]
    condition: dict[str, str]
    is_public: bool
    witness: Witness | None

    @property
    def key(self) -> str:
        """What identifies the grant across analyses (its principal and conditions)."""
        return json.dumps([self.principal, self.condition], sort_keys=True)


@dataclass(frozen=True)
class Analysis:
    grants: tuple[Grant, ...]
    used_solver: bool


@cache
def _allow_all() -> Policy:
    return parse_policy(_ALLOW_ALL)


def engine_allows(policy: Policy, witness: Witness, owner: str) -> bool:
    """Does `rolegate.policy.evaluate` allow the witness (the external account's identity
    side allowing everything: Access Analyzer ignores the other account's own policies)?"""
    request = witness.request(owner)
    identity = [_allow_all()] if request.principal.account is not None else []
    return evaluate(request, PolicySet(identity=identity, resource=policy)).allowed


# --------------------------------------------------------------------------- principals


def _account_of(value: str) -> str | None:
    if value.isdigit():
        return value
    fields = value.split(":")
    return fields[4] if len(fields) >= 6 and value.startswith("arn:") else None


def _is_wild(value: str) -> bool:
    return "*" in value or "?" in value


def _external_values(spec: PrincipalSpec, zone: Zone) -> list[tuple[str, str]]:
    """(principal type, value) of the principals outside the zone that `spec` names."""
    found: list[tuple[str, str]] = []
    for principal_type, values in spec.values.items():
        for value in values:
            if principal_type == "AWS" and value != "*":
                if _UNIQUE_ID.match(value):
                    continue  # a deleted principal's id: nobody has it any more
                account = _account_of(value)
                if account is not None and not _is_wild(account) and account in zone.trusted:
                    continue
                found.append(("AWS", value))
            elif principal_type == "Federated":
                found.append(("Federated", value))
    return found


def _names_everyone(statement: Statement) -> bool:
    return statement.not_principal is not None or (
        statement.principal is not None and statement.principal.everyone
    )


def _allows(policy: Policy) -> list[Statement]:
    return [s for s in policy.statements if s.effect is StatementEffect.ALLOW]


def _class_statements(policy: Policy, zone: Zone) -> dict[tuple[str, str], list[Statement]]:
    """Each external principal class ("AWS", "*" for everyone) and the statements naming it."""
    classes: dict[tuple[str, str], list[Statement]] = {}
    for statement in _allows(policy):
        if _names_everyone(statement):
            classes.setdefault(("AWS", "*"), []).append(statement)
        if statement.principal is not None:
            for item in _external_values(statement.principal, zone):
                classes.setdefault(item, []).append(statement)
    return classes


def _finding_principal(principal_type: str, value: str) -> dict[str, str]:
    if principal_type == "AWS" and value != "*":
        account = _account_of(value)
        if value.isdigit() or (value.endswith(":root") and account is not None):
            return {"AWS": account or value}
    return {principal_type: value}


def _condition_map(statements: Iterable[Statement]) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for statement in statements:
        for entry in statement.conditions:
            if entry.key.lower() in RESTRICTING_KEYS:
                values = found.setdefault(entry.key, [])
                values.extend(v for v in entry.values if v not in values)
    return {key: ",".join(values) for key, values in sorted(found.items())}


def _unlisted_account(policy: Policy, zone: Zone) -> str:
    text = json.dumps(policy.document)
    for candidate in range(999999999999, 0, -111111111111):
        account = f"{candidate:012d}"
        if account not in text and account not in zone.trusted:
            return account
    return "123456789012"  # pragma: no cover - a policy naming eight such accounts


# --------------------------------------------------------------------------- fast paths


def _internal_only(policy: Policy, zone: Zone) -> bool:
    """No Allow statement can name a principal outside the zone."""
    for statement in _allows(policy):
        if _names_everyone(statement) or statement.principal is None:
            return False
        if _external_values(statement.principal, zone):
            return False
    return True


def _concrete(pattern: str) -> str:
    return pattern.replace("*", "").replace("?", "a")


def _in_target(resource: str, target: Target) -> bool:
    if target.resource_type == ROLE_TYPE:
        return resource == target.arn
    return resource == target.arn or resource.startswith(target.arn + "/")


def _syntactic_grants(policy: Policy, target: Target, zone: Zone) -> list[Grant] | None:
    """The grants of a policy without Deny statements whose external statements are plain
    (no conditions, NotAction or NotResource), or None when the solver must decide."""
    if any(s.effect is StatementEffect.DENY for s in policy.statements):
        return None
    grants: list[Grant] = []
    for (principal_type, value), statements in _class_statements(policy, zone).items():
        if _is_wild(value) and value != "*":
            return None
        actions: list[str] = []
        for statement in statements:
            if statement.conditions or statement.actions is None or statement.not_principal:
                return None
            if statement.not_resources is not None:
                return None
            actions.extend(a for a in statement.actions if a not in actions)
        witness = _syntactic_witness(policy, target, zone, principal_type, value, statements[0])
        if witness is None or not engine_allows(policy, witness, target.owner):
            return None
        grants.append(
            Grant(
                _finding_principal(principal_type, value), tuple(actions), {}, value == "*", witness
            )
        )
    return grants


def _syntactic_witness(
    policy: Policy,
    target: Target,
    zone: Zone,
    principal_type: str,
    value: str,
    statement: Statement,
) -> Witness | None:
    assert statement.actions is not None
    action = _concrete(statement.actions[0])
    if statement.resources is None:
        resource = target.arn
    else:
        candidates = [_concrete(r) for r in statement.resources]
        if "*" in statement.resources:
            candidates.insert(0, target.arn)
        inside = [r for r in candidates if _in_target(r, target)]
        if not inside:
            return None
        resource = inside[0]
    if principal_type == "Federated":
        return Witness(value, action, resource)
    if value == "*":
        return Witness(f"arn:aws:iam::{_unlisted_account(policy, zone)}:root", action, resource)
    account = _account_of(value)
    if value.isdigit() or value.endswith(":root"):
        return Witness(f"arn:aws:iam::{account}:root", action, resource)
    kind, _, name = value.split(":", 5)[5].partition("/")
    if kind == "role":
        session = f"arn:aws:sts::{account}:assumed-role/{name.rsplit('/', 1)[-1]}/witness"
        return Witness(session, action, resource, role_arn=value)
    return Witness(value, action, resource)


# --------------------------------------------------------------------------- the solver


class _Query:
    """The base query of one policy, target, zone and principal type."""

    def __init__(
        self,
        policy: Policy,
        target: Target,
        zone: Zone,
        candidate: tuple[int, str | None],
        alphabet: Alphabet,
    ) -> None:
        self.policy = policy
        self.target = target
        self.zone = zone
        self.alphabet = alphabet
        self.request = SymbolicRequest(*candidate, alphabet)
        self.formula = PolicyFormula(policy, self.request)
        self.base = [
            self.request.well_formed(target.owner),
            self.formula.allows(),
            self._resource_in_target(),
            self._external(),
        ]

    def _resource_in_target(self) -> Any:
        resource = self.request.resource
        alphabet = self.alphabet
        if self.target.resource_type == ROLE_TYPE:
            return resource == alphabet.text(self.target.arn)
        inside = z3.Concat(alphabet.literal(self.target.arn + "/"), alphabet.any)
        return z3.InRe(resource, z3.Union(alphabet.literal(self.target.arn), inside))

    def _external(self) -> Any:
        request = self.request
        parts: list[Any] = []
        if not request.is_aws:
            for key in _ORG_KEYS:
                variable = request.keys.get(key)
                if variable is not None:
                    parts.append(z3.Not(variable.present))
        if request.ptype == FEDERATED:
            named = _federated_names(self.policy)
            parts.append(
                self.alphabet.any_of([request.provider == self.alphabet.text(n) for n in named])
            )
        org = request.keys.get("aws:principalorgid")
        if org is not None and self.zone.org_id is not None:
            own = self.alphabet.text(self.zone.org_id)
            parts.extend(z3.Not(z3.And(s.active, s.text == own)) for s in org.slots)
        return self.alphabet.all_of(parts)

    def check(self, *extra: Any) -> tuple[Any, Any | None]:
        """(result, model) with `extra` constraints."""
        result, model = solve(self.alphabet, [*self.base, *extra], SOLVER_TIMEOUT_MS)
        return result, model

    def principal_class(self, principal_type: str, value: str) -> Any:
        """The constraint "the principal is the one this (type, value) names"; False when
        no principal of this query's type can be it."""
        request = self.request
        ptype = request.ptype
        if principal_type == "Federated":
            if ptype != FEDERATED:
                return self.alphabet.boolean(False)
            return request.provider == self.alphabet.text(value)
        if value == "*":
            return self.alphabet.boolean(True)
        if not request.is_aws:
            return self.alphabet.boolean(False)
        account = _account_of(value)
        if value.isdigit() or value.endswith(":root"):
            assert account is not None
            return self.alphabet.boolean(fnmatch.fnmatchcase(str(request.account), account))
        options: list[Any] = []
        if ptype in (USER, ROLE):
            options.append(_equal_or_like(request.principal_arn, value, self.alphabet))
        if ptype == ROLE:
            options.append(_equal_or_like(request.session_arn, value, self.alphabet))
        return self.alphabet.any_of(options)

    def unlisted(self) -> Any:
        """Every restricting key absent or unlisted, the principal anonymous or unnamed."""
        request = self.request
        unlisted = request.ptype == ROOT and request.account == _unlisted_account(
            self.policy, self.zone
        )
        if not (request.ptype == ANON or unlisted):
            return self.alphabet.boolean(False)
        return unlisted_keys(request)

    def witness(self, model: Any) -> Witness:
        request = self.request
        ptype = request.ptype
        action = as_text(model, request.action)
        resource = as_text(model, request.resource)
        context = context_of(request, model)
        account = request.account
        if ptype == ANON:
            return Witness("*", action, resource, context)
        if ptype == FEDERATED:
            return Witness(as_text(model, request.provider), action, resource, context)
        if ptype == ROOT:
            return Witness(f"arn:aws:iam::{account}:root", action, resource, context)
        arn = as_text(model, request.principal_arn)
        if ptype == USER:
            return Witness(arn, action, resource, context)
        session = as_text(model, request.session_arn)
        return Witness(session, action, resource, context, role_arn=arn)


def unlisted_keys(request: SymbolicRequest) -> Any:
    """Every restricting condition key absent or at a value no policy names."""
    alphabet = request.alphabet
    parts: list[Any] = []
    for key, variable in request.keys.items():
        if key not in RESTRICTING_KEYS or key in ("aws:principalarn", "aws:principalaccount"):
            continue
        for slot in variable.slots:
            if variable.mode == "ip":
                value = z3.And(slot.is_ip, slot.ip == _UNLISTED_IP)
            elif variable.mode == "string":
                value = slot.text == alphabet.text(_UNLISTED_TEXT)
            else:
                value = z3.Not(slot.is_number)
            parts.append(z3.Or(z3.Not(slot.active), value))
    return alphabet.all_of(parts)


def _equal_or_like(term: Any, value: str, alphabet: Alphabet) -> Any:
    if _is_wild(value):
        return z3.InRe(term, glob_regex(value, alphabet))
    return term == alphabet.text(value)


def _named_accounts(policy: Policy, zone: Zone) -> list[str]:
    """The accounts outside the zone that the policy names (principals and ARN values in
    conditions): the principals a query tries, with one account it never names."""
    found: list[str] = []
    for match in re.finditer(r"(?<![0-9])([0-9]{12})(?![0-9])", json.dumps(policy.document)):
        account = match.group(1)
        if account not in zone.trusted and account not in found:
            found.append(account)
    return found


_PRINCIPAL_KEYS: Final = ("aws:principalarn", "aws:principaltype", "aws:userid", "aws:username")


def _tells_principals_apart(policy: Policy, zone: Zone) -> bool:
    """Can the policy treat an outside user or role session otherwise than its account's
    root? Not when it names no outside user or role, has no NotPrincipal and tests no key of
    the principal: then each account's root stands for all of that account's principals."""
    for statement in policy.statements:
        if statement.not_principal is not None:
            return True
        if statement.principal is not None:
            for principal_type, value in _external_values(statement.principal, zone):
                if principal_type == "AWS" and not value.isdigit() and not value.endswith(":root"):
                    return True
        for entry in statement.conditions:
            key = entry.key.lower()
            if key in _PRINCIPAL_KEYS or key.startswith("aws:principaltag/"):
                return True
    return False


def _federated_names(policy: Policy) -> list[str]:
    names: list[str] = []
    for statement in policy.statements:
        for spec in (statement.principal, statement.not_principal):
            if spec is not None:
                names.extend(v for v in spec.values.get("Federated", ()) if v not in names)
    return names


class _Queries:
    """One `_Query` per principal type, built when first asked."""

    def __init__(self, policy: Policy, target: Target, zone: Zone) -> None:
        self.policy = policy
        self.target = target
        self.zone = zone
        candidates: list[tuple[int, str | None]] = [(ANON, None)]
        types = (ROOT, USER, ROLE) if _tells_principals_apart(policy, zone) else (ROOT,)
        for account in [*_named_accounts(policy, zone), _unlisted_account(policy, zone)]:
            candidates.extend((ptype, account) for ptype in types)
        if _federated_names(policy):
            candidates.append((FEDERATED, None))
        self.types = candidates
        self.alphabet = Alphabet(json.dumps(policy.document, ensure_ascii=False))
        self.deadline = time.monotonic() + ANALYSIS_BUDGET_S
        self._built: dict[tuple[int, str | None], _Query] = {}

    def query(self, candidate: tuple[int, str | None]) -> _Query:
        found = self._built.get(candidate)
        if found is None:
            found = _Query(self.policy, self.target, self.zone, candidate, self.alphabet)
            self._built[candidate] = found
        return found

    def first(self, extra: Any = None) -> tuple[Any, Witness | None]:
        """sat with a witness from the first principal type that is, else unsat / unknown
        (unknown too once the analysis has spent its time budget)."""
        undecided = False
        for ptype in self.types:
            if time.monotonic() > self.deadline:
                return z3.unknown, None
            query = self.query(ptype)
            constraints = [] if extra is None else [extra(query)]
            if constraints and z3.is_false(constraints[0]):
                continue
            result, model = query.check(*constraints)
            if result == z3.sat:
                return result, query.witness(model)
            undecided = undecided or result == z3.unknown
        return (z3.unknown if undecided else z3.unsat), None


def _solver_grants(policy: Policy, target: Target, zone: Zone) -> list[Grant]:
    queries = _Queries(policy, target, zone)
    result, _ = queries.first()
    if result == z3.unsat:
        return []
    if result == z3.unknown:  # undecided: report the possible access (a false positive)
        return [Grant({"AWS": "*"}, ("*",), {}, True, None)]
    grants: list[Grant] = []
    for (principal_type, value), statements in _class_statements(policy, zone).items():

        def chosen(query: _Query, pt: str = principal_type, v: str = value) -> Any:
            return query.principal_class(pt, v)

        result, witness = queries.first(chosen)
        if result == z3.unsat:
            continue
        actions: list[str] = []
        for statement in statements:
            if statement.actions is None:
                if "*" not in actions:
                    actions.append("*")
                continue
            for action in statement.actions:
                if action in actions:
                    continue

                def with_action(query: _Query, a: str = action, c: Any = chosen) -> Any:
                    matched = z3.InRe(query.request.action, glob_regex(a.lower(), query.alphabet))
                    return z3.simplify(z3.And(c(query), matched))

                if queries.first(with_action)[0] != z3.unsat:
                    actions.append(action)
        public = False
        if value == "*" or _is_wild(value):

            def unlisted(query: _Query, c: Any = chosen) -> Any:
                return z3.simplify(z3.And(c(query), query.unlisted()))

            public = queries.first(unlisted)[0] != z3.unsat
        grants.append(
            Grant(
                _finding_principal(principal_type, value),
                tuple(actions),
                _condition_map(statements),
                public,
                witness,
            )
        )
    return grants


def _merged(grants: Sequence[Grant]) -> tuple[Grant, ...]:
    by_key: dict[str, Grant] = {}
    for grant in grants:
        found = by_key.get(grant.key)
        if found is None:
            by_key[grant.key] = grant
            continue
        actions = found.actions + tuple(a for a in grant.actions if a not in found.actions)
        by_key[grant.key] = Grant(
            found.principal,
            actions,
            found.condition,
            found.is_public or grant.is_public,
            found.witness or grant.witness,
        )
    return tuple(by_key.values())


def external_access(policy: Policy, target: Target, zone: Zone) -> bool:
    """The question behind every finding: does the policy allow any request from outside the
    zone? False is a proof (unsat, or no statement can name an outside principal); an
    undecided question counts as access. `analyze_policy` has grants exactly when True."""
    if _internal_only(policy, zone):
        return False
    return bool(_Queries(policy, target, zone).first()[0] != z3.unsat)


def analyze_policy(policy: Policy, target: Target, zone: Zone) -> Analysis:
    """The external grants of `policy` on `target` (empty: proven that there are none)."""
    if _internal_only(policy, zone):
        return Analysis((), used_solver=False)
    grants = _syntactic_grants(policy, target, zone)
    if grants is not None:
        return Analysis(_merged(grants), used_solver=False)
    return Analysis(_merged(_solver_grants(policy, target, zone)), used_solver=True)
