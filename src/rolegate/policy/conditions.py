"""Condition operators: parsing of operator names and compilation of condition blocks.

Every operator is compiled into a `ValueTest` (does one request value satisfy the operator
against the policy values?). Set qualifiers, `IfExists`, negation and the absent-key rules
are applied uniformly on top, so each rule lives in exactly one place.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Final

from .patterns import ArnTemplate, Context, Template

__all__ = [
    "OPERATOR_FAMILIES",
    "CompiledCondition",
    "OperatorSpec",
    "SetQualifier",
    "compile_condition",
    "parse_epoch",
    "parse_operator",
]

ValueTest = Callable[[str, Context], bool]


class SetQualifier(Enum):
    NONE = "none"
    FOR_ALL_VALUES = "ForAllValues"
    FOR_ANY_VALUE = "ForAnyValue"


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """A parsed operator name such as `ForAnyValue:StringNotLikeIfExists`."""

    name: str
    base: str
    qualifier: SetQualifier
    if_exists: bool
    negated: bool
    family: str


# base operator -> (family, negated, positive counterpart)
_BASE_OPERATORS: Final[dict[str, tuple[str, bool, str]]] = {
    "StringEquals": ("String", False, "StringEquals"),
    "StringNotEquals": ("String", True, "StringEquals"),
    "StringEqualsIgnoreCase": ("String", False, "StringEqualsIgnoreCase"),
    "StringNotEqualsIgnoreCase": ("String", True, "StringEqualsIgnoreCase"),
    "StringLike": ("String", False, "StringLike"),
    "StringNotLike": ("String", True, "StringLike"),
    "NumericEquals": ("Numeric", False, "NumericEquals"),
    "NumericNotEquals": ("Numeric", True, "NumericEquals"),
    "NumericLessThan": ("Numeric", False, "NumericLessThan"),
    "NumericLessThanEquals": ("Numeric", False, "NumericLessThanEquals"),
    "NumericGreaterThan": ("Numeric", False, "NumericGreaterThan"),
    "NumericGreaterThanEquals": ("Numeric", False, "NumericGreaterThanEquals"),
    "DateEquals": ("Date", False, "DateEquals"),
    "DateNotEquals": ("Date", True, "DateEquals"),
    "DateLessThan": ("Date", False, "DateLessThan"),
    "DateLessThanEquals": ("Date", False, "DateLessThanEquals"),
    "DateGreaterThan": ("Date", False, "DateGreaterThan"),
    "DateGreaterThanEquals": ("Date", False, "DateGreaterThanEquals"),
    "Bool": ("Bool", False, "Bool"),
    "BinaryEquals": ("Binary", False, "BinaryEquals"),
    "IpAddress": ("Ip", False, "IpAddress"),
    "NotIpAddress": ("Ip", True, "IpAddress"),
    "ArnEquals": ("Arn", False, "ArnLike"),
    "ArnLike": ("Arn", False, "ArnLike"),
    "ArnNotEquals": ("Arn", True, "ArnLike"),
    "ArnNotLike": ("Arn", True, "ArnLike"),
    "Null": ("Null", False, "Null"),
}

OPERATOR_FAMILIES: Final = frozenset(family for family, _, _ in _BASE_OPERATORS.values())
_VARIABLE_FAMILIES: Final = frozenset({"String", "Arn", "Bool"})


def parse_operator(name: str) -> OperatorSpec | str:
    """Parse an operator name; return an error message when it is not one."""
    qualifier = SetQualifier.NONE
    rest = name
    for candidate in (SetQualifier.FOR_ALL_VALUES, SetQualifier.FOR_ANY_VALUE):
        prefix = candidate.value + ":"
        if rest.startswith(prefix):
            qualifier = candidate
            rest = rest[len(prefix) :]
            break
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    if base not in _BASE_OPERATORS:
        return f"Invalid Condition type : {name}"
    family, negated, _ = _BASE_OPERATORS[base]
    if family == "Null" and (if_exists or qualifier is not SetQualifier.NONE):
        return f"Invalid Condition type : {name} (Null takes no IfExists or set qualifier)"
    return OperatorSpec(name, base, qualifier, if_exists, negated, family)


# ---------------------------------------------------------------- value parsing


_DECIMAL: Final = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")


@lru_cache(maxsize=4096)
def _parse_decimal(text: str) -> Decimal | None:
    """A plain decimal number (sign, digits, optional fraction); anything else never matches."""
    return Decimal(text) if _DECIMAL.match(text) else None


@lru_cache(maxsize=4096)
def parse_epoch(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 date/date-time or whole epoch seconds."""
    if text.isascii() and text.isdigit():
        return float(int(text))
    if not text:
        return None
    candidate = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _decode_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


_IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_network(text: str) -> _IpNetwork | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _split_arn(text: str) -> list[str] | None:
    fields = text.split(":", 5)
    return fields if len(fields) == 6 else None


# ---------------------------------------------------------------- value tests

_ORDERINGS: Final[dict[str, Callable[[Decimal | float, Decimal | float], bool]]] = {
    "Equals": lambda request, policy: request == policy,
    "LessThan": lambda request, policy: request < policy,
    "LessThanEquals": lambda request, policy: request <= policy,
    "GreaterThan": lambda request, policy: request > policy,
    "GreaterThanEquals": lambda request, policy: request >= policy,
}


def _ordering_for(positive: str, family: str) -> Callable[[Decimal | float, Decimal | float], bool]:
    return _ORDERINGS[positive[len(family) :]]


