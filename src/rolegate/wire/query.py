"""The AWS Query protocol, server side, driven by botocore's service models.

IAM (``2010-05-08``) and STS (``2011-06-15``) speak it: a form-encoded request
(``Action=CreateRole&Version=2010-05-08&RoleName=r&Tags.member.1.Key=k``) and an XML response.
Operations are data: every operation is read and written by one generic parser
(:mod:`rolegate.wire.query_parse`) and one generic serializer
(:mod:`rolegate.wire.query_serialize`) walking the model's shapes, the mirror image of
botocore's ``QuerySerializer`` and ``QueryParser``.

Usage::

    iam = get_protocol("iam")
    operation, params = iam.parse_request(parse_form_body(body))   # QueryProtocolError
    xml = iam.serialize_response(operation, {"Role": {...}}, request_id)
    status, code = iam.error_http_status("NoSuchEntityException")   # (404, "NoSuchEntity")
    xml = iam.serialize_error(code, "The role ...", status, request_id)

Parsed params use botocore's Python types: ``str``, ``int``, ``float``, ``bool``, ``bytes``
(blobs), timezone-aware UTC ``datetime`` (timestamps), ``list``, ``dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, TypeAlias

import botocore.session  # type: ignore[import-untyped]
from botocore.model import (  # type: ignore[import-untyped]
    OperationModel,
    ServiceModel,
)

from rolegate.wire.protocol_errors import ModeledError, modeled_error
from rolegate.wire.query_parse import (
    EC2_DIALECT,
    QUERY_DIALECT,
    FormInput,
    QueryProtocolError,
    parse_form_body,
    parse_operation_request,
)
from rolegate.wire.query_serialize import (
    serialize_ec2_error_body,
    serialize_ec2_result,
    serialize_error_body,
    serialize_operation_result,
)

__all__ = [
    "ModeledError",
    "QueryProtocolError",
    "ServiceProtocol",
    "error_http_status",
    "get_protocol",
    "parse_form_body",
    "parse_request",
    "serialize_error",
    "serialize_response",
]


class ServiceProtocol:
    """One query-protocol service model and the operations on it; EC2's variant of the
    protocol (``ec2``: its own input names and flattened lists, no result wrapper, errors in
    ``<Response><Errors>``) for a model of that protocol."""

    def __init__(self, model: ServiceModel) -> None:
        protocols = model.metadata.get("protocols") or [model.metadata.get("protocol")]
        if "query" not in protocols and "ec2" not in protocols:
            raise ValueError(f"{model.service_name}: not a query-protocol model ({protocols})")
        self.model = model
        self.is_ec2 = "query" not in protocols
        self._dialect = EC2_DIALECT if self.is_ec2 else QUERY_DIALECT
        self._errors_by_code: dict[str, ModeledError] | None = None

    @classmethod
    def from_model(
        cls, description: Mapping[str, Any], service_name: str | None = None
    ) -> ServiceProtocol:
        """Build from a raw model dict (``metadata``/``operations``/``shapes``)."""
        return cls(ServiceModel(dict(description), service_name=service_name))

    @property
    def service_name(self) -> str:
        return str(self.model.service_name)

    @property
    def api_version(self) -> str:
        return str(self.model.metadata.get("apiVersion", ""))

    @property
    def xml_namespace(self) -> str | None:
        namespace = self.model.metadata.get("xmlNamespace")
        return str(namespace) if namespace else None

    def operation(self, name: str) -> OperationModel:
        """The operation model for ``name`` (``KeyError`` if the service has none)."""
        if name not in self.model.operation_names:
            raise KeyError(name)
        return self.model.operation_model(name)

    # ---- requests
    def parse_request(self, form: FormInput) -> tuple[OperationModel, dict[str, Any]]:
        """Resolve ``Action``/``Version`` and parse, type and validate the params.

        Raises :class:`QueryProtocolError` (``MissingAction``, ``InvalidAction``,
        ``ValidationError``, ``InvalidParameterValue``) for anything a client could send.
        """
        return parse_operation_request(self.model, form, self._dialect)

    # ---- responses
    def serialize_response(
        self, operation: OperationModel | str, result: Mapping[str, Any] | None, request_id: str
    ) -> bytes:
        """The success XML of ``operation`` for ``result`` (a dict shaped like its output)."""
        if isinstance(operation, str):
            operation = self.operation(operation)
        if self.is_ec2:
            return serialize_ec2_result(operation, result, request_id)
        return serialize_operation_result(operation, result, request_id)

    def serialize_error(
        self,
        code: str,
        message: str | None,
        http_status: int,
        request_id: str,
        sender: bool = True,
        *,
        error_shape: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The ``ErrorResponse`` XML body; ``http_status`` goes on the HTTP response.

        ``error_shape``/``fields`` add the members of a modeled error inside ``<Error>``.
        """
        if not 300 <= http_status <= 599:
            raise ValueError(f"not an error status: {http_status}")
        if self.is_ec2:
            return serialize_ec2_error_body(code=code, message=message, request_id=request_id)
        shape = self.model.shape_for(error_shape) if error_shape else None
        return serialize_error_body(
            code=code,
            message=message,
            request_id=request_id,
            sender=sender,
            namespace=self.xml_namespace,
            error_shape=shape,
            fields=fields,
        )

    def error_body(self, error: QueryProtocolError, request_id: str) -> tuple[int, bytes]:
        """``(http_status, ErrorResponse XML)`` for a raised :class:`QueryProtocolError`."""
        body = self.serialize_error(
            error.code, error.message, error.http_status, request_id, error.sender
        )
        return error.http_status, body

    # ---- modeled errors
    def modeled_error(self, shape_name: str) -> ModeledError:
        """Code, HTTP status and fault side of the error shape ``shape_name``."""
        return modeled_error(self.model, shape_name)

    def error_http_status(self, shape_name: str) -> tuple[int, str]:
        """``(http_status, code)`` of a modeled error shape, e.g. ``(404, "NoSuchEntity")``."""
        error = self.modeled_error(shape_name)
        return error.http_status, error.code

    def modeled_error_for_code(self, code: str) -> ModeledError | None:
        """The modeled error whose wire code is ``code`` (``None`` if the model has none)."""
        if self._errors_by_code is None:
            table: dict[str, ModeledError] = {}
            for shape in self.model.error_shapes:
                error = self.modeled_error(shape.name)
                table.setdefault(error.code, error)
            self._errors_by_code = table
        return self._errors_by_code.get(code)

    def error(self, shape_name: str, message: str) -> QueryProtocolError:
        """A raisable :class:`QueryProtocolError` for a modeled error shape."""
        info = self.modeled_error(shape_name)
        return QueryProtocolError(info.code, message, info.http_status, sender=info.sender_fault)


