"""A resource policy as a z3 formula over one symbolic request (Zelkova-style).

The request is a tuple of solver variables: the principal (`ptype`: anonymous, account
root, user, role session or web-identity federation; its account, name, role name, session
name, provider), the action (lowercased: the engine folds case), the resource, and for every
condition key the policy names a few value *slots* (a key may carry several values: one slot
per condition entry on it is enough for every ForAnyValue / ForAllValues combination the
policy can test). A slot holds a string, or for keys only tested by IP / numeric / date
operators an IPv4 bit-vector or a number, with a flag for "not an IP / not a number".

The encoding follows `rolegate.policy` (its principal matching, NotPrincipal exclusion, the
absent-key rules of `CompiledCondition`). What it cannot express exactly (policy variables,
IPv6 networks, binary values, operators on keys of another family) is *unknown*, replaced by
the constant that over-approximates access: true inside an Allow, false inside a Deny (the
polarity flips under every negation). So an unsatisfiable query is a proof that no request
is allowed; a satisfiable one has a model, a concrete request, that `rolegate.policy.evaluate`
is then asked about (`witness`).
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import z3  # type: ignore[import-untyped]

from ..policy import Policy, PolicyKind
from ..policy.conditions import SetQualifier, parse_epoch, parse_operator
from ..policy.model import ConditionEntry, PrincipalSpec, Statement, StatementEffect

__all__ = [
    "ANON",
    "FEDERATED",
    "ROLE",
    "ROOT",
    "USER",
    "PolicyFormula",
    "SymbolicRequest",
    "declare_keys",
    "glob_regex",
    "solve",
]

ANON: Final = 0
ROOT: Final = 1
USER: Final = 2
ROLE: Final = 3
FEDERATED: Final = 4

_NUMBER_SCALE: Final = 1000
_ATTEMPTS: Final = 3
# Keys whose value the engine derives from the principal or the resource.
_PRINCIPAL_ARN: Final = "aws:principalarn"
_PRINCIPAL_ACCOUNT: Final = "aws:principalaccount"
_PRINCIPAL_TYPE: Final = "aws:principaltype"
_RESOURCE_ACCOUNT: Final = "aws:resourceaccount"
TIED_KEYS: Final = frozenset(
    {_PRINCIPAL_ARN, _PRINCIPAL_ACCOUNT, _PRINCIPAL_TYPE, _RESOURCE_ACCOUNT}
)
_TYPE_NAMES: Final = {ROOT: "Account", USER: "User", ROLE: "AssumedRole", FEDERATED: "Service"}


class Alphabet:
    """The characters and regexes of one z3 context, for the policies of one question
    (`text`: their documents). Each analysis runs in a context of its own: in a shared one,
    the string solver slows down by orders of magnitude after a few policies."""

    def __init__(self, text: str = "") -> None:
        self.ctx = z3.Context()
        ctx = self.ctx
        # Printable ASCII and whatever else the policies' text holds: a request's strings
        # need no other character to match, or not match, anything the policies say.
        others = [self.literal(c) for c in sorted(set(text)) if c > "~"]
        self.any_char = (
            z3.Union(z3.Range(" ", "~", ctx), *others) if others else z3.Range(" ", "~", ctx)
        )
        self.any = z3.Star(self.any_char)
        self.field_char = z3.Union(z3.Range(" ", "9", ctx), z3.Range(";", "~", ctx), *others)
        self.field = z3.Star(self.field_char)
        iam_char = z3.Union(  # the characters of IAM names: [A-Za-z0-9+=,.@_-]
            z3.Range("a", "z", ctx),
            z3.Range("A", "Z", ctx),
            z3.Range("0", "9", ctx),
            *[self.literal(c) for c in "+=,.@_-"],
        )
        self.name = z3.Plus(iam_char)
        self.path = z3.Star(z3.Concat(z3.Plus(iam_char), self.literal("/")))  # "" or "a/b/"

    def text(self, value: str) -> Any:
        return z3.StringVal(value, self.ctx)

    def boolean(self, value: bool) -> Any:
        return z3.BoolVal(value, self.ctx)

    def literal(self, text: str) -> Any:
        return z3.Re(z3.StringVal(text, self.ctx))

    def any_of(self, items: Sequence[Any]) -> Any:
        return z3.Or(*items) if items else self.boolean(False)

    def all_of(self, items: Sequence[Any]) -> Any:
        return z3.And(*items) if items else self.boolean(True)

    def concat(self, parts: Sequence[Any]) -> Any:
        if not parts:
            return self.literal("")
        return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def glob_regex(pattern: str, alphabet: Alphabet, *, within_field: bool = False) -> Any:
    """`*` and `?` as a z3 regex (within an ARN field they do not cross `:`)."""
    any_run = alphabet.field if within_field else alphabet.any
    one = alphabet.field_char if within_field else alphabet.any_char
    parts: list[Any] = []
    literal: list[str] = []
    for char in pattern:
        if char in "*?":
            if literal:
                parts.append(alphabet.literal("".join(literal)))
                literal = []
            parts.append(any_run if char == "*" else one)
        else:
            literal.append(char)
    if literal:
        parts.append(alphabet.literal("".join(literal)))
    return alphabet.concat(parts)


def _ignore_case_regex(text: str, alphabet: Alphabet) -> Any:
    parts = []
    for char in text:
        lower, upper = char.lower(), char.upper()
        if lower == upper or len(lower) != 1 or len(upper) != 1:
            parts.append(alphabet.literal(char))
        else:
            parts.append(z3.Union(alphabet.literal(lower), alphabet.literal(upper)))
    return alphabet.concat(parts)


def _arn_regex(pattern: str, alphabet: Alphabet) -> Any | None:
    """ArnLike: six fields, each matched alone (None: the pattern has no six fields)."""
    fields = pattern.split(":", 5)
    if len(fields) != 6:
        return None
    parts: list[Any] = []
    for index, text in enumerate(fields):
        if index:
            parts.append(alphabet.literal(":"))
        parts.append(glob_regex(text, alphabet, within_field=index < 5))
    return z3.Concat(*parts)


def _has_variable(text: str, variables: bool) -> bool:
    return variables and "${" in text


def _scaled(text: str) -> int | None:
    try:
        number = Decimal(text) * _NUMBER_SCALE
    except InvalidOperation:
        return None
    return int(number) if number == number.to_integral_value() else None


@dataclass
class _Slot:
    active: Any
    text: Any
    ip: Any
    is_ip: Any
    number: Any
    is_number: Any


@dataclass
class KeyVariable:
    """The solver variables of one condition key: its slots and which value family."""

    key: str
    mode: str  # "string", "ip", "number" (numeric or date)
    slots: list[_Slot]

    @property
    def present(self) -> Any:
        return z3.Or(*[slot.active for slot in self.slots])


class SymbolicRequest:
    """The variables of one request by a principal of type `ptype` in `account` (one query
    per principal type and account: with both fixed, principal ARNs are regex-constrained
    variables, never word equations, which the solver handles fast)."""

    def __init__(self, ptype: int, account: str | None, alphabet: Alphabet) -> None:
        self.ptype = ptype
        self.account = account if ROOT <= ptype <= ROLE else None
        self.alphabet = alphabet
        ctx = alphabet.ctx
        self.arn_var = z3.String("principal_arn", ctx)  # a user's or role's ARN
        self.session_var = z3.String("session_arn", ctx)
        self.provider = z3.String("provider", ctx)
        self.action = z3.String("action", ctx)
        self.resource = z3.String("resource", ctx)
        self.keys: dict[str, KeyVariable] = {}

    @property
    def is_aws(self) -> bool:
        return self.account is not None

    @property
    def principal_arn(self) -> Any:
        if self.ptype == ROOT:
            return self.alphabet.text(f"arn:aws:iam::{self.account}:root")
        return self.arn_var

    @property
    def session_arn(self) -> Any:
        return self.session_var

    def well_formed(self, owner: str) -> Any:
        """A request the engine could see (printable text, real principal ARNs)."""
        alphabet = self.alphabet
        constraints = [z3.InRe(self.action, alphabet.any), z3.InRe(self.resource, alphabet.any)]
        if self.ptype in (USER, ROLE):
            kind = "user/" if self.ptype == USER else "role/"
            prefix = alphabet.literal(f"arn:aws:iam::{self.account}:{kind}")
            arn = z3.Concat(prefix, alphabet.path, alphabet.name)
            constraints.append(z3.InRe(self.arn_var, arn))
        if self.ptype == ROLE:
            prefix = alphabet.literal(f"arn:aws:sts::{self.account}:assumed-role/")
            session = z3.Concat(prefix, alphabet.name, alphabet.literal("/"), alphabet.name)
            constraints.append(z3.InRe(self.session_var, session))
        if self.ptype == FEDERATED:
            constraints.append(z3.Length(self.provider) > 0)
        for variable in self.keys.values():
            constraints.extend(self._key_constraints(variable, owner))
        return self.alphabet.all_of(constraints)

    def _key_constraints(self, variable: KeyVariable, owner: str) -> list[Any]:
        slots = variable.slots
        found = [z3.InRe(slot.text, self.alphabet.any) for slot in slots]
        if variable.mode == "date":  # epoch seconds are written as digits
            found.extend(slot.number >= 0 for slot in slots)
        if variable.key not in TIED_KEYS:
            return found
        first, rest = slots[0], slots[1:]
        found.extend(z3.Not(slot.active) for slot in rest)
        if variable.key == _RESOURCE_ACCOUNT:
            found.append(z3.And(first.active, first.text == self.alphabet.text(owner)))
            return found
        if variable.key == _PRINCIPAL_TYPE:
            name = _TYPE_NAMES.get(self.ptype)
            if name is None:
                return [*found, z3.Not(first.active)]
            return [*found, first.active, first.text == self.alphabet.text(name)]
        if not self.is_aws:
            return [*found, z3.Not(first.active)]
        if variable.key == _PRINCIPAL_ARN:
            return [*found, first.active, first.text == self.principal_arn]
        return [*found, first.active, first.text == self.alphabet.text(str(self.account))]


def _key_modes(statements: Iterable[Statement]) -> tuple[dict[str, str], dict[str, int]]:
    """Per lowercased key: the value family its slots hold and how many slots it needs."""
    families: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for statement in statements:
        for entry in statement.conditions:
            spec = parse_operator(entry.operator)
            key = entry.key.lower()
            counts[key] = counts.get(key, 0) + 1
            if isinstance(spec, str) or spec.family == "Null":
                families.setdefault(key, set())
            else:
                families.setdefault(key, set()).add(spec.family)
    modes: dict[str, str] = {}
    for key, found in families.items():
        if found == {"Ip"}:
            modes[key] = "ip"
        elif found in ({"Numeric"}, {"Date"}):
            modes[key] = "numeric" if found == {"Numeric"} else "date"
        else:
            modes[key] = "string"
    return modes, counts


def declare_keys(request: SymbolicRequest, statements: Iterable[Statement]) -> None:
    """Give the request the condition keys these statements test (the value family and
    slot count decided over all of them: declare every policy of a query at once)."""
    modes, counts = _key_modes(statements)
    for key, mode in modes.items():
        if key not in request.keys:
            request.keys[key] = _key_variable(request.alphabet.ctx, key, mode, counts[key])


def _key_variable(ctx: Any, key: str, mode: str, count: int) -> KeyVariable:
    slots = []
    size = 1 if key in TIED_KEYS else max(1, count)
    for index in range(size):
        tag = f"{key}#{index}"
        slots.append(
            _Slot(
                active=z3.Bool(f"{tag}.on", ctx),
                text=z3.String(f"{tag}.text", ctx),
                ip=z3.BitVec(f"{tag}.ip", 32, ctx),
                is_ip=z3.Bool(f"{tag}.is_ip", ctx),
                number=z3.Int(f"{tag}.number", ctx),
                is_number=z3.Bool(f"{tag}.is_number", ctx),
            )
        )
    return KeyVariable(key, mode, slots)


def solve(
    alphabet: Alphabet, constraints: Sequence[Any], timeout_ms: int = 1000
) -> tuple[Any, Any]:
    """(result, model): a fresh solver per question (an incremental one slows down badly
    after a few); the string solver's running time swings with its random choices, so a
    question not settled within `timeout_ms` is retried with other seeds."""
    result, model = z3.unknown, None
    for seed in range(_ATTEMPTS):
        solver = z3.Solver(ctx=alphabet.ctx)
        solver.set("timeout", timeout_ms)
        solver.set("random_seed", seed)
        solver.add(*constraints)
        result = solver.check()
        if result != z3.unknown:
            return result, (solver.model() if result == z3.sat else None)
    return result, model


def _network(text: str) -> tuple[int, int] | None:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    if network.version != 4:
        return None
    return int(network.network_address), int(network.netmask)


class PolicyFormula:
    """One policy over one `SymbolicRequest`: `allows` (Allow statements, Deny applied)."""

    def __init__(self, policy: Policy, request: SymbolicRequest) -> None:
        self.policy = policy
        self.request = request
        self.alphabet = request.alphabet
        self.variables = policy.variables_enabled
        declare_keys(request, policy.statements)
        self.approximate = False  # set when an unknown was replaced by a constant

    # ---- the policy
    def statement_applies(self, statement: Statement, polarity: bool) -> Any:
        """Whether `statement` applies to the request (unknowns resolved by `polarity`)."""
        request = self.request
        parts: list[Any] = []
        patterns = statement.actions or statement.not_actions or ()
        matched = self.alphabet.any_of(
            [z3.InRe(request.action, glob_regex(p.lower(), self.alphabet)) for p in patterns]
        )
        parts.append(matched if statement.actions is not None else z3.Not(matched))
        resources = statement.resources or statement.not_resources
        if resources is not None:
            negated = statement.resources is None
            parts.append(self._resource_match(resources, polarity, negated))
        if statement.principal is not None:
            parts.append(self._principal_match(statement.principal))
        elif statement.not_principal is not None:
            parts.append(z3.Not(self._principal_excluded(statement.not_principal)))
        for entry in statement.conditions:
            parts.append(self._condition(entry, polarity))
        return self.alphabet.all_of(parts)

    def allows(self, over: bool = True) -> Any:
        """Some Allow statement applies and no Deny statement does: over-approximated
        (unknowns grant access), or under-approximated when not `over`."""
        allows = [
            self.statement_applies(s, over)
            for s in self.policy.statements
            if s.effect is StatementEffect.ALLOW
        ]
        denies = [
            z3.Not(self.statement_applies(s, not over))
            for s in self.policy.statements
            if s.effect is StatementEffect.DENY
        ]
        return self.alphabet.all_of([self.alphabet.any_of(allows), *denies])

    def _unknown(self, polarity: bool) -> Any:
        self.approximate = True
        return self.alphabet.boolean(polarity)

    def _resource_match(self, patterns: Sequence[str], polarity: bool, negated: bool) -> Any:
        inner = polarity != negated  # the polarity of the match itself
        options = [
            self._unknown(inner)
            if _has_variable(p, self.variables)
            else z3.InRe(self.request.resource, glob_regex(p, self.alphabet))
            for p in patterns
        ]
        matched = self.alphabet.any_of(options)
        return z3.Not(matched) if negated else matched

    # ---- principals
    def _names_match(self, values: Iterable[str], subject: Any) -> list[Any]:
        return [
            z3.InRe(subject, glob_regex(v, self.alphabet))
            if "*" in v or "?" in v
            else subject == self.alphabet.text(v)
            for v in values
        ]

    def _split(self, spec: PrincipalSpec) -> tuple[list[str], list[str], list[str]]:
        """(account patterns, AWS names, federated names) as the engine's matcher sees them."""
        accounts: list[str] = []
        names: list[str] = []
        federated: list[str] = []
        for principal_type, values in spec.values.items():
            for value in values:
                if principal_type == "AWS" and value == "*":
                    continue
                if principal_type == "AWS" and (value.isdigit() or value.endswith(":root")):
                    accounts.append(value if value.isdigit() else value.split(":")[4])
                elif principal_type == "Federated":
                    federated.append(value)
                else:
                    names.append(value)
        return accounts, names, federated

    def _account_in(self, accounts: Sequence[str]) -> Any:
        account = self.request.account
        return self.alphabet.boolean(
            account is not None and any(fnmatch.fnmatchcase(account, a) for a in accounts)
        )

    def _principal_match(self, spec: PrincipalSpec) -> Any:
        if spec.everyone:
            return self.alphabet.boolean(True)
        request = self.request
        accounts, names, federated = self._split(spec)
        options: list[Any] = []
        if request.is_aws:
            options.append(self._account_in(accounts))
        if request.ptype in (USER, ROLE):
            options.extend(self._names_match(names, request.principal_arn))
        if request.ptype == ROLE:
            options.extend(self._names_match(names, request.session_arn))
        if request.ptype == FEDERATED:
            options.extend(self._names_match([*names, *federated], request.provider))
        return self.alphabet.any_of(options)

    def _principal_excluded(self, spec: PrincipalSpec) -> Any:
        """NotPrincipal: the engine's `_PrincipalMatcher.excludes`."""
        if spec.everyone:
            return self.alphabet.boolean(True)
        request = self.request
        accounts, names, federated = self._split(spec)
        if request.ptype == ANON:
            return self.alphabet.boolean(False)
        if request.ptype == FEDERATED:
            return self.alphabet.any_of(self._names_match([*names, *federated], request.provider))
        listed = [self._account_in(accounts)]
        if request.ptype in (USER, ROLE):
            listed.append(self.alphabet.any_of(self._names_match(names, request.principal_arn)))
        if request.ptype == ROLE:
            listed.append(self.alphabet.any_of(self._names_match(names, request.session_arn)))
        return self.alphabet.all_of(listed)

    # ---- conditions
    def _condition(self, entry: ConditionEntry, polarity: bool) -> Any:
        spec = parse_operator(entry.operator)
        if isinstance(spec, str):  # validated policies never get here
            return self._unknown(polarity)
        variable = self.request.keys[entry.key.lower()]
        values = {value.lower() for value in entry.values}
        if spec.family == "Null":
            return z3.If(
                variable.present,
                self.alphabet.boolean("false" in values),
                self.alphabet.boolean("true" in values),
            )

        def test(slot: _Slot, inner: bool) -> Any:
            return self._value_test(spec.base, spec.family, entry.values, variable, slot, inner)

        slots = variable.slots
        negated = spec.negated
        if spec.qualifier is SetQualifier.FOR_ALL_VALUES:
            inner = polarity != negated
            tests = [test(slot, inner) for slot in slots]
            return z3.And(
                *[
                    z3.Implies(slot.active, z3.Not(t) if negated else t)
                    for slot, t in zip(slots, tests, strict=True)
                ]
            )
        inner = polarity != negated
        any_match = self.alphabet.any_of([z3.And(slot.active, test(slot, inner)) for slot in slots])
        if spec.qualifier is SetQualifier.FOR_ANY_VALUE:
            if negated:
                any_match = z3.Or(
                    *[z3.And(slot.active, z3.Not(test(slot, inner))) for slot in slots]
                )
            return z3.If(variable.present, any_match, self.alphabet.boolean(spec.if_exists))
        matched = z3.Not(any_match) if negated else any_match
        return z3.If(variable.present, matched, self.alphabet.boolean(spec.if_exists or negated))

    def _value_test(
        self,
        base: str,
        family: str,
        values: Sequence[str],
        variable: KeyVariable,
        slot: _Slot,
        polarity: bool,
    ) -> Any:
        """Does this slot's value satisfy the positive operator for one of `values`?"""
        mode = variable.mode
        if family == "String" and mode == "string":
            options: list[Any] = []
            for value in values:
                if _has_variable(value, self.variables):
                    options.append(self._unknown(polarity))
                elif base in ("StringLike", "StringNotLike"):
                    options.append(z3.InRe(slot.text, glob_regex(value, self.alphabet)))
                elif "IgnoreCase" in base:
                    options.append(z3.InRe(slot.text, _ignore_case_regex(value, self.alphabet)))
                else:
                    options.append(slot.text == self.alphabet.text(value))
            return self.alphabet.any_of(options)
        if family == "Bool" and mode == "string":
            if any(_has_variable(v, self.variables) for v in values):
                return self._unknown(polarity)
            wanted = {v.lower() for v in values} & {"true", "false"}
            return self.alphabet.any_of(
                [z3.InRe(slot.text, _ignore_case_regex(w, self.alphabet)) for w in sorted(wanted)]
            )
        if family == "Arn" and mode == "string":
            options = []
            for value in values:
                if _has_variable(value, self.variables):
                    options.append(self._unknown(polarity))
                    continue
                regex = _arn_regex(value, self.alphabet)
                options.append(
                    self.alphabet.boolean(False) if regex is None else z3.InRe(slot.text, regex)
                )
            return self.alphabet.any_of(options)
        if family == "Ip" and mode == "ip":
            options = []
            for value in values:
                network = _network(value)
                if network is None:
                    options.append(self._unknown(polarity))
                else:
                    address, mask = network
                    options.append(z3.And(slot.is_ip, (slot.ip & mask) == address))
            return self.alphabet.any_of(options)
        if family == "Numeric" and mode == "numeric":
            return self._ordered(base, "Numeric", [_scaled(v) for v in values], slot, polarity)
        if family == "Date" and mode == "date":
            moments = [parse_epoch(v) for v in values]
            whole = [int(m) if m is not None and m == int(m) else None for m in moments]
            return self._ordered(base, "Date", whole, slot, polarity)
        return self._unknown(polarity)

    def _ordered(
        self, base: str, family: str, bounds: Sequence[int | None], slot: _Slot, polarity: bool
    ) -> Any:
        relation = base[len(family) :].replace("Not", "")
        options: list[Any] = []
        for bound in bounds:
            if bound is None:
                options.append(self._unknown(polarity))
                continue
            number = slot.number
            compare = {
                "Equals": number == bound,
                "LessThan": number < bound,
                "LessThanEquals": number <= bound,
                "GreaterThan": number > bound,
                "GreaterThanEquals": number >= bound,
            }[relation]
            options.append(z3.And(slot.is_number, compare))
        return self.alphabet.any_of(options)