def _string_test(positive: str, templates: Sequence[Template]) -> ValueTest:
    if positive == "StringEqualsIgnoreCase":
        if not any(template.has_variables for template in templates):
            folded = frozenset(template.source.casefold() for template in templates)
            return lambda value, context: value.casefold() in folded

        def ignore_case(value: str, context: Context) -> bool:
            folded_value = value.casefold()
            for template in templates:
                resolved = template.resolve(context)
                if resolved is not None and resolved.casefold() == folded_value:
                    return True
            return False

        return ignore_case
    if positive == "StringEquals" and not any(t.has_variables for t in templates):
        exact = frozenset(template.source for template in templates)
        return lambda value, context: value in exact
    return lambda value, context: any(t.matches(value, context) for t in templates)


def _compile_value_test(
    spec: OperatorSpec, raw_values: Sequence[str], variables: bool
) -> ValueTest:
    _, _, positive = _BASE_OPERATORS[spec.base]
    family = spec.family
    use_variables = variables and family in _VARIABLE_FAMILIES
    if family == "String":
        like = positive == "StringLike"
        templates = [Template(v, variables=use_variables, wildcards=like) for v in raw_values]
        return _string_test(positive, templates)
    if family == "Numeric":
        numbers = [n for n in (_parse_decimal(v) for v in raw_values) if n is not None]
        numeric_order = _ordering_for(positive, family)

        def numeric(value: str, context: Context) -> bool:
            number = _parse_decimal(value)
            return number is not None and any(numeric_order(number, n) for n in numbers)

        return numeric
    if family == "Date":
        moments = [m for m in (parse_epoch(v) for v in raw_values) if m is not None]
        date_order = _ordering_for(positive, family)

        def date(value: str, context: Context) -> bool:
            moment = parse_epoch(value)
            return moment is not None and any(date_order(moment, m) for m in moments)

        return date
    if family == "Bool":
        templates = [Template(v, variables=use_variables, wildcards=False) for v in raw_values]
        if not any(template.has_variables for template in templates):
            wanted = frozenset(v.lower() for v in raw_values) & {"true", "false"}
            return lambda value, context: value.lower() in wanted

        def boolean(value: str, context: Context) -> bool:
            folded = value.lower()
            if folded not in ("true", "false"):
                return False
            for template in templates:
                resolved = template.resolve(context)
                if resolved is not None and resolved.lower() == folded:
                    return True
            return False

        return boolean
    if family == "Binary":
        blobs = [b for b in (_decode_base64(v) for v in raw_values) if b is not None]
        return lambda value, context: _decode_base64(value) in blobs
    if family == "Ip":
        networks = [n for n in (_parse_network(v) for v in raw_values) if n is not None]

        def ip(value: str, context: Context) -> bool:
            address = _parse_address(value)
            return address is not None and any(address in network for network in networks)

        return ip
    if family == "Arn":
        arn_patterns = [ArnTemplate(raw, variables=use_variables) for raw in raw_values]

        def arn(value: str, context: Context) -> bool:
            fields = _split_arn(value)
            if fields is None:
                return False
            return any(pattern.matches(fields, context) for pattern in arn_patterns)

        return arn
    raise AssertionError(f"unhandled operator family {family}")


# ---------------------------------------------------------------- one condition


class CompiledCondition:
    """One (operator, key, values) triple of a Condition block.

    The operator's shape is flattened into plain attributes at compile time: enum member
    lookups cost more than the test itself on the hot path.
    """

    __slots__ = (
        "_absent_result",
        "_for_all",
        "_for_any",
        "_negated",
        "_null_absent",
        "_null_present",
        "_test",
        "key",
        "spec",
        "values",
    )

    def __init__(self, spec: OperatorSpec, key: str, values: Sequence[str], variables: bool):
        self.spec = spec
        self.key = key.lower()
        self.values = tuple(values)
        self._test: ValueTest | None = None
        self._for_all = spec.qualifier is SetQualifier.FOR_ALL_VALUES
        self._for_any = spec.qualifier is SetQualifier.FOR_ANY_VALUE
        self._negated = spec.negated
        if spec.if_exists or self._for_all:
            self._absent_result = True
        elif self._for_any:
            self._absent_result = False
        else:
            self._absent_result = spec.negated
        lowered = {value.lower() for value in self.values}
        self._null_absent = "true" in lowered
        self._null_present = "false" in lowered
        if spec.family != "Null":
            self._test = _compile_value_test(spec, self.values, variables)

    def matches(self, context: Context) -> bool:
        present = context.get(self.key)
        test = self._test
        if test is None:  # Null
            return self._null_present if present else self._null_absent
        if not present:
            return self._absent_result
        if self._for_all:
            if self._negated:
                return all(not test(value, context) for value in present)
            return all(test(value, context) for value in present)
        if self._for_any:
            if self._negated:
                return any(not test(value, context) for value in present)
            return any(test(value, context) for value in present)
        if len(present) == 1:
            matched = test(present[0], context)
        else:
            matched = any(test(value, context) for value in present)
        return not matched if self._negated else matched

    def __repr__(self) -> str:
        return f"CompiledCondition({self.spec.name}, {self.key!r}, {self.values!r})"


def compile_condition(
    spec: OperatorSpec, key: str, values: Sequence[str], *, variables: bool
) -> CompiledCondition:
    return CompiledCondition(spec, key, values, variables)
