"""Access Analyzer's modeled errors, with the members the REST-JSON wire writes (`fields`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ServiceError

__all__ = [
    "AnalyzerConflict",
    "AnalyzerNotFound",
    "AnalyzerQuotaExceeded",
    "AnalyzerValidation",
    "InvalidParameter",
]


class _ModeledError(ServiceError):
    def __init__(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.fields: Mapping[str, Any] = dict(fields or {})


class _ResourceError(_ModeledError):
    """An error that names the resource (`resourceId`, `resourceType`)."""

    def __init__(self, message: str, resource_id: str, resource_type: str) -> None:
        super().__init__(message, {"resourceId": resource_id, "resourceType": resource_type})


class AnalyzerNotFound(_ResourceError):
    code = "ResourceNotFoundException"
    http_status = 404


class AnalyzerConflict(_ResourceError):
    code = "ConflictException"
    http_status = 409


class AnalyzerQuotaExceeded(_ResourceError):
    code = "ServiceQuotaExceededException"
    http_status = 402


class AnalyzerValidation(_ModeledError):
    code = "ValidationException"
    http_status = 400

    def __init__(self, message: str, field: str | None = None, reason: str = "other") -> None:
        fields: dict[str, Any] = {"reason": reason}
        if field is not None:
            fields["reason"] = "fieldValidationFailed"
            fields["fieldList"] = [{"name": field, "message": message}]
        super().__init__(message, fields)


class InvalidParameter(_ModeledError):
    code = "InvalidParameterException"
    http_status = 400