def is_trust(policy: Policy) -> bool:
    return policy.kind is PolicyKind.TRUST


def slot_value(variable: KeyVariable, slot: _Slot, model: Any) -> str:
    """The concrete text of a slot in a model (for the witness request)."""
    if variable.mode == "ip":
        if not z3.is_true(model.eval(slot.is_ip, model_completion=True)):
            return "not-an-ip"
        return str(ipaddress.IPv4Address(model.eval(slot.ip, model_completion=True).as_long()))
    if variable.mode in ("numeric", "date"):
        if not z3.is_true(model.eval(slot.is_number, model_completion=True)):
            return "not-a-number"
        number = model.eval(slot.number, model_completion=True).as_long()
        if variable.mode == "date":
            return str(number)
        scaled = Decimal(number) / _NUMBER_SCALE
        return format(scaled.normalize(), "f")
    return str(model.eval(slot.text, model_completion=True).as_string())


def context_of(request: SymbolicRequest, model: Any) -> dict[str, Any]:
    """The request context of a model: every free key's active slot values."""
    context: dict[str, Any] = {}
    for key, variable in request.keys.items():
        if key in TIED_KEYS:
            continue
        values = [
            slot_value(variable, slot, model)
            for slot in variable.slots
            if z3.is_true(model.eval(slot.active, model_completion=True))
        ]
        if values:
            context[key] = values[0] if len(values) == 1 else values
    return context


def as_text(model: Any, term: Any) -> str:
    return str(model.eval(term, model_completion=True).as_string())


def as_int(model: Any, term: Any) -> int:
    return int(model.eval(term, model_completion=True).as_long())


def key_names(keys: Mapping[str, KeyVariable]) -> list[str]:
    return sorted(keys)
