"""The AWS JSON protocol (awsJson 1.0 / 1.1), server side, driven by botocore's service models.

CloudTrail (``2013-11-01``) speaks it: ``POST /`` with ``X-Amz-Target:
<targetPrefix>.<Operation>``, ``Content-Type: application/x-amz-json-1.1`` and a JSON body of
the input shape; the answer is a JSON body of the output shape, an error
``{"__type": "InvalidTimeRangeException", "message": "..."}`` with the model's HTTP status.
One generic parser (:mod:`rolegate.wire.json_parse`) and one generic serializer
(:mod:`rolegate.wire.json_serialize`) walk the model's shapes.

Usage::

    cloudtrail = get_json_protocol("cloudtrail")
    operation, params = cloudtrail.parse_request(method, headers, body)   # JsonProtocolError
    body = cloudtrail.serialize_response(operation, {"Events": [...]})
    status, code = cloudtrail.error_http_status("InvalidTimeRangeException")
    body = cloudtrail.serialize_error(code, "...")

Parsed params use botocore's Python types, as the Query layer's: ``str``, ``int``, ``float``,
``bool``, ``bytes``, timezone-aware UTC ``datetime``, ``list``, ``dict``.

The common errors that the Query protocol names ``AccessDenied``, ``InvalidClientTokenId``,
``SignatureDoesNotMatch``... have other names in JSON services (``AccessDeniedException``,
``UnrecognizedClientException``, ``InvalidSignatureException``...): :func:`json_error_code`
translates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Final

import botocore.session  # type: ignore[import-untyped]
from botocore.model import (  # type: ignore[import-untyped]
    OperationModel,
    ServiceModel,
)

from .json_parse import (
    SERIALIZATION_EXCEPTION,
    VALIDATION_EXCEPTION,
    JsonProtocolError,
    decode_json_body,
    parse_operation_input,
)
from .json_serialize import serialize_error_body, serialize_operation_output
from .protocol_errors import ModeledError, modeled_error

__all__ = [
    "JSON_CONTENT_TYPES",
    "SERIALIZATION_EXCEPTION",
    "UNKNOWN_OPERATION",
    "VALIDATION_EXCEPTION",
    "JsonProtocolError",
    "JsonServiceProtocol",
    "ModeledError",
    "get_json_protocol",
    "json_error_code",
    "json_error_response",
]

UNKNOWN_OPERATION: Final = "UnknownOperationException"
JSON_CONTENT_TYPES: Final = (
    "application/x-amz-json-1.0",
    "application/x-amz-json-1.1",
    "application/json",
)

# Query-protocol common error code -> (JSON-protocol code, HTTP status), as AWS's JSON
# services name them.
_COMMON_ERRORS: Final[Mapping[str, tuple[str, int]]] = {
    "AccessDenied": ("AccessDeniedException", 400),
    "InvalidClientTokenId": ("UnrecognizedClientException", 400),
    "SignatureDoesNotMatch": ("InvalidSignatureException", 400),
    "IncompleteSignature": ("IncompleteSignatureException", 400),
    "MissingAuthenticationToken": ("MissingAuthenticationTokenException", 400),
    "ExpiredToken": ("ExpiredTokenException", 400),
    "ValidationError": (VALIDATION_EXCEPTION, 400),
    "InvalidAction": (UNKNOWN_OPERATION, 400),
    "NotImplemented": (UNKNOWN_OPERATION, 400),
    "RequestEntityTooLarge": ("RequestEntityTooLargeException", 413),
}


def json_error_code(code: str, http_status: int) -> tuple[str, int]:
    """The JSON protocol's ``(code, status)`` for a common error raised in Query terms."""
    return _COMMON_ERRORS.get(code, (code, http_status))


def json_error_response(code: str, message: str | None, http_status: int) -> tuple[int, bytes]:
    """``(status, body)`` of an error outside any service model (common errors)."""
    code, status = json_error_code(code, http_status)
    return status, serialize_error_body(code, message)


def _header(headers: Sequence[tuple[str, str]] | Mapping[str, str], name: str) -> str | None:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key.lower() == name:
            return value.strip()
    return None


