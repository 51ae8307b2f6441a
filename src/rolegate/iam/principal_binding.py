"""Trust policies are bound to principals' unique ids, not to their names.

When a trust policy is stored, every `Principal` / `NotPrincipal` `AWS` value naming an IAM
user or role of an account in this store (`arn:aws:iam::A:user/<path>name`,
`arn:aws:iam::A:role/<path>name`) is replaced by that principal's unique id (`AIDA...` /
`AROA...`). The policy engine matches a unique id against the caller's `unique_id`, so the
trust keeps naming the principal it named when it was written: a user deleted and recreated
under the same name (a new id) is no longer trusted. For display the ids are rendered back to
the principals' current ARNs; the id of a deleted principal stays as the bare id, which is
what AWS shows.

Only the string values are rewritten, in place: the rest of the document (formatting, key
order, the same ARN used in a `Condition`) is kept exactly as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import bindparam, select

from ..errors import MalformedPolicyDocument
from ..ids import ROLE_ID_PREFIX, USER_ID_PREFIX, iam_arn
from ..store.database import UnitOfWork
from ..store.schema import accounts, roles, users
from .common import find_named

__all__ = ["bind_principals", "principal_values", "render_principals"]

# arn:aws:iam::A:user/<path>name: group 3 is the path ("/" or "/a/b/"), group 4 the name.
_PRINCIPAL_ARN: Final = re.compile(r"^arn:aws:iam::(\d{12}):(user|role)(/(?:.*/)?)([^/]+)$")
_BOUND_ID: Final = re.compile(rf"^({USER_ID_PREFIX}|{ROLE_ID_PREFIX})[A-Z0-9]{{17}}$")
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# What Python's json accepts besides strings, objects and arrays (NaN and Infinity included).
_LITERAL: Final = re.compile(
    r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity"
)
_PRINCIPAL_KEYS: Final = ("Principal", "NotPrincipal")

# (start, end) of a JSON string literal (quotes included) and its decoded value.
_Span = tuple[int, int, str]


class _Scanner:
    """Walks valid JSON text, reporting every string value with its path and span."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.found: list[tuple[tuple[str | int, ...], _Span]] = []

    def string(self, pos: int) -> tuple[str, int]:
        """The decoded JSON string starting at `pos` (its opening quote) and its end."""
        match = _STRING.match(self.text, pos)
        if match is None:
            raise ValueError(f"expected a string at {pos}")
        decoded = json.loads(match.group())
        if not isinstance(decoded, str):
            raise ValueError(f"expected a string at {pos}")
        return decoded, match.end()

    def skip(self, pos: int) -> int:
        match = _WHITESPACE.match(self.text, pos)
        return match.end() if match is not None else pos

    def value(self, pos: int, path: tuple[str | int, ...]) -> int:
        text = self.text
        pos = self.skip(pos)
        char = text[pos]
        if char == '"':
            decoded, end = self.string(pos)
            self.found.append((path, (pos, end, decoded)))
            return end
        if char == "{":
            return self.members(pos + 1, path)
        if char == "[":
            return self.items(pos + 1, path)
        literal = _LITERAL.match(text, pos)
        if literal is None:
            raise ValueError(f"unexpected character {char!r} at {pos}")
        return literal.end()

    def members(self, pos: int, path: tuple[str | int, ...]) -> int:
        text = self.text
        pos = self.skip(pos)
        if text[pos] == "}":
            return pos + 1
        while True:
            pos = self.skip(pos)
            key, pos = self.string(pos)
            pos = self.skip(pos)
            if text[pos] != ":":
                raise ValueError(f"expected ':' at {pos}")
            pos = self.skip(self.value(pos + 1, (*path, key)))
            if text[pos] == "}":
                return pos + 1
            if text[pos] != ",":
                raise ValueError(f"expected ',' or '}}' at {pos}")
            pos += 1

    def items(self, pos: int, path: tuple[str | int, ...]) -> int:
        text = self.text
        pos = self.skip(pos)
        if text[pos] == "]":
            return pos + 1
        index = 0
        while True:
            pos = self.skip(self.value(pos, (*path, index)))
            if text[pos] == "]":
                return pos + 1
            if text[pos] != ",":
                raise ValueError(f"expected ',' or ']' at {pos}")
            pos += 1
            index += 1


