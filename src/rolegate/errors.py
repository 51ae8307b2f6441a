"""Errors every service layer raises; the wire layer renders them in the AWS error shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "EXPLANATIONS_SCOPE_KEY",
    "AccessDenied",
    "DeleteConflict",
    "EntityAlreadyExists",
    "InvalidClientTokenId",
    "InvalidInput",
    "LimitExceeded",
    "MalformedPolicyDocument",
    "NoSuchEntity",
    "ServiceError",
    "ValidationError",
]

# The ASGI scope key under which an in-process caller (the console) passes a list that the
# endpoint fills with the engine's explanation of an AccessDenied. Requests from the network
# never carry it.
EXPLANATIONS_SCOPE_KEY: Final = "rolegate.explanations"


class ServiceError(Exception):
    """An AWS-shaped error: code, message, HTTP status, and whose fault it is."""

    code = "InternalFailure"
    http_status = 500
    sender = True

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        explanation: Mapping[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        # An AccessDenied's failure details (`policy.explain`): the console shows them under
        # the refusal; the wire never sends them.
        self.explanation = explanation
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status


class NoSuchEntity(ServiceError):
    code = "NoSuchEntity"
    http_status = 404


class EntityAlreadyExists(ServiceError):
    code = "EntityAlreadyExists"
    http_status = 409


class DeleteConflict(ServiceError):
    code = "DeleteConflict"
    http_status = 409


class LimitExceeded(ServiceError):
    code = "LimitExceeded"
    http_status = 409


class MalformedPolicyDocument(ServiceError):
    code = "MalformedPolicyDocument"
    http_status = 400


class InvalidInput(ServiceError):
    code = "InvalidInput"
    http_status = 400


class ValidationError(ServiceError):
    code = "ValidationError"
    http_status = 400


class AccessDenied(ServiceError):
    code = "AccessDenied"
    http_status = 403


class InvalidClientTokenId(ServiceError):
    code = "InvalidClientTokenId"
    http_status = 403
