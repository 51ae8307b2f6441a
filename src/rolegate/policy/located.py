"""JSON read with the source span of every value and object key.

`json.loads` forgets where things were; policy checks that point at the offending text (IAM
Access Analyzer's `locations`, the simulator's statement positions) need each node's start and
end offsets. `load_located` reads standard JSON (RFC 8259; no NaN / Infinity) into a small tree
of `LocatedObject` / `LocatedArray` / `LocatedScalar`, keeping object members in order and
duplicate keys (the last one wins in `LocatedObject.get` and `plain`, as in `json.loads`).
Strings are decoded by the standard library's own scanner, so escapes and error messages match
`json.loads`.
"""

from __future__ import annotations

import bisect
import json.decoder
import json.scanner
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "LocatedArray",
    "LocatedJsonError",
    "LocatedMember",
    "LocatedNode",
    "LocatedObject",
    "LocatedScalar",
    "Position",
    "SourceMap",
    "load_located",
    "plain",
]

_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_NUMBER: Final = json.scanner.NUMBER_RE
_LITERALS: Final = (("true", True), ("false", False), ("null", None))
_MAX_DEPTH: Final = 64
# The C string scanner behind `json.loads` (typeshed does not declare it).
_SCANSTRING: Final[Callable[[str, int, bool], tuple[str, int]]] = json.decoder.__dict__[
    "scanstring"
]

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class LocatedScalar:
    value: Scalar
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class LocatedMember:
    key: str
    key_start: int
    key_end: int
    value: LocatedNode


@dataclass(frozen=True, slots=True)
class LocatedObject:
    members: tuple[LocatedMember, ...]
    start: int
    end: int

    def get(self, key: str) -> LocatedMember | None:
        """The last member named exactly `key` (what `json.loads` keeps)."""
        for member in reversed(self.members):
            if member.key == key:
                return member
        return None


@dataclass(frozen=True, slots=True)
class LocatedArray:
    items: tuple[LocatedNode, ...]
    start: int
    end: int


LocatedNode = LocatedScalar | LocatedObject | LocatedArray


class LocatedJsonError(ValueError):
    """The text is not JSON; `offset` is where reading failed."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (char {offset})")
        self.message = message
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Position:
    """`line` from 1, `column` and `offset` from 0 (characters)."""

    line: int
    column: int
    offset: int


class SourceMap:
    """Turns character offsets of one text into line / column positions."""

    def __init__(self, text: str) -> None:
        self._line_starts = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", text)]

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self._line_starts, offset)
        return Position(line, offset - self._line_starts[line - 1], offset)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text

    def skip(self, index: int) -> int:
        match = _WHITESPACE.match(self.text, index)
        return match.end() if match else index

    def value(self, index: int, depth: int) -> tuple[LocatedNode, int]:
        text = self.text
        if depth > _MAX_DEPTH:
            raise LocatedJsonError("Nesting too deep", index)
        if index >= len(text):
            raise LocatedJsonError("Expecting value", index)
        char = text[index]
        if char == "{":
            return self.object(index, depth)
        if char == "[":
            return self.array(index, depth)
        if char == '"':
            string, end = self.string(index)
            return LocatedScalar(string, index, end), end
        for word, literal in _LITERALS:
            if text.startswith(word, index):
                return LocatedScalar(literal, index, index + len(word)), index + len(word)
        match = _NUMBER.match(text, index)
        if match is None:
            raise LocatedJsonError("Expecting value", index)
        integer, fraction, exponent = match.groups()
        number: int | float = (
            float(integer + (fraction or "") + (exponent or ""))
            if fraction or exponent
            else int(integer)
        )
        return LocatedScalar(number, index, match.end()), match.end()

    def string(self, index: int) -> tuple[str, int]:
        try:
            return _SCANSTRING(self.text, index + 1, True)
        except json.JSONDecodeError as error:
            raise LocatedJsonError(error.msg, error.pos) from None

    def object(self, start: int, depth: int) -> tuple[LocatedObject, int]:
        text = self.text
        members: list[LocatedMember] = []
        index = self.skip(start + 1)
        if text.startswith("}", index):
            return LocatedObject((), start, index + 1), index + 1
        while True:
            if not text.startswith('"', index):
                raise LocatedJsonError("Expecting property name enclosed in double quotes", index)
            key, key_end = self.string(index)
            colon = self.skip(key_end)
            if not text.startswith(":", colon):
                raise LocatedJsonError("Expecting ':' delimiter", colon)
            value, end = self.value(self.skip(colon + 1), depth + 1)
            members.append(LocatedMember(key, index, key_end, value))
            index = self.skip(end)
            if text.startswith("}", index):
                return LocatedObject(tuple(members), start, index + 1), index + 1
            if not text.startswith(",", index):
                raise LocatedJsonError("Expecting ',' delimiter", index)
            index = self.skip(index + 1)

    def array(self, start: int, depth: int) -> tuple[LocatedArray, int]:
        text = self.text
        items: list[LocatedNode] = []
        index = self.skip(start + 1)
        if text.startswith("]", index):
            return LocatedArray((), start, index + 1), index + 1
        while True:
            value, end = self.value(index, depth + 1)
            items.append(value)
            index = self.skip(end)
            if text.startswith("]", index):
                return LocatedArray(tuple(items), start, index + 1), index + 1
            if not text.startswith(",", index):
                raise LocatedJsonError("Expecting ',' delimiter", index)
            index = self.skip(index + 1)


def load_located(text: str) -> LocatedNode:
    """Read one JSON document; raise `LocatedJsonError` where it stops being JSON."""
    reader = _Reader(text)
    node, end = reader.value(reader.skip(0), 0)
    end = reader.skip(end)
    if end != len(text):
        raise LocatedJsonError("Extra data", end)
    return node


def plain(node: LocatedNode) -> object:
    """The value `json.loads` would have returned for `node`."""
    if isinstance(node, LocatedScalar):
        return node.value
    if isinstance(node, LocatedArray):
        return [plain(item) for item in node.items]
    return {member.key: plain(member.value) for member in node.members}
