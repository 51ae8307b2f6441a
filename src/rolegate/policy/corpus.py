"""The JSON test corpus: (policies, request, expected decision) cases any implementation runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PolicyValidationError
from .evaluate import ASSUME_ROLE_ACTIONS, Decision, Effect, PolicySet, evaluate
from .model import Policy, PolicyKind
from .parse import parse_policy
from .request import ContextValue, Principal, Request

__all__ = [
    "CaseResult",
    "CorpusCase",
    "CorpusError",
    "build_case",
    "evaluate_case",
    "load_corpus",
    "run_corpus",
]


class CorpusError(ValueError):
    """A corpus file or case that cannot be read (not a failing case)."""


@dataclass(frozen=True, slots=True)
class CorpusCase:
    name: str
    request: Request
    policies: PolicySet
    expect: Effect | None


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: CorpusCase
    decision: Decision

    @property
    def passed(self) -> bool:
        return self.decision.effect is self.case.expect


def _policy(document: object, kind: PolicyKind, label: str) -> Policy:
    if not isinstance(document, Mapping):
        raise CorpusError(f"{label}: a policy document must be a JSON object")
    doc_id = document.get("Id")
    policy_id = doc_id if isinstance(doc_id, str) and doc_id else label
    try:
        return parse_policy(document, kind, policy_id=policy_id, max_size=0)
    except PolicyValidationError as error:
        raise CorpusError(f"{label}: invalid policy: {error.aws_message()}") from error


def _policy_list(value: object, kind: PolicyKind, label: str) -> list[Policy]:
    if not isinstance(value, list):
        raise CorpusError(f"{label}: must be a list of policy documents")
    return [_policy(doc, kind, f"{label}[{index}]") for index, doc in enumerate(value)]


def _context(value: object, name: str) -> dict[str, ContextValue]:
    if not isinstance(value, Mapping):
        raise CorpusError(f"{name}: context must be an object")
    result: dict[str, ContextValue] = {}
    for key, item in value.items():
        if isinstance(item, str | bool | int | float):
            result[key] = item
        elif isinstance(item, list) and all(isinstance(v, str | bool | int | float) for v in item):
            result[key] = list(item)
        else:
            raise CorpusError(f"{name}: context value of {key} must be a string or list")
    return result


def build_case(raw: Mapping[str, Any], default_name: str = "case") -> CorpusCase:
    """Turn one JSON case into a request and a compiled policy set."""
    name = raw.get("name", default_name)
    if not isinstance(name, str):
        raise CorpusError(f"{default_name}: name must be a string")
    principal_raw = raw.get("principal")
    if not isinstance(principal_raw, Mapping) or not isinstance(principal_raw.get("arn"), str):
        raise CorpusError(f"{name}: principal.arn is required")
    tags = principal_raw.get("tags") or {}
    if not isinstance(tags, Mapping) or not all(isinstance(v, str) for v in tags.values()):
        raise CorpusError(f"{name}: principal.tags must map strings to strings")
    principal = Principal(
        principal_raw["arn"],
        role_arn=principal_raw.get("role_arn"),
        unique_id=principal_raw.get("id"),
        tags=tags,
    )
    action, resource = raw.get("action"), raw.get("resource")
    if not isinstance(action, str) or not isinstance(resource, str):
        raise CorpusError(f"{name}: action and resource must be strings")
    resource_account = raw.get("resource_account")
    if resource_account is not None and not isinstance(resource_account, str):
        raise CorpusError(f"{name}: resource_account must be a string")
    request = Request(
        principal,
        action,
        resource,
        context=_context(raw.get("context") or {}, name),
        resource_account=resource_account,
    )
    policies_raw = raw.get("policies") or {}
    if not isinstance(policies_raw, Mapping):
        raise CorpusError(f"{name}: policies must be an object")
    unknown = set(policies_raw) - {"identity", "resource", "boundary", "session", "scp"}
    if unknown:
        raise CorpusError(f"{name}: unknown policy kinds {sorted(unknown)}")
    resource_kind = (
        PolicyKind.TRUST
        if action.lower() in ASSUME_ROLE_ACTIONS and ":role/" in resource
        else PolicyKind.RESOURCE
    )
    scp_raw = policies_raw.get("scp", [])
    if not isinstance(scp_raw, list):
        raise CorpusError(f"{name}: scp must be a list of levels")
    policies = PolicySet(
        identity=_policy_list(policies_raw.get("identity", []), PolicyKind.IDENTITY, "identity"),
        resource=(
            _policy(policies_raw["resource"], resource_kind, "resource")
            if policies_raw.get("resource") is not None
            else None
        ),
        boundary=(
            _policy(policies_raw["boundary"], PolicyKind.BOUNDARY, "boundary")
            if policies_raw.get("boundary") is not None
            else None
        ),
        session=_policy_list(policies_raw.get("session", []), PolicyKind.SESSION, "session"),
        scp=[
            _policy_list(level, PolicyKind.SCP, f"scp[{index}]")
            for index, level in enumerate(scp_raw)
        ],
    )
    expect_raw = raw.get("expect")
    expect = None
    if expect_raw is not None:
        try:
            expect = Effect(expect_raw)
        except ValueError as error:
            raise CorpusError(
                f"{name}: expect must be Allow, ExplicitDeny or ImplicitDeny"
            ) from error
    return CorpusCase(name, request, policies, expect)


def evaluate_case(raw: Mapping[str, Any]) -> Decision:
    """Evaluate one JSON case (its `expect` is ignored)."""
    case = build_case(raw)
    return evaluate(case.request, case.policies)


def load_corpus(path: str | Path) -> list[CorpusCase]:
    """Read a corpus file; `CorpusError` says why it cannot be used."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CorpusError(f"{path}: cannot read: {error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorpusError(f"{path}: not JSON: {error}") from error
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, list):
        raise CorpusError(f'{path}: expected an object {{"cases": [...]}}')
    built: list[CorpusCase] = []
    for index, raw in enumerate(cases):
        if not isinstance(raw, Mapping):
            raise CorpusError(f"{path}: case {index} is not an object")
        try:
            case = build_case(raw, f"case {index}")
        except CorpusError as error:
            raise CorpusError(f"{path}: {error}") from error
        if case.expect is None:
            raise CorpusError(f"{path}: {case.name}: expect is required")
        built.append(case)
    return built


def run_corpus(cases: Sequence[CorpusCase]) -> list[CaseResult]:
    return [CaseResult(case, evaluate(case.request, case.policies)) for case in cases]