class JsonServiceProtocol:
    """One JSON-protocol service model and the operations on it."""

    def __init__(self, model: ServiceModel) -> None:
        protocols = model.metadata.get("protocols") or [model.metadata.get("protocol")]
        if "json" not in protocols:
            raise ValueError(f"{model.service_name}: not a json-protocol model ({protocols})")
        self.model = model
        self._member_errors: dict[str, dict[str, tuple[str, int]]] = {}

    @classmethod
    def from_model(
        cls, description: Mapping[str, Any], service_name: str | None = None
    ) -> JsonServiceProtocol:
        """Build from a raw model dict (``metadata``/``operations``/``shapes``)."""
        return cls(ServiceModel(dict(description), service_name=service_name))

    @property
    def service_name(self) -> str:
        return str(self.model.service_name)

    @property
    def target_prefix(self) -> str:
        return str(self.model.metadata.get("targetPrefix", ""))

    @property
    def content_type(self) -> str:
        return f"application/x-amz-json-{self.model.metadata.get('jsonVersion', '1.0')}"

    def operation(self, name: str) -> OperationModel:
        """The operation model for ``name`` (``KeyError`` if the service has none)."""
        if name not in self.model.operation_names:
            raise KeyError(name)
        return self.model.operation_model(name)

    # ---- requests
    def resolve_target(self, target: str | None) -> OperationModel:
        """The operation an ``X-Amz-Target`` names (``UnknownOperationException`` if none)."""
        prefix, _, name = (target or "").rpartition(".")
        if not target or prefix != self.target_prefix or name not in self.model.operation_names:
            raise JsonProtocolError(
                UNKNOWN_OPERATION,
                f"The operation {target!r} is not supported by {self.service_name}."
                if target
                else "The request is missing the X-Amz-Target header.",
            )
        return self.model.operation_model(name)

    def set_member_errors(self, operation: str, errors: Mapping[str, str]) -> None:
        """Report constraint violations of these top-level members of ``operation`` with the
        modeled error shapes named (``{"MaxResults": "InvalidMaxResultsException"}``)."""
        self.operation(operation)
        table: dict[str, tuple[str, int]] = {}
        for member, shape_name in errors.items():
            info = self.modeled_error(shape_name)
            table[member] = (info.code, info.http_status)
        self._member_errors[operation] = table

    def parse_request(
        self,
        method: str,
        headers: Sequence[tuple[str, str]] | Mapping[str, str],
        body: bytes | str,
    ) -> tuple[OperationModel, dict[str, Any]]:
        """Resolve the operation from the headers and parse, type and validate its params.

        Raises :class:`JsonProtocolError` (``UnknownOperationException``,
        ``SerializationException``, ``ValidationException`` or a modeled error) for anything a
        client could send.
        """
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if method.upper() != "POST" or (content_type and content_type not in JSON_CONTENT_TYPES):
            raise JsonProtocolError(
                UNKNOWN_OPERATION,
                f"{self.service_name} takes POST requests with a JSON body "
                f"(Content-Type {self.content_type}).",
            )
        operation = self.resolve_target(_header(headers, "x-amz-target"))
        data = decode_json_body(body)
        params = parse_operation_input(
            operation, data, self._member_errors.get(str(operation.name))
        )
        return operation, params

    # ---- responses
    def serialize_response(
        self, operation: OperationModel | str, result: Mapping[str, Any] | None
    ) -> bytes:
        """The success body of ``operation`` for ``result`` (a dict shaped like its output)."""
        if isinstance(operation, str):
            operation = self.operation(operation)
        return serialize_operation_output(operation, result)

    def serialize_error(
        self,
        code: str,
        message: str | None,
        *,
        error_shape: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The error body; ``error_shape``/``fields`` add the members of a modeled error."""
        shape = self.model.shape_for(error_shape) if error_shape else None
        return serialize_error_body(code, message, error_shape=shape, fields=fields)

    def error_body(self, error: JsonProtocolError) -> tuple[int, bytes]:
        """``(http_status, body)`` for a raised :class:`JsonProtocolError`."""
        return error.http_status, self.serialize_error(error.code, error.message)

    # ---- modeled errors
    def modeled_error(self, shape_name: str) -> ModeledError:
        """Code, HTTP status and fault side of the error shape ``shape_name``."""
        return modeled_error(self.model, shape_name)

    def error_http_status(self, shape_name: str) -> tuple[int, str]:
        """``(http_status, code)`` of a modeled error shape."""
        error = self.modeled_error(shape_name)
        return error.http_status, error.code

    def error(self, shape_name: str, message: str) -> JsonProtocolError:
        """A raisable :class:`JsonProtocolError` for a modeled error shape."""
        info = self.modeled_error(shape_name)
        return JsonProtocolError(info.code, message, info.http_status, sender=info.sender_fault)


@cache
def _load(service_name: str, api_version: str | None) -> JsonServiceProtocol:
    session = botocore.session.get_session()
    return JsonServiceProtocol(session.get_service_model(service_name, api_version=api_version))


def get_json_protocol(service_name: str, api_version: str | None = None) -> JsonServiceProtocol:
    """The (cached) protocol of a botocore-shipped JSON service, e.g. ``"cloudtrail"``."""
    return _load(service_name, api_version)
