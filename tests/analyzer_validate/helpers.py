"""Helpers: policy texts and the exact locations AWS reports for a needle in them."""

from __future__ import annotations

import json
from typing import Any

from rolegate.analyzer.validate import validate_policy

__all__ = ["document", "findings", "location", "only", "position"]


def document(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {} if version is None else {"Version": version}
    body["Statement"] = list(statements)
    return json.dumps(body, indent=4)


def position(text: str, offset: int) -> dict[str, int]:
    """`line` from 1, `column` and `offset` from 0, counted here independently of rolegate."""
    line_start = text.rfind("\n", 0, offset) + 1
    return {
        "line": text.count("\n", 0, offset) + 1,
        "column": offset - line_start,
        "offset": offset,
    }


def location(text: str, needle: str, path: list[int | str], nth: int = 0) -> dict[str, Any]:
    """The location of the `nth` occurrence of `needle` (the element value's text)."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    return {
        "path": [{"index": part} if isinstance(part, int) else {"value": part} for part in path],
        "span": {"start": position(text, start), "end": position(text, start + len(needle))},
    }


def findings(
    text: str, policy_type: str = "IDENTITY_POLICY", resource: str | None = None
) -> list[Any]:
    return [finding.as_dict() for finding in validate_policy(text, policy_type, resource)]


def only(
    text: str, code: str, policy_type: str = "IDENTITY_POLICY", resource: str | None = None
) -> Any:
    """The one finding with `code`."""
    found = [item for item in findings(text, policy_type, resource) if item["issueCode"] == code]
    assert len(found) == 1, (code, findings(text, policy_type, resource))
    return found[0]
