"""The AWS REST-JSON protocol, server side, driven by botocore's service models.

IAM Access Analyzer (``accessanalyzer``, SigV4 signing name ``access-analyzer``) speaks it:
the operation is the method and path (``GET /analyzer/{analyzerName}``), members come from
the URI, the query, headers and a JSON body; answers are JSON bodies with the operation's
``responseCode``; errors carry their code in ``x-amzn-ErrorType`` and ``{"message": ...}``.

Usage::

    analyzer = get_rest_json_protocol("accessanalyzer")
    operation, params = analyzer.parse_request(method, raw_path, query, headers, body)
    status, headers, body = analyzer.serialize_response(operation, {"arn": "..."})
    status, headers, body = analyzer.error_response("ResourceNotFoundException", "...",
                                                    404, fields={"resourceId": "x"})

Common errors raised in Query terms (``AccessDenied``, ``InvalidClientTokenId``...) get their
JSON-protocol names (:func:`rolegate.wire.json_protocol.json_error_code`) and, when the model
declares that error, its HTTP status. A model whose ``ValidationException`` has a ``reason``
member (Access Analyzer's) gets every parse failure as that exception with its reason
(``cannotParse``, ``fieldValidationFailed``, ``unknownOperation``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Final

import botocore.session  # type: ignore[import-untyped]
from botocore.model import OperationModel, ServiceModel  # type: ignore[import-untyped]

from .json_parse import SERIALIZATION_EXCEPTION, VALIDATION_EXCEPTION, JsonProtocolError
from .json_protocol import json_error_code
from .protocol_errors import ModeledError, modeled_error
from .restjson_parse import UNKNOWN_OPERATION, RestJsonRouter, parse_rest_json_request
from .restjson_serialize import (
    ERROR_TYPE_HEADER,
    serialize_rest_json_error,
    serialize_rest_json_output,
)

__all__ = [
    "ERROR_TYPE_HEADER",
    "REST_JSON_MODELS",
    "RestJsonError",
    "RestJsonServiceProtocol",
    "get_rest_json_protocol",
    "rest_json_protocol_for",
]

# SigV4 signing name -> botocore model name of the REST-JSON services rolegate serves.
REST_JSON_MODELS: Final[Mapping[str, str]] = {"access-analyzer": "accessanalyzer"}
CONTENT_TYPE: Final = "application/json"
_REASONS: Final = {
    SERIALIZATION_EXCEPTION: "cannotParse",
    VALIDATION_EXCEPTION: "fieldValidationFailed",
    UNKNOWN_OPERATION: "unknownOperation",
}


class RestJsonError(JsonProtocolError):
    """A protocol error with members of its modeled error shape (``fields``)."""

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int = 400,
        *,
        sender: bool = True,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message, http_status, sender=sender)
        self.fields: dict[str, Any] = dict(fields or {})


class RestJsonServiceProtocol:
    """One REST-JSON service model and the operations on it."""

    content_type = CONTENT_TYPE

    def __init__(self, model: ServiceModel) -> None:
        protocols = model.metadata.get("protocols") or [model.metadata.get("protocol")]
        if "rest-json" not in protocols:
            raise ValueError(f"{model.service_name}: not a rest-json model ({protocols})")
        self.model = model
        self.router = RestJsonRouter(model)
        validation = self._error_shape(VALIDATION_EXCEPTION)
        self._validation_reason = validation is not None and "reason" in validation.members

    @property
    def service_name(self) -> str:
        return str(self.model.service_name)

    def operation(self, name: str) -> OperationModel:
        """The operation model for ``name`` (``KeyError`` if the service has none)."""
        if name not in self.model.operation_names:
            raise KeyError(name)
        return self.model.operation_model(name)

    def _error_shape(self, name: str) -> Any:
        try:
            modeled_error(self.model, name)
        except KeyError:
            return None
        return self.model.shape_for(name)

    # ---- requests
    def parse_request(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> tuple[OperationModel, dict[str, Any]]:
        """The operation a request is and its typed, validated params.

        ``raw_path`` is the path as sent (percent-encoded), ``query`` the raw query string.
        Raises :class:`JsonProtocolError` for anything a client could send.
        """
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        try:
            operation, labels = self.router.resolve(method, raw_path.partition("?")[0], pairs)
            params = parse_rest_json_request(
                operation, uri_labels=labels, query=pairs, headers=headers, body=body
            )
        except JsonProtocolError as error:
            raise self._as_validation(error) from error
        return operation, params

    def _as_validation(self, error: JsonProtocolError) -> JsonProtocolError:
        reason = _REASONS.get(error.code)
        if not self._validation_reason or reason is None:
            return error
        return RestJsonError(VALIDATION_EXCEPTION, error.message, 400, fields={"reason": reason})

    # ---- responses
    def serialize_response(
        self, operation: OperationModel | str, result: Mapping[str, Any] | None
    ) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)`` of ``operation``'s success for ``result``."""
        if isinstance(operation, str):
            operation = self.operation(operation)
        return serialize_rest_json_output(operation, result)

    def modeled_error(self, shape_name: str) -> ModeledError:
        """Code, HTTP status and fault side of the error shape ``shape_name``."""
        return modeled_error(self.model, shape_name)

    def error_response(
        self,
        code: str,
        message: str | None,
        http_status: int,
        *,
        fields: Mapping[str, Any] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)`` of an error; a modeled error takes the model's status
        and may carry ``fields`` (its members); a common one gets its JSON-protocol name."""
        shape = self._error_shape(code)
        if shape is None:
            code, http_status = json_error_code(code, http_status)
            shape = self._error_shape(code)
        values = dict(fields or {})
        if shape is not None:
            http_status = self.modeled_error(code).http_status
            if code == VALIDATION_EXCEPTION and self._validation_reason:
                values.setdefault("reason", "other")
        else:
            values = {}
        headers, body = serialize_rest_json_error(
            code, message, error_shape=shape, fields=values or None
        )
        return http_status, headers, body


@cache
def get_rest_json_protocol(
    service_name: str, api_version: str | None = None
) -> RestJsonServiceProtocol:
    """The (cached) protocol of a botocore-shipped REST-JSON service (``"accessanalyzer"``)."""
    session = botocore.session.get_session()
    model = session.get_service_model(service_name, api_version=api_version)
    return RestJsonServiceProtocol(model)


def rest_json_protocol_for(signing_name: str) -> RestJsonServiceProtocol:
    """The protocol of the service a SigV4 scope names (``"access-analyzer"``)."""
    return get_rest_json_protocol(REST_JSON_MODELS[signing_name])
