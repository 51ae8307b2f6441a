"""The AWS IAM policy language: parse, validate, compile and evaluate. Pure: no I/O, no clock."""

from .errors import PolicyIssue, PolicyValidationError
from .evaluate import Decision, DenyReason, Effect, PolicySet, evaluate
from .model import Policy, PolicyKind, StatementRef
from .parse import parse_policy, policy_size, validate_policy
from .request import Principal, PrincipalType, Request

__all__ = [
    "Decision",
    "DenyReason",
    "Effect",
    "Policy",
    "PolicyIssue",
    "PolicyKind",
    "PolicySet",
    "PolicyValidationError",
    "Principal",
    "PrincipalType",
    "Request",
    "StatementRef",
    "evaluate",
    "parse_policy",
    "policy_size",
    "validate_policy",
]
