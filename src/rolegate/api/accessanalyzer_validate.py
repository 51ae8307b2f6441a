"""IAM Access Analyzer ValidatePolicy (REST-JSON, POST /policy/validation).

`access-analyzer:ValidatePolicy` has no resource type in the Service Authorization Reference:
the gateway authorizes it on `*`. It reads nothing: the findings come from the pure validator
(`rolegate.analyzer.validate`). Findings are paged with an opaque `nextToken` (the position of
the next finding); without `maxResults` every finding comes in one page. Findings are worded
in English whatever the `locale`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

from ..analyzer.validate import validate_policy
from ..errors import ServiceError
from .registry import OperationContext, operation

__all__ = ["validate_policy_handler"]

_TOKEN_PREFIX: Final = "rolegate-validate-policy:"


class _ValidationException(ServiceError):
    """Access Analyzer's modeled ValidationException, with its `reason` and `fieldList`."""

    code = "ValidationException"
    http_status = 400

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.fields: Mapping[str, Any] = {
            "reason": "fieldValidationFailed",
            "fieldList": [{"name": field, "message": message}],
        }


def _token(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{position}".encode()).decode()


def _position(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    number = text.removeprefix(_TOKEN_PREFIX)
    if not text.startswith(_TOKEN_PREFIX) or not number.isdigit():
        raise _ValidationException("Invalid pagination token.", "nextToken")
    return int(number)


@operation("access-analyzer", "ValidatePolicy", resource=lambda ctx: "*")
def validate_policy_handler(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    max_results = params.get("maxResults")
    if max_results is not None and max_results < 1:
        raise _ValidationException("maxResults must be at least 1.", "maxResults")
    start = _position(params["nextToken"]) if params.get("nextToken") else 0
    findings = validate_policy(
        params["policyDocument"], params["policyType"], params.get("validatePolicyResourceType")
    )
    if start > len(findings):
        raise _ValidationException("Invalid pagination token.", "nextToken")
    end = len(findings) if max_results is None else min(len(findings), start + max_results)
    result: dict[str, Any] = {"findings": [finding.as_dict() for finding in findings[start:end]]}
    if end < len(findings):
        result["nextToken"] = _token(end)
    return result
