"""Finding filters (ListFindings `filter`, archive rules): AWS's filter keys and Criterion.

A filter maps a key (`resource`, `resourceType`, `isPublic`, `principal.AWS`,
`condition.aws:SourceIp`...) to a Criterion: `eq` (one of the values), `neq` (none of them),
`contains` (a substring of one), `exists` (the key has a value). Every key must hold. Values
are strings: `isPublic` is matched with `"true"` / `"false"`. Condition keys are compared
case-insensitively, as IAM treats condition keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .errors import AnalyzerValidation

__all__ = ["ARCHIVE_EXCLUDED_KEYS", "check_archive_filter", "filter_values", "matches"]

# Archive rules cannot filter on these (they would archive by status or by id).
ARCHIVE_EXCLUDED_KEYS: Final = frozenset({"status", "id"})
_OPERATORS: Final = ("eq", "neq", "contains", "exists")


def filter_values(finding: Mapping[str, Any], key: str) -> list[str]:
    """The string values a finding (AWS's Finding shape) has for a filter key."""
    section, _, rest = key.partition(".")
    if rest and section in ("principal", "condition"):
        found = finding.get(section) or {}
        if section == "condition":
            wanted = rest.lower()
            return [str(v) for k, v in found.items() if k.lower() == wanted]
        return [str(found[rest])] if rest in found else []
    value = finding.get(key)
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _criterion_holds(values: list[str], criterion: Mapping[str, Any]) -> bool:
    if "eq" in criterion and not any(v in criterion["eq"] for v in values):
        return False
    if "neq" in criterion and any(v in criterion["neq"] for v in values):
        return False
    if "contains" in criterion and not any(
        part in v for v in values for part in criterion["contains"]
    ):
        return False
    return not ("exists" in criterion and bool(values) != bool(criterion["exists"]))


def matches(criteria: Mapping[str, Mapping[str, Any]], finding: Mapping[str, Any]) -> bool:
    """Does the finding satisfy every criterion of the filter?"""
    return all(
        _criterion_holds(filter_values(finding, key), criterion)
        for key, criterion in criteria.items()
    )


def check_archive_filter(criteria: Mapping[str, Mapping[str, Any]]) -> None:
    """An archive rule's filter: at least one key, no `status` / `id`, each with an operator."""
    if not criteria:
        raise AnalyzerValidation("The filter must contain at least one criterion.", "filter")
    for key, criterion in criteria.items():
        if key in ARCHIVE_EXCLUDED_KEYS:
            raise AnalyzerValidation(
                f"The filter key {key} is not supported in archive rules.", "filter"
            )
        if not any(op in criterion for op in _OPERATORS):
            raise AnalyzerValidation(
                f"The criterion for {key} must have eq, neq, contains or exists.", "filter"
            )
