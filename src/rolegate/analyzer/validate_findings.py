"""ValidatePolicy findings, shaped like the accessanalyzer model's `ValidatePolicyFinding`.

A location names a policy element by path (an object key is a `{"value": key}` element, as
AWS writes it, an array position an `{"index": n}`) and spans the text of the element's value:
`line` from 1, `column` and `offset` from 0, the end exclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..policy.located import LocatedNode, Position, SourceMap

__all__ = [
    "ERROR",
    "SECURITY_WARNING",
    "SUGGESTION",
    "WARNING",
    "Finding",
    "FindingSink",
    "Location",
    "Path",
    "Spot",
]

ERROR: Final = "ERROR"
SECURITY_WARNING: Final = "SECURITY_WARNING"
WARNING: Final = "WARNING"
SUGGESTION: Final = "SUGGESTION"

_ANCHOR_KIND: Final = {
    ERROR: "error",
    SECURITY_WARNING: "security-warning",
    WARNING: "general-warning",
    SUGGESTION: "suggestion",
}
_LEARN_MORE: Final = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
    "#access-analyzer-reference-policy-checks-"
)

Path = tuple[int | str, ...]


def _position(position: Position) -> dict[str, int]:
    return {"line": position.line, "column": position.column, "offset": position.offset}


@dataclass(frozen=True, slots=True)
class Location:
    path: Path
    start: Position
    end: Position

    def as_dict(self) -> dict[str, Any]:
        path = [{"index": part} if isinstance(part, int) else {"value": part} for part in self.path]
        return {"path": path, "span": {"start": _position(self.start), "end": _position(self.end)}}


@dataclass(frozen=True, slots=True)
class Finding:
    finding_type: str
    issue_code: str
    details: str
    locations: tuple[Location, ...]

    @property
    def learn_more_link(self) -> str:
        anchor = self.issue_code.lower().replace("_", "-")
        return f"{_LEARN_MORE}{_ANCHOR_KIND[self.finding_type]}-{anchor}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "findingDetails": self.details,
            "findingType": self.finding_type,
            "issueCode": self.issue_code,
            "learnMoreLink": self.learn_more_link,
            "locations": [location.as_dict() for location in self.locations],
        }


@dataclass(frozen=True, slots=True)
class Spot:
    """A policy element: where it is in the tree and which text is its value."""

    path: Path
    node: LocatedNode


class FindingSink:
    """Collects the findings of one document, in the order of their first location."""

    def __init__(self, text: str) -> None:
        self._source = SourceMap(text)
        self._found: list[tuple[int, int, Finding]] = []

    def location(self, path: Path, start: int, end: int) -> Location:
        return Location(path, self._source.position(start), self._source.position(end))

    def at(self, spot: Spot) -> Location:
        return self.location(spot.path, spot.node.start, spot.node.end)

    def add(self, finding_type: str, code: str, details: str, spots: Sequence[Spot]) -> None:
        locations = tuple(self.at(spot) for spot in spots)
        first = locations[0].start.offset if locations else 0
        self._found.append(
            (first, len(self._found), Finding(finding_type, code, details, locations))
        )

    def add_at(self, finding_type: str, code: str, details: str, location: Location) -> None:
        finding = Finding(finding_type, code, details, (location,))
        self._found.append((location.start.offset, len(self._found), finding))

    def findings(self) -> list[Finding]:
        return [finding for _, _, finding in sorted(self._found, key=lambda item: item[:2])]