def _is_aws_principal(path: tuple[str | int, ...]) -> bool:
    """Statement[/i]/(Principal|NotPrincipal)/AWS[/j]."""
    if not path or path[0] != "Statement":
        return False
    rest = path[1:]
    if rest and isinstance(rest[0], int):
        rest = rest[1:]
    if len(rest) == 3 and isinstance(rest[2], int):
        rest = rest[:2]
    return len(rest) == 2 and rest[0] in _PRINCIPAL_KEYS and rest[1] == "AWS"


def _aws_principal_spans(text: str) -> list[_Span]:
    """The `AWS` principal string values of a policy document (valid JSON), in order."""
    scanner = _Scanner(text)
    end = scanner.skip(scanner.value(0, ()))
    if end != len(text):
        raise ValueError(f"extra data at {end}")
    return [span for path, span in scanner.found if _is_aws_principal(path)]


def principal_values(text: str) -> list[str]:
    """Every `AWS` value in the `Principal` / `NotPrincipal` elements of a document."""
    return [value for _, _, value in _aws_principal_spans(text)]


def _rewrite(text: str, replace: Callable[[str], str]) -> str:
    pieces: list[str] = []
    last = 0
    for start, end, value in _aws_principal_spans(text):
        new = replace(value)
        if new != value:
            pieces += (text[last:start], json.dumps(new))
            last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _account_exists(uow: UnitOfWork, account_id: str) -> bool:
    row = uow.connection.execute(
        select(accounts.c.id).where(accounts.c.id == bindparam("account_id")),
        {"account_id": account_id},
    ).first()
    return row is not None


def bind_principals(uow: UnitOfWork, document_text: str) -> str:
    """The trust policy to store: user and role ARNs of this store become unique ids.

    The document must already be valid (`check_policy_document`). A user or role ARN of an
    account in this store that names no existing principal (or the wrong path) is refused
    with `MalformedPolicyDocument`, as AWS does. Account ids, root ARNs, `*`, service
    principals, session ARNs and ARNs of accounts not in this store stay as written.
    """
    known_accounts: dict[str, bool] = {}

    def bind(value: str) -> str:
        match = _PRINCIPAL_ARN.match(value)
        if match is None:
            return value
        account_id, kind, path, name = match.groups()
        if account_id not in known_accounts:
            known_accounts[account_id] = _account_exists(uow, account_id)
        if not known_accounts[account_id]:
            return value
        row = find_named(uow, users if kind == "user" else roles, account_id, name)
        if row is None or row.path != path:
            raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{value}"')
        return str(row.id)

    return _rewrite(document_text, bind)


def _current_arn(uow: UnitOfWork, unique_id: str) -> str | None:
    table = users if unique_id.startswith(USER_ID_PREFIX) else roles
    row: Any = uow.connection.execute(
        select(table.c.account_id, table.c.path, table.c.name).where(table.c.id == unique_id)
    ).first()
    if row is None:
        return None
    kind = "user" if table is users else "role"
    return iam_arn(row.account_id, kind, row.path, row.name)


def render_principals(
    uow: UnitOfWork, stored_text: str, cache: dict[str, str | None] | None = None
) -> str:
    """The stored trust policy for display: unique ids of existing principals become their
    current ARNs; ids of deleted principals stay as the bare id.

    `cache` (unique id -> ARN or None) may be shared by the calls of one request.
    """
    known = {} if cache is None else cache

    def render(value: str) -> str:
        if _BOUND_ID.match(value) is None:
            return value
        if value not in known:
            known[value] = _current_arn(uow, value)
        return known[value] or value

    try:
        return _rewrite(stored_text, render)
    except (ValueError, IndexError):
        # Not a JSON document (never stored by this module): show it as it is.
        return stored_text
