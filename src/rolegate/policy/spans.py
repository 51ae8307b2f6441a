"""Where each statement of a policy document is in its JSON text.

Positions follow AWS's policy simulator: lines and columns count from 1, a statement starts
just after its `{` and ends just after its `}` (the one-line document of AWS's
`simulate-custom-policy` example, whose statement object is at offsets 36..165, is reported
as columns 38..167). Computed on demand from the text (`located` keeps every node's
offsets), so parsing a policy for the engine pays nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .located import LocatedArray, LocatedJsonError, LocatedObject, SourceMap, load_located

__all__ = ["SourcePosition", "SourceSpan", "statement_spans"]


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """A place in a policy's JSON text: line and column, both from 1 (characters)."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """A statement's place: `start` just after its `{`, `end` just after its `}`."""

    start: SourcePosition
    end: SourcePosition


def statement_spans(text: str) -> tuple[SourceSpan, ...]:
    """The span of every statement object, in document order (empty when there is none)."""
    try:
        root = load_located(text)
    except (LocatedJsonError, RecursionError):
        return ()
    member = root.get("Statement") if isinstance(root, LocatedObject) else None
    if member is None:
        return ()
    value = member.value
    if isinstance(value, LocatedObject):
        objects: list[LocatedObject] = [value]
    elif isinstance(value, LocatedArray):
        objects = [item for item in value.items if isinstance(item, LocatedObject)]
    else:
        return ()
    lines = SourceMap(text)

    def after(offset: int) -> SourcePosition:
        # `offset` is a brace's; the position after it, with the column counted from 1.
        position = lines.position(offset)
        return SourcePosition(position.line, position.column + 2)

    return tuple(SourceSpan(after(item.start), after(item.end - 1)) for item in objects)
