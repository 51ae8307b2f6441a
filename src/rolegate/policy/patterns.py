"""Wildcard patterns (`*` any run, `?` one character) and policy-variable templates.

A pattern is compiled once into the cheapest matcher that fits it (equality, prefix, suffix,
or a regular expression compiled at policy-compile time). Templates that hold policy
variables are resolved per request and then matched by a small glob matcher that needs no
regular expression, so evaluation never compiles anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "QMARK",
    "STAR",
    "ArnTemplate",
    "Context",
    "Glob",
    "Template",
    "Token",
    "Variable",
    "glob_tokens_match",
    "parse_template",
]

Context = Mapping[str, tuple[str, ...]]


class _Wildcard:
    __slots__ = ("symbol",)

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def __repr__(self) -> str:
        return self.symbol


STAR: Final = _Wildcard("*")
QMARK: Final = _Wildcard("?")


@dataclass(frozen=True, slots=True)
class Variable:
    """`${key}` or `${key, 'default'}`; `key` is lowercased (key names are case-insensitive)."""

    key: str
    default: str | None = None


Token = str | _Wildcard | Variable

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s][^,]*?)\s*,\s*'([^']*)'\s*$")
_ESCAPES: Final = {"*": "*", "?": "?", "$": "$"}


def parse_template(text: str, *, variables: bool, wildcards: bool) -> tuple[Token, ...]:
    """Split `text` into literal runs, wildcards and variables.

    `variables` is false under policy Version 2008-10-17 (then `${...}` is literal);
    `wildcards` is false for operators that compare exactly.
    """
    tokens: list[Token] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            tokens.append("".join(literal))
            literal.clear()

    def add_text(chunk: str) -> None:
        if not wildcards:
            literal.append(chunk)
            return
        for char in chunk:
            if char == "*":
                flush()
                tokens.append(STAR)
            elif char == "?":
                flush()
                tokens.append(QMARK)
            else:
                literal.append(char)

    position = 0
    if variables:
        for found in _VARIABLE.finditer(text):
            add_text(text[position : found.start()])
            position = found.end()
            body = found.group(1)
            if body in _ESCAPES:
                literal.append(_ESCAPES[body])
                continue
            with_default = _DEFAULT.match(body)
            if with_default:
                flush()
                tokens.append(Variable(with_default.group(1).lower(), with_default.group(2)))
            else:
                flush()
                tokens.append(Variable(body.strip().lower()))
    add_text(text[position:])
    flush()
    return tuple(tokens)


def glob_tokens_match(tokens: list[str | _Wildcard], subject: str) -> bool:
    """Match resolved tokens against `subject` without regular expressions.

    Classic two-pointer glob matching with one backtrack point at the last star.
    """
    pattern: list[str | _Wildcard] = []
    for token in tokens:
        if isinstance(token, str):
            pattern.extend(token)
        else:
            pattern.append(token)
    p_index = s_index = 0
    star_at = -1
    star_subject = 0
    length = len(subject)
    while s_index < length:
        if p_index < len(pattern):
            item = pattern[p_index]
            if item is STAR:
                star_at = p_index
                star_subject = s_index
                p_index += 1
                continue
            if item is QMARK or item == subject[s_index]:
                p_index += 1
                s_index += 1
                continue
        if star_at < 0:
            return False
        star_subject += 1
        s_index = star_subject
        p_index = star_at + 1
    while p_index < len(pattern) and pattern[p_index] is STAR:
        p_index += 1
    return p_index == len(pattern)


def _constant_matcher(tokens: tuple[Token, ...]) -> Callable[[str], bool]:
    """The fastest matcher for a template without variables."""
    if not tokens:
        return lambda subject: subject == ""
    if all(isinstance(token, str) for token in tokens):
        literal = "".join(str(token) for token in tokens)
        return literal.__eq__
    if len(tokens) == 1 and tokens[0] is STAR:
        return lambda subject: True
    last = tokens[-1]
    head = tokens[:-1]
    if last is STAR and all(isinstance(token, str) for token in head):
        prefix = "".join(str(token) for token in head)
        return lambda subject: subject.startswith(prefix)
    first = tokens[0]
    tail = tokens[1:]
    if first is STAR and all(isinstance(token, str) for token in tail):
        suffix = "".join(str(token) for token in tail)
        return lambda subject: subject.endswith(suffix)
    parts: list[str] = []
    for token in tokens:
        if token is STAR:
            parts.append(".*")
        elif token is QMARK:
            parts.append(".")
        else:
            parts.append(re.escape(str(token)))
    compiled = re.compile("".join(parts), re.DOTALL)
    return lambda subject: compiled.fullmatch(subject) is not None


def _star_groups_match(groups: list[str], subject: str) -> bool:
    """Match `g0*g1*...*gn` (literal groups, no `?`) with string operations only."""
    first = groups[0]
    if len(groups) == 1:
        return subject == first
    last = groups[-1]
    if not subject.startswith(first) or not subject.endswith(last):
        return False
    position = len(first)
    end = len(subject) - len(last)
    if end < position:
        return False
    for middle in groups[1:-1]:
        found = subject.find(middle, position, end)
        if found < 0:
            return False
        position = found + len(middle)
    return True


def _literal_matcher(tokens: list[str | _Wildcard]) -> Callable[[str], bool]:
    """A matcher for tokens whose variables are already substituted; never a regex."""
    merged: list[str | _Wildcard] = []
    for token in tokens:
        if isinstance(token, str) and merged and isinstance(merged[-1], str):
            merged[-1] += token
        elif token != "":
            merged.append(token)
    if not any(token is STAR or token is QMARK for token in merged):
        return "".join(str(token) for token in merged).__eq__
    if any(token is QMARK for token in merged):
        return lambda subject: glob_tokens_match(merged, subject)
    groups = [""]
    for token in merged:
        if token is STAR:
            groups.append("")
        else:
            groups[-1] += str(token)
    return lambda subject: _star_groups_match(groups, subject)


_RESOLVED_CACHE_LIMIT: Final = 512


class Template:
    """A compiled string that may hold wildcards and policy variables.

    Without variables it is compiled once into the cheapest matcher. With variables, the
    matcher for each combination of variable values is built on first use (string operations
    only, no regular expression) and kept in a small per-template cache.
    """

    __slots__ = ("_match", "_resolved", "_variables", "has_variables", "source", "tokens")

    def __init__(
        self,
        source: str,
        *,
        variables: bool,
        wildcards: bool,
        fold_case: bool = False,
    ) -> None:
        self.source = source
        text = source.lower() if fold_case else source
        self.tokens = parse_template(text, variables=variables, wildcards=wildcards)
        found = [token for token in self.tokens if isinstance(token, Variable)]
        self._variables: tuple[Variable, ...] = tuple(dict.fromkeys(found))
        self.has_variables = bool(self._variables)
        self._match: Callable[[str], bool] | None = (
            None if self.has_variables else _constant_matcher(self.tokens)
        )
        self._resolved: dict[tuple[str, ...], Callable[[str], bool]] = {}

    @property
    def constant_matcher(self) -> Callable[[str], bool] | None:
        """The matcher when the template has no variables, else None."""
        return self._match

    def _values(self, context: Context) -> tuple[str, ...] | None:
        values: list[str] = []
        for variable in self._variables:
            found = context.get(variable.key)
            if found is not None and len(found) == 1:
                values.append(found[0])
            elif found is None and variable.default is not None:
                values.append(variable.default)
            else:
                return None
        return tuple(values)

    def _substituted(self, values: tuple[str, ...]) -> list[str | _Wildcard]:
        by_variable = dict(zip(self._variables, values, strict=True))
        return [by_variable[t] if isinstance(t, Variable) else t for t in self.tokens]

    def matches(self, subject: str, context: Context) -> bool:
        """True when `subject` matches; an unresolved variable matches nothing."""
        if self._match is not None:
            return self._match(subject)
        values = self._values(context)
        if values is None:
            return False
        matcher = self._resolved.get(values)
        if matcher is None:
            if len(self._resolved) >= _RESOLVED_CACHE_LIMIT:
                self._resolved.clear()
            matcher = _literal_matcher(self._substituted(values))
            self._resolved[values] = matcher
        return matcher(subject)

    def resolve(self, context: Context) -> str | None:
        """The literal text with variables substituted (wildcards kept as text)."""
        values = self._values(context)
        if values is None:
            return None
        return "".join(
            token if isinstance(token, str) else token.symbol for token in self._substituted(values)
        )

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def _arn_field_matchers(tokens: list[str | _Wildcard]) -> list[Callable[[str], bool]] | None:
    """Matchers for the six colon-separated fields (the last keeps any further colons)."""
    fields: list[list[str | _Wildcard]] = [[]]
    for token in tokens:
        if not isinstance(token, str):
            fields[-1].append(token)
            continue
        rest = token
        while len(fields) < 6 and ":" in rest:
            head, rest = rest.split(":", 1)
            fields[-1].append(head)
            fields.append([])
        fields[-1].append(rest)
    if len(fields) != 6:
        return None
    return [_literal_matcher(field) for field in fields]


class ArnTemplate:
    """An ARN pattern matched field by field (ArnLike); variables are substituted first."""

    __slots__ = ("_constant", "_resolved", "_template")

    def __init__(self, source: str, *, variables: bool) -> None:
        self._template = Template(source, variables=variables, wildcards=True)
        self._constant: list[Callable[[str], bool]] | None = None
        if not self._template.has_variables:
            tokens: list[str | _Wildcard] = [
                token for token in self._template.tokens if not isinstance(token, Variable)
            ]
            self._constant = _arn_field_matchers(tokens)
        self._resolved: dict[tuple[str, ...], list[Callable[[str], bool]] | None] = {}

    def matches(self, fields: list[str], context: Context) -> bool:
        """`fields` are the six fields of the request's ARN."""
        matchers = self._constant
        if matchers is None:
            if not self._template.has_variables:
                return False
            values = self._template._values(context)
            if values is None:
                return False
            if values in self._resolved:
                matchers = self._resolved[values]
            else:
                if len(self._resolved) >= _RESOLVED_CACHE_LIMIT:
                    self._resolved.clear()
                matchers = _arn_field_matchers(self._template._substituted(values))
                self._resolved[values] = matchers
            if matchers is None:
                return False
        return all(match(field) for match, field in zip(matchers, fields, strict=True))


class Glob:
    """A wildcard pattern without variables (actions are matched with these)."""

    __slots__ = ("_match", "source")

    def __init__(self, source: str, *, fold_case: bool) -> None:
        self.source = source
        text = source.lower() if fold_case else source
        self._match = _constant_matcher(parse_template(text, variables=False, wildcards=True))

    def matches(self, subject: str) -> bool:
        return self._match(subject)

    def __repr__(self) -> str:
        return f"Glob({self.source!r})"
