"""Typed errors of the policy layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "LIMIT_EXCEEDED",
    "MALFORMED_POLICY_DOCUMENT",
    "PolicyIssue",
    "PolicyValidationError",
    "json_pointer",
]

MALFORMED_POLICY_DOCUMENT = "MalformedPolicyDocument"
LIMIT_EXCEEDED = "LimitExceeded"


def json_pointer(*parts: str | int) -> str:
    """RFC 6901 pointer for a path inside a policy document."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem in a policy document: where (JSON pointer) and why."""

    pointer: str
    message: str
    code: str = MALFORMED_POLICY_DOCUMENT

    def __str__(self) -> str:
        where = self.pointer or "/"
        return f"{where}: {self.message}"


class PolicyValidationError(ValueError):
    """A policy document failed to parse or validate; `issues` says where and why."""

    def __init__(self, issues: Sequence[PolicyIssue]) -> None:
        self.issues: tuple[PolicyIssue, ...] = tuple(issues)
        super().__init__(self.aws_message())

    @property
    def code(self) -> str:
        """The AWS error code the first issue maps to."""
        return self.issues[0].code if self.issues else MALFORMED_POLICY_DOCUMENT

    def aws_message(self) -> str:
        """A message fit for an AWS `MalformedPolicyDocument` error."""
        return "; ".join(str(issue) for issue in self.issues)
