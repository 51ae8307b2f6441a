"""Errors every service layer raises; the wire layer renders them in the AWS error shape."""

from __future__ import annotations

__all__ = [
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


class ServiceError(Exception):
    """An AWS-shaped error: code, message, HTTP status, and whose fault it is."""

    code = "InternalFailure"
    http_status = 500
    sender = True

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
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
