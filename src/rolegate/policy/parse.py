"""Parse and validate policy documents, reporting every problem with its JSON pointer."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

from .conditions import parse_operator
from .errors import LIMIT_EXCEEDED, PolicyIssue, PolicyValidationError, json_pointer
from .model import (
    VERSION_2008,
    VERSION_2012,
    ConditionEntry,
    Policy,
    PolicyKind,
    PrincipalSpec,
    Statement,
    StatementEffect,
    StatementRef,
)

__all__ = [
    "DEFAULT_SIZE_LIMITS",
    "STATEMENT_ELEMENTS",
    "TOP_LEVEL_ELEMENTS",
    "parse_policy",
    "policy_size",
    "validate_policy",
]

# Characters (whitespace not counted) per document, by kind: IAM managed policy 6144, trust
# 2048, session (inline Policy of AssumeRole) 2048, SCP 5120, S3 bucket policy 20 KB.
DEFAULT_SIZE_LIMITS: Final[Mapping[PolicyKind, int]] = {
    PolicyKind.IDENTITY: 6144,
    PolicyKind.BOUNDARY: 6144,
    PolicyKind.TRUST: 2048,
    PolicyKind.SESSION: 2048,
    PolicyKind.SCP: 5120,
    PolicyKind.RESOURCE: 20480,
}

TOP_LEVEL_ELEMENTS: Final = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS: Final = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_PRINCIPAL_TYPES: Final = ("AWS", "Service", "Federated", "CanonicalUser")
_ACTION: Final = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?_.-]+$")
_CONDITION_KEY: Final = re.compile(r"^[A-Za-z0-9-]+:\S+$")
_IAM_SID: Final = re.compile(r"^[A-Za-z0-9]*$")
_ACCOUNT_ID: Final = re.compile(r"^\d{12}$")
_UNIQUE_ID: Final = re.compile(r"^A[A-Z0-9]{15,127}$")
_AWS_PRINCIPAL_ARN: Final = re.compile(
    r"^arn:aws[a-z-]*:(iam::\d{12}:(root|user/.+|role/.+|federated-user/.+)"
    r"|sts::\d{12}:(assumed-role/[^/]+/.+|federated-user/.+))$"
)


class _DuplicateKeys(dict[str, object]):
    """A JSON object that remembers which of its keys appeared more than once."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, object]]) -> _DuplicateKeys:
    result = _DuplicateKeys()
    seen: set[str] = set()
    duplicates: list[str] = []
    for key, value in pairs:
        if key in seen:
            duplicates.append(key)
        seen.add(key)
        result[key] = value
    if duplicates:
        result.duplicates = tuple(duplicates)
    return result


def policy_size(text: str) -> int:
    """Characters counted against IAM quotas: whitespace is not counted."""
    return sum(1 for char in text if not char.isspace())