@cache
def _load(service_name: str, api_version: str | None) -> ServiceProtocol:
    session = botocore.session.get_session()
    return ServiceProtocol(session.get_service_model(service_name, api_version=api_version))


def get_protocol(service_name: str, api_version: str | None = None) -> ServiceProtocol:
    """The (cached) protocol of a botocore-shipped service, e.g. ``"iam"`` or ``"sts"``."""
    return _load(service_name, api_version)


ServiceRef: TypeAlias = str | ServiceProtocol | ServiceModel | Mapping[str, Any]


def _resolve(service: ServiceRef) -> ServiceProtocol:
    if isinstance(service, ServiceProtocol):
        return service
    if isinstance(service, str):
        return get_protocol(service)
    if isinstance(service, ServiceModel):
        return ServiceProtocol(service)
    return ServiceProtocol.from_model(service)


def parse_request(service: ServiceRef, form: FormInput) -> tuple[OperationModel, dict[str, Any]]:
    """See :meth:`ServiceProtocol.parse_request`."""
    return _resolve(service).parse_request(form)


def serialize_response(
    operation: OperationModel, result: Mapping[str, Any] | None, request_id: str
) -> bytes:
    """See :meth:`ServiceProtocol.serialize_response`."""
    if operation.metadata.get("protocol") == "ec2":
        return serialize_ec2_result(operation, result, request_id)
    return serialize_operation_result(operation, result, request_id)


def serialize_error(
    service: ServiceRef,
    code: str,
    message: str | None,
    http_status: int,
    request_id: str,
    sender: bool = True,
    *,
    error_shape: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> bytes:
    """See :meth:`ServiceProtocol.serialize_error`."""
    return _resolve(service).serialize_error(
        code, message, http_status, request_id, sender, error_shape=error_shape, fields=fields
    )


def error_http_status(service: ServiceRef, shape_name: str) -> tuple[int, str]:
    """See :meth:`ServiceProtocol.error_http_status`."""
    return _resolve(service).error_http_status(shape_name)
