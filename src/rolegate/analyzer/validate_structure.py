"""The grammar checks of ValidatePolicy: which elements a document and its statements have.

`read_statements` reports what is malformed (missing / unknown / mistyped elements, empty
arrays, element combinations and the policy type's rules) and returns each statement's
elements as `Entry` strings with their spots, for the catalogue and best-practice checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from ..policy.conditions import OperatorSpec, SetQualifier, parse_operator
from ..policy.located import LocatedArray, LocatedNode, LocatedObject, LocatedScalar
from ..policy.model import VERSION_2008, VERSION_2012
from ..policy.parse import STATEMENT_ELEMENTS, TOP_LEVEL_ELEMENTS
from .validate_findings import ERROR, SECURITY_WARNING, SUGGESTION, WARNING, FindingSink, Path, Spot

__all__ = [
    "ConditionEntry",
    "Entry",
    "PolicyType",
    "PrincipalView",
    "StatementView",
    "read_statements",
]


class PolicyType(Enum):
    IDENTITY = "IDENTITY_POLICY"
    RESOURCE = "RESOURCE_POLICY"
    SCP = "SERVICE_CONTROL_POLICY"
    RCP = "RESOURCE_CONTROL_POLICY"


TRUST_POLICY: Final = "AWS::IAM::AssumeRolePolicyDocument"
_PRINCIPAL_KEYS: Final = ("AWS", "CanonicalUser", "Federated", "Service")


@dataclass(frozen=True, slots=True)
class Entry:
    """One string of an element (an action, a resource, a principal)."""

    text: str
    spot: Spot


@dataclass(frozen=True, slots=True)
class PrincipalView:
    spot: Spot
    everyone: bool  # "Principal": "*"
    entries: dict[str, list[Entry]]


@dataclass(frozen=True, slots=True)
class ConditionEntry:
    operator: str
    spec: OperatorSpec
    key: str
    spot: Spot  # the key's value
    values: tuple[LocatedScalar, ...]


@dataclass
class StatementView:
    path: Path
    node: LocatedObject
    effect: str | None = None
    sid: str | None = None
    actions: list[Entry] | None = None
    not_actions: list[Entry] | None = None
    resources: list[Entry] | None = None
    not_resources: list[Entry] | None = None
    principal: PrincipalView | None = None
    not_principal: PrincipalView | None = None
    conditions: list[ConditionEntry] = field(default_factory=list)
    has_condition: bool = False

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"

    def spot(self, *parts: int | str) -> Spot:
        node: LocatedNode = self.node
        for part in parts:
            assert isinstance(node, LocatedObject) and isinstance(part, str)
            member = node.get(part)
            assert member is not None
            node = member.value
        return Spot((*self.path, *parts), node)


def _kind(node: LocatedNode) -> str:
    if isinstance(node, LocatedObject):
        return "Object"
    if isinstance(node, LocatedArray):
        return "Array"
    if isinstance(node.value, bool):
        return "Boolean"
    return "String" if isinstance(node.value, str) else "Number"


class _Reader:
    def __init__(self, sink: FindingSink, policy_type: PolicyType, resource_type: str | None):
        self.sink = sink
        self.policy_type = policy_type
        self.resource_type = resource_type
        self.sids: set[str] = set()

    def report(self, finding_type: str, code: str, details: str, *spots: Spot) -> None:
        self.sink.add(finding_type, code, details, spots)

    def mistyped(self, spot: Spot, expected: str) -> None:
        self.report(
            ERROR,
            "DATA_TYPE_MISMATCH",
            f"The text does not match the expected JSON data type {expected}.",
            spot,
        )

    def unknown_elements(self, node: LocatedObject, path: Path, allowed: tuple[str, ...]) -> None:
        for member in node.members:
            if member.key not in allowed:
                self.report(
                    ERROR,
                    "INVALID_POLICY_ELEMENT",
                    f"The policy element {member.key} is not valid.",
                    Spot((*path, member.key), member.value),
                )

    def strings(self, spot: Spot, empty_code: str | None, empty_details: str) -> list[Entry]:
        """A string or an array of strings, as entries (each array item has its index)."""
        node = spot.node
        if isinstance(node, LocatedScalar) and isinstance(node.value, str):
            return [Entry(node.value, spot)]
        if not isinstance(node, LocatedArray):
            self.mistyped(spot, "Array")
            return []
        if not node.items and empty_code is not None:
            self.report(SUGGESTION, empty_code, empty_details, spot)
        entries: list[Entry] = []
        for index, item in enumerate(node.items):
            item_spot = Spot((*spot.path, index), item)
            if isinstance(item, LocatedScalar) and isinstance(item.value, str):
                entries.append(Entry(item.value, item_spot))
            else:
                self.mistyped(item_spot, "String")
        return entries

    def document(self, root: LocatedNode) -> list[StatementView]:
        if not isinstance(root, LocatedObject):
            self.mistyped(Spot((), root), "Object")
            return []
        self.unknown_elements(root, (), TOP_LEVEL_ELEMENTS)
        whole = Spot((), root)
        version = root.get("Version")
        if version is None:
            self.report(
                WARNING,
                "MISSING_VERSION",
                "We recommend that you specify the Version element to help you with debugging "
                "permission issues.",
                whole,
            )
        elif not isinstance(version.value, LocatedScalar) or not isinstance(
            version.value.value, str
        ):
            self.mistyped(Spot(("Version",), version.value), "String")
        elif version.value.value not in (VERSION_2012, VERSION_2008):
            self.report(
                ERROR,
                "INVALID_VERSION",
                f"The version {version.value.value} is not valid. Use one of the following "
                f"versions: {VERSION_2012}, {VERSION_2008}",
                Spot(("Version",), version.value),
            )
        doc_id = root.get("Id")
        if doc_id is not None and not (
            isinstance(doc_id.value, LocatedScalar) and isinstance(doc_id.value.value, str)
        ):
            self.mistyped(Spot(("Id",), doc_id.value), "String")
        statement = root.get("Statement")
        if statement is None:
            self.report(ERROR, "MISSING_STATEMENT", "Add a statement to the policy", whole)
            return []
        node = statement.value
        if isinstance(node, LocatedObject):
            items: list[tuple[Path, LocatedNode]] = [(("Statement",), node)]
        elif isinstance(node, LocatedArray):
            items = [(("Statement", index), item) for index, item in enumerate(node.items)]
            if not items:
                spot = Spot(("Statement",), node)
                self.report(ERROR, "MISSING_STATEMENT", "Add a statement to the policy", spot)
        else:
            self.mistyped(Spot(("Statement",), node), "Array")
            return []
        views: list[StatementView] = []
        for path, item in items:
            if not isinstance(item, LocatedObject):
                self.mistyped(Spot(path, item), "Object")
                continue
            views.append(self.statement(StatementView(path, item)))
        return views

    def statement(self, view: StatementView) -> StatementView:
        node = view.node
        self.unknown_elements(node, view.path, STATEMENT_ELEMENTS)
        self.sid(view)
        self.effect(view)
        view.actions, view.not_actions = self.pair(view, "Action", "NotAction")
        if view.actions is None and view.not_actions is None:
            self.report(
                ERROR,
                "MISSING_ACTION",
                "Add an Action or NotAction element to the policy statement.",
                Spot(view.path, node),
            )
        view.resources, view.not_resources = self.pair(view, "Resource", "NotResource")
        self.resource_rules(view)
        self.principals(view)
        self.conditions(view)
        return view

    def sid(self, view: StatementView) -> None:
        member = view.node.get("Sid")
        if member is None:
            return
        spot = Spot((*view.path, "Sid"), member.value)
        value = member.value
        if not isinstance(value, LocatedScalar) or not isinstance(value.value, str):
            self.mistyped(spot, "String")
            return
        sid = value.value
        view.sid = sid
        if not sid:
            self.report(
                SUGGESTION,
                "EMPTY_SID_VALUE",
                "Add a value to the empty string in the Sid element.",
                spot,
            )
            return
        strict = self.policy_type is not PolicyType.RESOURCE
        if strict and not (sid.isascii() and sid.isalnum()):
            self.report(
                ERROR,
                "UNSUPPORTED_SID",
                "Update the characters in the Sid element to use one of the following character "
                "types: [a-z, A-Z, 0-9]",
                spot,
            )
        if sid in self.sids:
            if strict:
                self.report(
                    ERROR,
                    "UNIQUE_SIDS_REQUIRED",
                    "Duplicate statement IDs are not supported for this policy type. Update the "
                    "Sid value.",
                    spot,
                )
            else:
                self.report(
                    WARNING,
                    "UNIQUE_SIDS_RECOMMENDED",
                    "We recommend that you use statement IDs that are unique to your policy. "
                    "Update the Sid value.",
                    spot,
                )
        self.sids.add(sid)

    def effect(self, view: StatementView) -> None:
        member = view.node.get("Effect")
        if member is None:
            self.report(
                ERROR,
                "MISSING_EFFECT",
                "Add an Effect element to the policy statement with a value of Allow or Deny.",
                Spot(view.path, view.node),
            )
            return
        spot = Spot((*view.path, "Effect"), member.value)
        value = member.value
        if not isinstance(value, LocatedScalar) or not isinstance(value.value, str):
            self.mistyped(spot, "String")
        elif value.value not in ("Allow", "Deny"):
            self.report(
                ERROR,
                "INVALID_EFFECT",
                f"The effect {value.value} is not valid. Use Allow or Deny.",
                spot,
            )
        else:
            view.effect = value.value

    def combination(self, view: StatementView, first: str, second: str) -> bool:
        if view.node.get(first) is None or view.node.get(second) is None:
            return False
        self.report(
            ERROR,
            "UNSUPPORTED_ELEMENT_COMBINATION",
            f"The policy elements {first} and {second} can not be used in the same statement. "
            "Remove one of these elements.",
            view.spot(second),
        )
        return True

    def pair(
        self, view: StatementView, name: str, negated: str
    ) -> tuple[list[Entry] | None, list[Entry] | None]:
        if self.combination(view, name, negated):
            return None, None
        noun = "actions" if name == "Action" else "resources"
        code = "EMPTY_ARRAY_ACTION" if name == "Action" else "EMPTY_ARRAY_RESOURCE"
        details = (
            f"This statement includes no {noun} and does not affect the policy. Specify {noun}."
        )
        for element in (name, negated):
            if view.node.get(element) is not None:
                entries = self.strings(view.spot(element), code, details)
                return (entries, None) if element == name else (None, entries)
        return None, None

    def resource_rules(self, view: StatementView) -> None:
        has_resource = view.node.get("Resource") is not None
        has_not_resource = view.node.get("NotResource") is not None
        if self.resource_type == TRUST_POLICY and self.policy_type is PolicyType.RESOURCE:
            for element in ("Resource", "NotResource"):
                if view.node.get(element) is not None:
                    self.report(
                        ERROR,
                        "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE",
                        "Role trust policies apply to the role that they are attached to. You "
                        "cannot specify a resource. Remove the Resource or NotResource element.",
                        view.spot(element),
                    )
            return
        # A resource policy of unknown type may be a role trust policy, which has no Resource.
        required = self.policy_type is not PolicyType.RESOURCE or self.resource_type is not None
        if required and not has_resource and not has_not_resource:
            self.report(
                ERROR,
                "MISSING_RESOURCE",
                "Add a Resource or NotResource element to the policy statement.",
                Spot(view.path, view.node),
            )

    def principals(self, view: StatementView) -> None:
        node = view.node
        present = [name for name in ("Principal", "NotPrincipal") if node.get(name) is not None]
        if self.policy_type is PolicyType.IDENTITY:
            for name in present:
                self.report(
                    ERROR,
                    "UNSUPPORTED_PRINCIPAL",
                    "The policy type IDENTITY_POLICY does not support the Principal element. "
                    "Remove the Principal element.",
                    view.spot(name),
                )
            return
        if self.policy_type is PolicyType.SCP:
            for name in present:
                self.report(
                    ERROR,
                    "SCP_SYNTAX_ERROR_PRINCIPAL",
                    "SCPs do not support specifying principals. Remove the Principal or "
                    "NotPrincipal element.",
                    view.spot(name),
                )
            return
        if not present:
            self.report(
                ERROR,
                "MISSING_PRINCIPAL",
                "Add a Principal element to the policy statement.",
                Spot(view.path, node),
            )
            return
        if self.combination(view, "Principal", "NotPrincipal"):
            return
        if self.policy_type is PolicyType.RCP:
            member = node.get("Principal")
            if member is None or not (
                isinstance(member.value, LocatedScalar) and member.value.value == "*"
            ):
                self.report(
                    ERROR,
                    "RCP_SYNTAX_ERROR_PRINCIPAL",
                    "The Principal element contents are not valid. RCPs only support specifying "
                    'all principals ("*") in the Principal element. The NotPrincipal element is '
                    "not supported for RCPs.",
                    view.spot(present[0]),
                )
                return
        name = present[0]
        principal = self.principal(view.spot(name))
        if name == "Principal":
            view.principal = principal
            return
        view.not_principal = principal
        if self.resource_type == TRUST_POLICY:
            self.report(
                ERROR,
                "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL",
                "Role trust policies do not support NotPrincipal. Update the policy to use a "
                "Principal element instead.",
                view.spot(name),
            )
        elif view.allows:
            self.report(
                SECURITY_WARNING,
                "ALLOW_WITH_NOT_PRINCIPAL",
                "Using Allow with NotPrincipal can be overly permissive. We recommend that you "
                "use Principal instead.",
                view.spot(name),
            )

    def principal(self, spot: Spot) -> PrincipalView | None:
        node = spot.node
        if isinstance(node, LocatedScalar) and node.value == "*":
            return PrincipalView(spot, True, {})
        if not isinstance(node, LocatedObject):
            self.report(
                ERROR,
                "INVALID_PRINCIPAL_FORMAT",
                "The Principal element contents are not valid. Specify a key-value pair in the "
                "Principal element.",
                spot,
            )
            return None
        if not node.members:
            self.report(
                SUGGESTION,
                "EMPTY_OBJECT_PRINCIPAL",
                "This statement includes no principals and does not affect the policy. Specify "
                "principals.",
                spot,
            )
        entries: dict[str, list[Entry]] = {}
        for member in node.members:
            member_spot = Spot((*spot.path, member.key), member.value)
            if member.key not in _PRINCIPAL_KEYS:
                self.report(
                    ERROR,
                    "INVALID_PRINCIPAL_KEY",
                    f"The principal key {member.key} is not valid.",
                    member_spot,
                )
                continue
            entries.setdefault(member.key, []).extend(
                self.strings(
                    member_spot,
                    "EMPTY_ARRAY_PRINCIPAL",
                    "This statement includes no principals and does not affect the policy. "
                    "Specify principals.",
                )
            )
        return PrincipalView(spot, False, entries)

    def conditions(self, view: StatementView) -> None:
        member = view.node.get("Condition")
        if member is None:
            return
        view.has_condition = True
        spot = Spot((*view.path, "Condition"), member.value)
        node = member.value
        if not isinstance(node, LocatedObject):
            self.mistyped(spot, "Object")
            return
        if not node.members:
            self.report(
                SUGGESTION,
                "EMPTY_OBJECT_CONDITION",
                "This condition block is empty and it does not affect the policy. Specify "
                "conditions.",
                spot,
            )
        for block in node.members:
            block_spot = Spot((*spot.path, block.key), block.value)
            spec = self.operator(block.key, block_spot)
            if spec is None:
                continue
            if not isinstance(block.value, LocatedObject):
                self.mistyped(block_spot, "Object")
                continue
            seen: dict[str, str] = {}
            for entry in block.value.members:
                key_spot = Spot((*block_spot.path, entry.key), entry.value)
                folded = entry.key.lower()
                if folded in seen and seen[folded] != entry.key:
                    self.report(
                        ERROR,
                        "DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
                        f"The condition key {entry.key} appears more than once with different "
                        "capitalization in the same condition block. Remove the duplicate "
                        "condition keys.",
                        key_spot,
                    )
                seen.setdefault(folded, entry.key)
                values = self.condition_values(spec, entry.key, key_spot)
                if values is not None:
                    view.conditions.append(
                        ConditionEntry(block.key, spec, entry.key, key_spot, values)
                    )

    def operator(self, name: str, spot: Spot) -> OperatorSpec | None:
        spec = parse_operator(name)
        if isinstance(spec, OperatorSpec):
            return spec
        base = name.split(":", 1)[-1] if name.startswith("For") else name
        if base == "NullIfExists":
            self.report(
                ERROR,
                "NULL_WITH_IF_EXISTS",
                "The Null condition operator cannot be used with the IfExists suffix. Update the "
                "operator or the suffix.",
                spot,
            )
            return None
        if base == "Null" and name != base:
            self.report(
                SUGGESTION,
                "NULL_WITH_QUALIFIER",
                "Avoid using the Null condition operator with the ForAllValues or ForAnyValue "
                "qualifiers because they always return a true or false respectively.",
                spot,
            )
            plain = parse_operator("Null")
            return plain if isinstance(plain, OperatorSpec) else None
        self.report(
            ERROR,
            "INVALID_CONDITION_OPERATOR",
            f"The condition operator {name} is not valid. Use a valid condition operator.",
            spot,
        )
        return None

    def condition_values(
        self, spec: OperatorSpec, key: str, spot: Spot
    ) -> tuple[LocatedScalar, ...] | None:
        node = spot.node
        if isinstance(node, LocatedScalar) and node.value is not None:
            return (node,)
        if not isinstance(node, LocatedArray):
            self.mistyped(spot, "String")
            return None
        if not node.items:
            self.empty_values(spec, key, spot)
            return None
        values: list[LocatedScalar] = []
        for item in node.items:
            if not isinstance(item, LocatedScalar) or item.value is None:
                self.mistyped(spot, "String")
                return None
            values.append(item)
        if len({_kind(item) for item in values}) > 1:
            self.report(
                ERROR,
                "INVALID_CONDITION_DATA_TYPE",
                "The condition value data types do not match. Use condition values of the same "
                "JSON data type.",
                spot,
            )
        return tuple(values)

    def empty_values(self, spec: OperatorSpec, key: str, spot: Spot) -> None:
        if spec.qualifier is SetQualifier.FOR_ALL_VALUES:
            code = "EMPTY_ARRAY_CONDITION_FORALLVALUES"
            details = (
                "The ForAllValues prefix with an empty condition key matches only if the key "
                f"{key} is missing from the request context. To determine if the request context "
                "is empty, we recommend that you use the Null condition operator with the value "
                "of true instead."
            )
        elif spec.qualifier is SetQualifier.FOR_ANY_VALUE:
            code = "EMPTY_ARRAY_CONDITION_FORANYVALUE"
            details = (
                f"The ForAnyValue prefix with an empty condition key {key} never matches the "
                "request context and it does not affect the policy. Specify conditions."
            )
        elif spec.if_exists:
            code = "EMPTY_ARRAY_CONDITION_IFEXISTS"
            details = (
                "The IfExists suffix with an empty condition key matches only if the key "
                f"{key} is missing from the request context. To determine if the request context "
                "is empty, we recommend that you use the Null condition operator with the value "
                "of true instead."
            )
        else:
            code = "EMPTY_ARRAY_CONDITION"
            details = (
                f"There are no values for the condition key {key} and it does not affect the "
                "policy. Specify conditions."
            )
        self.report(SUGGESTION, code, details, spot)


def read_statements(
    root: LocatedNode, sink: FindingSink, policy_type: PolicyType, resource_type: str | None
) -> list[StatementView]:
    """Check the document's grammar into `sink`; return its statements' elements."""
    return _Reader(sink, policy_type, resource_type).document(root)