class _Validator:
    def __init__(self, kind: PolicyKind) -> None:
        self.kind = kind
        self.issues: list[PolicyIssue] = []

    def fail(self, message: str, *where: str | int) -> None:
        self.issues.append(PolicyIssue(json_pointer(*where), message))

    def check_duplicates(self, node: Mapping[str, object], *where: str | int) -> None:
        for key in getattr(node, "duplicates", ()):
            self.fail(f"Duplicate key '{key}'", *where, key)

    def strings(self, value: object, name: str, *where: str | int) -> tuple[str, ...] | None:
        """A string or a non-empty list of strings."""
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            if not value:
                self.fail(f"{name} must not be an empty list", *where)
                return None
            result: list[str] = []
            for index, item in enumerate(value):
                if not isinstance(item, str):
                    self.fail(f"{name} entries must be strings", *where, index)
                    return None
                result.append(item)
            return tuple(result)
        self.fail(f"{name} must be a string or a list of strings", *where)
        return None

    def actions(self, value: object, name: str, *where: str | int) -> tuple[str, ...] | None:
        values = self.strings(value, name, *where)
        if values is None:
            return None
        for index, action in enumerate(values):
            if action != "*" and not _ACTION.match(action):
                at = (*where, index) if isinstance(value, list) else where
                self.fail(
                    f"Action '{action}' is invalid: actions must be prefaced by a vendor, "
                    "e.g., iam, sdb, ec2, etc.",
                    *at,
                )
        return values

    def resources(self, value: object, name: str, *where: str | int) -> tuple[str, ...] | None:
        values = self.strings(value, name, *where)
        if values is None:
            return None
        for index, resource in enumerate(values):
            # A trailing wildcard may stand for the remaining ARN fields ("arn:aws:s3:*").
            if resource != "*" and not (
                resource.startswith("arn:")
                and (len(resource.split(":", 5)) == 6 or resource.endswith("*"))
            ):
                at = (*where, index) if isinstance(value, list) else where
                self.fail(f'Resource {resource} must be in ARN format or "*".', *at)
        return values

    def principal(self, value: object, name: str, *where: str | int) -> PrincipalSpec | None:
        if value == "*":
            return PrincipalSpec(everyone=True, values={})
        if not isinstance(value, dict):
            self.fail(f'{name} must be "*" or an object such as {{"AWS": ...}}', *where)
            return None
        self.check_duplicates(value, *where)
        if not value:
            self.fail(f"{name} must not be empty", *where)
            return None
        collected: dict[str, tuple[str, ...]] = {}
        everyone = False
        for principal_type, entries in value.items():
            if principal_type not in _PRINCIPAL_TYPES:
                self.fail(f"Invalid principal type '{principal_type}' in {name}", *where)
                continue
            values = self.strings(entries, name, *where, principal_type)
            if values is None:
                continue
            for index, entry in enumerate(values):
                at = (
                    (*where, principal_type, index)
                    if isinstance(entries, list)
                    else (
                        *where,
                        principal_type,
                    )
                )
                if principal_type == "AWS" and entry == "*":
                    everyone = True
                elif principal_type == "AWS" and not _valid_aws_principal(entry):
                    self.fail(f'Invalid principal in policy: "AWS":"{entry}"', *at)
                elif "*" in entry or "?" in entry:
                    self.fail(f'Invalid principal in policy: "{principal_type}":"{entry}"', *at)
            collected[principal_type] = values
        return PrincipalSpec(everyone=everyone, values=collected)

    def conditions(self, value: object, *where: str | int) -> tuple[ConditionEntry, ...] | None:
        if not isinstance(value, dict):
            self.fail("Condition must be an object", *where)
            return None
        self.check_duplicates(value, *where)
        entries: list[ConditionEntry] = []
        for operator, block in value.items():
            spec = parse_operator(operator)
            if isinstance(spec, str):
                self.fail(spec, *where, operator)
                continue
            if not isinstance(block, dict):
                self.fail(
                    f"Condition operator {operator} must map keys to values", *where, operator
                )
                continue
            self.check_duplicates(block, *where, operator)
            for key, raw in block.items():
                at = (*where, operator, key)
                if not _CONDITION_KEY.match(key):
                    self.fail(
                        f"Condition key '{key}' is invalid: condition keys must be prefaced by "
                        "a vendor, e.g., aws, s3, iam",
                        *at,
                    )
                    continue
                values = _condition_values(raw)
                if values is None:
                    self.fail(
                        "Condition values must be strings, numbers, booleans or a list of them",
                        *at,
                    )
                    continue
                if spec.family == "Null" and any(
                    v.lower() not in ("true", "false") for v in values
                ):
                    self.fail('Null takes the values "true" or "false"', *at)
                    continue
                entries.append(ConditionEntry(operator, key, values))
        return tuple(entries)


