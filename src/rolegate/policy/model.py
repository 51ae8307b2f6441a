"""The validated, immutable form of a policy document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "ConditionEntry",
    "Policy",
    "PolicyKind",
    "PrincipalSpec",
    "Statement",
    "StatementEffect",
    "StatementRef",
]

VERSION_2012: Final = "2012-10-17"
VERSION_2008: Final = "2008-10-17"


class PolicyKind(Enum):
    """Where a policy is attached; it decides which elements are allowed."""

    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"
    BOUNDARY = "boundary"
    SESSION = "session"
    SCP = "scp"

    @property
    def takes_principal(self) -> bool:
        return self in (PolicyKind.RESOURCE, PolicyKind.TRUST)

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: Final = {
    PolicyKind.IDENTITY: "identity-based policy",
    PolicyKind.RESOURCE: "resource-based policy",
    PolicyKind.TRUST: "resource-based policy",
    PolicyKind.BOUNDARY: "permissions boundary",
    PolicyKind.SESSION: "session policy",
    PolicyKind.SCP: "service control policy",
}


class StatementEffect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A Principal / NotPrincipal element: `everyone` for `"*"`, else the listed values."""

    everyone: bool
    values: Mapping[str, tuple[str, ...]]  # "AWS" / "Service" / "Federated" / "CanonicalUser"


@dataclass(frozen=True, slots=True)
class ConditionEntry:
    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StatementRef:
    """Names one statement in a decision: policy id plus Sid (or position)."""

    kind: PolicyKind
    policy_id: str
    index: int
    sid: str | None

    def __str__(self) -> str:
        which = self.sid if self.sid else f"#{self.index}"
        return f"{self.kind.value}:{self.policy_id}/{which}"


@dataclass(frozen=True, slots=True)
class Statement:
    ref: StatementRef
    effect: StatementEffect
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principal: PrincipalSpec | None
    not_principal: PrincipalSpec | None
    conditions: tuple[ConditionEntry, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A parsed and validated policy document of a given kind (hashed by identity)."""

    kind: PolicyKind
    policy_id: str
    version: str | None
    statements: tuple[Statement, ...]
    document: Mapping[str, object]

    @property
    def variables_enabled(self) -> bool:
        return self.version == VERSION_2012
