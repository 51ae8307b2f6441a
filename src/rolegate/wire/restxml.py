"""The AWS REST-XML protocol (S3), server side, driven by botocore's ``s3`` service model.

The REST sibling of :mod:`rolegate.wire.query`: operations are data, read by one generic
parser (:mod:`rolegate.wire.restxml_parse`) and written by one generic serializer
(:mod:`rolegate.wire.restxml_serialize`) walking the model's shapes, the mirror image of
botocore's ``RestXMLSerializer`` and ``RestXMLParser``.

Usage::

    params = parse_rest_request(
        "PutObject",
        uri_labels={"Bucket": "b", "Key": "a/b.txt"},     # decoded label values
        query=[("x-id", "PutObject")],                     # decoded pairs
        headers=[("Content-Type", "text/plain"), ("x-amz-meta-color", "red")],
        body=None,                                         # streamed: PutObject Body
    )                                                      # raises RestXmlError
    status, headers, body = serialize_rest_response("GetObject", {"ContentLength": 3, ...})
    xml = serialize_s3_error("NoSuchKey", "The specified key does not exist.",
                             resource="/b/k", request_id="...", extra={"Key": "k"})

Parsed params use botocore's Python types: ``str``, ``int``, ``float``, ``bool``, ``bytes``
(blobs), timezone-aware UTC ``datetime`` (timestamps), ``list``, ``dict``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import botocore.session  # type: ignore[import-untyped]
from botocore.model import OperationModel, ServiceModel  # type: ignore[import-untyped]

from rolegate.wire.restxml_parse import (
    MALFORMED_XML_MESSAGE,
    RestXmlError,
    parse_operation_request,
    split_header_list,
)
from rolegate.wire.restxml_serialize import (
    S3_NAMESPACE,
    S3_ROOT_ELEMENTS,
    format_header_timestamp,
    format_xml_timestamp,
    serialize_error_document,
    serialize_operation_response,
)

__all__ = [
    "MALFORMED_XML_MESSAGE",
    "S3_NAMESPACE",
    "S3_ROOT_ELEMENTS",
    "RestXmlError",
    "error_document",
    "format_header_timestamp",
    "format_xml_timestamp",
    "get_s3_model",
    "operation_model",
    "parse_rest_request",
    "serialize_rest_response",
    "serialize_s3_error",
    "split_header_list",
]


@cache
def _load(service_name: str, api_version: str | None) -> ServiceModel:
    session = botocore.session.get_session()
    model = session.get_service_model(service_name, api_version=api_version)
    protocols = model.metadata.get("protocols") or [model.metadata.get("protocol")]
    if "rest-xml" not in protocols:
        raise ValueError(f"{service_name}: not a rest-xml model ({protocols})")
    return model


def get_s3_model(service_name: str = "s3", api_version: str | None = None) -> ServiceModel:
    """The (cached) botocore service model of a rest-xml service, ``s3`` by default."""
    return _load(service_name, api_version)


def operation_model(operation: str | OperationModel, service_name: str = "s3") -> OperationModel:
    """The operation model for ``operation`` (``KeyError`` if the service has none)."""
    if isinstance(operation, OperationModel):
        return operation
    model = get_s3_model(service_name)
    if operation not in model.operation_names:
        raise KeyError(operation)
    return model.operation_model(operation)


def parse_rest_request(
    operation_name: str | OperationModel,
    *,
    uri_labels: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    body: bytes | None,
) -> dict[str, Any]:
    """The operation's input params from an HTTP request, as boto3's client would give them.

    ``uri_labels`` are the decoded values of the request URI's labels (``Key`` or ``Key+``),
    ``query`` the decoded query pairs, ``headers`` every header line (names case-insensitive,
    repeated ones joined with ``,``), ``body`` the request body when the operation reads one
    from XML (``None``/empty: no payload). A streaming payload is never read. Raises
    :class:`RestXmlError` (``MalformedXML``, ``InvalidArgument``).
    """
    return parse_operation_request(
        operation_model(operation_name),
        uri_labels=uri_labels,
        query=query,
        headers=headers,
        body=body,
    )


def serialize_rest_response(
    operation_name: str | OperationModel, result: Mapping[str, Any] | None
) -> tuple[int, list[tuple[str, str]], bytes | None]:
    """``(status, headers, body)`` for ``result`` (a dict shaped like the operation's output).

    ``body`` is ``None`` when the output's payload is streamed (GetObject ``Body``): the caller
    sends it. ``status`` is the model's ``responseCode`` (204 for most deletes), 200 otherwise,
    or a ``statusCode`` member; the caller may still change it (206 for a range).
    """
    return serialize_operation_response(operation_model(operation_name), result)


def serialize_s3_error(
    code: str,
    message: str | None,
    *,
    resource: str | None = None,
    request_id: str | None = None,
    host_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The S3 ``<Error>`` document (``extra`` adds elements such as ``<Key>``, ``<BucketName>``)."""
    return serialize_error_document(
        code, message, resource=resource, request_id=request_id, host_id=host_id, extra=extra
    )


def error_document(
    error: RestXmlError, *, request_id: str | None = None, resource: str | None = None
) -> tuple[int, bytes]:
    """``(status, <Error> XML)`` for a raised :class:`RestXmlError`."""
    body = serialize_error_document(
        error.code, error.message, resource=resource, request_id=request_id, extra=error.extra
    )
    return error.status, body