def _valid_aws_principal(entry: str) -> bool:
    return (
        bool(_ACCOUNT_ID.match(entry) or _UNIQUE_ID.match(entry) or _AWS_PRINCIPAL_ARN.match(entry))
        and "*" not in entry
        and "?" not in entry
    )


def _condition_values(raw: object) -> tuple[str, ...] | None:
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str):
            values.append(item)
        elif isinstance(item, int | float):
            values.append(str(item))
        else:
            return None
    return tuple(values)


def _load(source: str | bytes | Mapping[str, object]) -> tuple[object, str | None]:
    if isinstance(source, Mapping):
        return source, None
    text = source.decode("utf-8") if isinstance(source, bytes) else source
    return json.loads(text, object_pairs_hook=_object_pairs), text


def _parse(
    source: str | bytes | Mapping[str, object],
    kind: PolicyKind,
    policy_id: str | None,
    max_size: int | None,
) -> tuple[Policy | None, list[PolicyIssue]]:
    try:
        document, text = _load(source)
    except UnicodeDecodeError:
        return None, [PolicyIssue("", "Policy document is not valid UTF-8")]
    except json.JSONDecodeError as error:
        message = (
            f"Syntax errors in policy: {error.msg} at line {error.lineno} column {error.colno}"
        )
        return None, [PolicyIssue("", message)]
    except RecursionError:
        return None, [PolicyIssue("", "Syntax errors in policy: nesting too deep")]
    limit = DEFAULT_SIZE_LIMITS[kind] if max_size is None else max_size
    if text is None:
        text = json.dumps(document, separators=(",", ":"))
    if limit and policy_size(text) > limit:
        issue = PolicyIssue("", f"Cannot exceed quota for PolicySize: {limit}", LIMIT_EXCEEDED)
        return None, [issue]
    check = _Validator(kind)
    if not isinstance(document, dict):
        check.fail("Policy document must be a JSON object")
        return None, check.issues
    check.check_duplicates(document)
    for key in document:
        if key not in TOP_LEVEL_ELEMENTS:
            check.fail(f"Unknown field '{key}' in policy document", key)
    version = document.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        check.fail(f"Policy document contains an invalid version: {version!r}", "Version")
    doc_id = document.get("Id")
    if doc_id is not None and not isinstance(doc_id, str):
        check.fail("Id must be a string", "Id")
    if "Statement" not in document:
        check.fail("Missing required field Statement")
        return None, check.issues
    raw_statements = document["Statement"]
    listed = isinstance(raw_statements, list)
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        check.fail("Statement must be an object or a non-empty list of objects", "Statement")
        return None, check.issues
    name = policy_id or (doc_id if isinstance(doc_id, str) and doc_id else kind.value)
    statements: list[Statement] = []
    sids: set[str] = set()
    for index, raw in enumerate(raw_statements):
        where: tuple[str | int, ...] = ("Statement", index) if listed else ("Statement",)
        statement = _statement(check, raw, index, where, kind, name, sids)
        if statement is not None:
            statements.append(statement)
    if check.issues:
        return None, check.issues
    policy = Policy(
        kind=kind,
        policy_id=name,
        version=version if isinstance(version, str) else None,
        statements=tuple(statements),
        document=document,
    )
    return policy, []


def _statement(
    check: _Validator,
    raw: object,
    index: int,
    where: tuple[str | int, ...],
    kind: PolicyKind,
    policy_id: str,
    sids: set[str],
) -> Statement | None:
    if not isinstance(raw, dict):
        check.fail("Statement must be an object", *where)
        return None
    before = len(check.issues)
    check.check_duplicates(raw, *where)
    for key in raw:
        if key not in STATEMENT_ELEMENTS:
            check.fail(f"Statement has an unknown field '{key}'", *where, key)
    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            check.fail("Sid must be a string", *where, "Sid")
        elif kind is not PolicyKind.RESOURCE and not _IAM_SID.match(sid):
            check.fail("Statement IDs (SID) must be alpha-numeric", *where, "Sid")
        elif sid and sid in sids:
            check.fail(
                f"Statement IDs (SID) in a single policy must be unique: {sid}", *where, "Sid"
            )
        elif sid:
            sids.add(sid)
    effect_raw = raw.get("Effect")
    effect: StatementEffect | None = None
    if effect_raw is None:
        check.fail("Missing required field Effect", *where)
    elif effect_raw == "Allow":
        effect = StatementEffect.ALLOW
    elif effect_raw == "Deny":
        effect = StatementEffect.DENY
    else:
        check.fail(f'Effect must be "Allow" or "Deny", not {effect_raw!r}', *where, "Effect")

    actions = not_actions = None
    if ("Action" in raw) == ("NotAction" in raw):
        if "Action" in raw:
            check.fail("Statement must not contain both Action and NotAction", *where)
        else:
            check.fail("Policy statement must contain actions.", *where)
    elif "Action" in raw:
        actions = check.actions(raw["Action"], "Action", *where, "Action")
    else:
        not_actions = check.actions(raw["NotAction"], "NotAction", *where, "NotAction")

    resources = not_resources = None
    has_resource = "Resource" in raw or "NotResource" in raw
    if kind is PolicyKind.TRUST:
        for field in ("Resource", "NotResource"):
            if field in raw:
                check.fail(f"Has prohibited field {field}", *where, field)
    elif ("Resource" in raw) and ("NotResource" in raw):
        check.fail("Statement must not contain both Resource and NotResource", *where)
    elif not has_resource:
        check.fail("Policy statement must contain resources.", *where)
    elif "Resource" in raw:
        resources = check.resources(raw["Resource"], "Resource", *where, "Resource")
    else:
        not_resources = check.resources(raw["NotResource"], "NotResource", *where, "NotResource")

    principal = not_principal = None
    if kind.takes_principal:
        if "Principal" in raw and "NotPrincipal" in raw:
            check.fail("Statement must not contain both Principal and NotPrincipal", *where)
        elif "Principal" in raw:
            principal = check.principal(raw["Principal"], "Principal", *where, "Principal")
        elif "NotPrincipal" in raw:
            if kind is PolicyKind.TRUST:
                check.fail("Has prohibited field NotPrincipal", *where, "NotPrincipal")
            else:
                not_principal = check.principal(
                    raw["NotPrincipal"], "NotPrincipal", *where, "NotPrincipal"
                )
        else:
            check.fail("Missing required field Principal", *where)
    else:
        for field in ("Principal", "NotPrincipal"):
            if field in raw:
                check.fail("Policy document should not specify a principal.", *where, field)

    conditions: tuple[ConditionEntry, ...] | None = ()
    if "Condition" in raw:
        conditions = check.conditions(raw["Condition"], *where, "Condition")
    if len(check.issues) > before or effect is None or conditions is None:
        return None
    return Statement(
        ref=StatementRef(kind, policy_id, index, sid if isinstance(sid, str) and sid else None),
        effect=effect,
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principal=principal,
        not_principal=not_principal,
        conditions=conditions,
    )


def validate_policy(
    source: str | bytes | Mapping[str, object],
    kind: PolicyKind = PolicyKind.IDENTITY,
    *,
    max_size: int | None = None,
) -> list[PolicyIssue]:
    """Every problem of a policy document (empty when it is valid)."""
    return _parse(source, kind, None, max_size)[1]


def parse_policy(
    source: str | bytes | Mapping[str, object],
    kind: PolicyKind = PolicyKind.IDENTITY,
    *,
    policy_id: str | None = None,
    max_size: int | None = None,
) -> Policy:
    """Parse and validate; raise `PolicyValidationError` listing every problem.

    `max_size` overrides the kind's default size quota (0 disables the check).
    """
    policy, issues = _parse(source, kind, policy_id, max_size)
    if policy is None:
        raise PolicyValidationError(issues)
    return policy
