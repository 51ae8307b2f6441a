"""AWS REST-XML protocol (S3), server side: the response serializer (result -> HTTP response).

The mirror image of botocore's ``RestXMLParser``: one generic writer driven by the output
shape. Members located in ``header`` become headers (timestamps in HTTP date format unless
the model says otherwise, booleans ``true``/``false``, lists comma-joined), ``headers`` prefix
maps become one header per key (``x-amz-meta-color``), a ``statusCode`` member is the status,
and the rest is the XML body: the ``payload`` member when the shape names one, otherwise all
body members, under the root element S3 uses for the operation (``ListBucketResult`` for
ListObjectsV2, ...) in the S3 namespace. XML timestamps are ISO 8601 with milliseconds and
``Z``. A streaming payload (GetObject ``Body``) is not serialized: the body is ``None`` and the
caller streams it.

A result member the shape does not know, or a value of the wrong Python type, is a
programming error: ``ValueError``/``TypeError``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

from .timestamps import format_timestamp
from .xml_writer import XmlWriter, namespace_attr, scalar_text, xml_escape

__all__ = [
    "S3_NAMESPACE",
    "S3_ROOT_ELEMENTS",
    "XML_DECLARATION",
    "format_header_timestamp",
    "format_xml_timestamp",
    "serialize_error_document",
    "serialize_operation_response",
]

S3_NAMESPACE: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'

#: The root element S3 writes for operations whose output shape does not name one (botocore
#: ignores the root's name; other SDKs and tools do not).
S3_ROOT_ELEMENTS: Final[Mapping[str, str]] = {
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CreateSession": "CreateSessionResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketAcl": "AccessControlPolicy",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetObjectAcl": "AccessControlPolicy",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetObjectTagging": "Tagging",
    "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
    "ListBucketIntelligentTieringConfigurations": (
        "ListBucketIntelligentTieringConfigurationsOutput"
    ),
    "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListObjectVersions": "ListVersionsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListParts": "ListPartsResult",
}

#: Operations whose body is one element holding a scalar (the model cannot say so).
_SCALAR_BODY: Final = {"GetBucketLocation": "LocationConstraint"}
_FORBIDDEN_IN_HEADER: Final = frozenset("\r\n\x00")


def format_xml_timestamp(value: Any, timestamp_format: str = "iso8601") -> str:
    """``2009-10-12T17:50:30.000Z`` (S3's form), or ``rfc822``/``unixTimestamp``."""
    return format_timestamp(value, timestamp_format, always_millis=True)


def format_header_timestamp(value: Any, timestamp_format: str = "rfc822") -> str:
    """``Wed, 12 Oct 2009 17:50:00 GMT`` (HTTP date) unless the model asks otherwise."""
    return format_xml_timestamp(value, timestamp_format)


def _scalar_text(shape: Shape, value: Any, default_timestamp: str) -> str:
    return scalar_text(
        shape, value, timestamp=format_xml_timestamp, default_timestamp=default_timestamp
    )


def _body_scalar(shape: Shape, value: Any) -> str:
    return _scalar_text(shape, value, "iso8601")


def _body_namespace(shape: Shape) -> str:
    return namespace_attr(shape, declared=S3_NAMESPACE)  # the root declares S3's namespace


# --------------------------------------------------------------------------- headers


def _quote_list_item(item: str) -> str:
    if '"' in item or "," in item:
        return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return item


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "list":
        if isinstance(value, (str, bytes, Mapping)):
            raise TypeError(f"{shape.name}: not a list: {value!r}")
        return ",".join(
            _quote_list_item(_header_text(shape.member, item)) for item in value if item is not None
        )
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        text = json.dumps(value, separators=(",", ":"))
        return base64.b64encode(text.encode("utf-8")).decode("ascii")
    return _scalar_text(shape, value, "rfc822")


def _checked_header(name: str, value: str) -> tuple[str, str]:
    if _FORBIDDEN_IN_HEADER.intersection(name) or _FORBIDDEN_IN_HEADER.intersection(value):
        raise ValueError(f"header {name!r} cannot carry {value!r}")
    return name, value


# --------------------------------------------------------------------------- XML


_ROOT_XMLNS: Final = f' xmlns="{S3_NAMESPACE}"'


def _root_name(operation: OperationModel, shape: Shape, payload_name: str | None) -> str:
    if "name" in shape.serialization:
        return str(shape.serialization["name"])
    if payload_name is not None:
        return payload_name
    name: str = operation.name
    return S3_ROOT_ELEMENTS.get(name, f"{name}Result")


# --------------------------------------------------------------------------- entry point


def serialize_operation_response(
    operation: OperationModel, result: Mapping[str, Any] | None
) -> tuple[int, list[tuple[str, str]], bytes | None]:
    """``(status, headers, body)`` of ``operation`` for ``result`` (see module docstring)."""
    name: str = operation.name
    status = int(operation.http.get("responseCode", 200))
    values = {k: v for k, v in (result or {}).items() if k != "ResponseMetadata"}
    shape: Shape | None = operation.output_shape
    headers: list[tuple[str, str]] = []
    if name in _SCALAR_BODY:
        text = values.pop(_SCALAR_BODY[name], None)
        if values:
            raise ValueError(f"{name} has no member(s) {sorted(values)}")
        inner = xml_escape(str(text)) if text else ""
        root = _SCALAR_BODY[name]
        body = f"{XML_DECLARATION}<{root}{_ROOT_XMLNS}>{inner}</{root}>"
        return status, headers, body.encode("utf-8")
    if shape is None:
        if values:
            raise ValueError(f"{name} has no output, got {sorted(values)}")
        return status, headers, b""
    members: Mapping[str, Shape] = shape.members
    unknown = [key for key in values if key not in members]
    if unknown:
        raise ValueError(f"{shape.name} has no member(s) {', '.join(map(repr, unknown))}")
    payload_name: str | None = shape.serialization.get("payload")
    body_values: dict[str, Any] = {}
    has_body_members = False
    for member_name, member in members.items():
        serialization: Mapping[str, Any] = member.serialization
        location = serialization.get("location")
        wire_name = str(serialization.get("name", member_name))
        value = values.get(member_name)
        if location is None:
            has_body_members = has_body_members or member_name != payload_name
            if value is not None and member_name != payload_name:
                body_values[member_name] = value
            continue
        if value is None:
            continue
        if location == "statusCode":
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{member_name}: not a status code: {value!r}")
            status = value
        elif location == "header":
            if member.type_name == "list" and not value:
                continue
            headers.append(_checked_header(wire_name, _header_text(member, value)))
        elif location == "headers":
            if not isinstance(value, Mapping):
                raise TypeError(f"{member_name}: not a mapping: {value!r}")
            for key, item in value.items():
                headers.append(
                    _checked_header(f"{wire_name}{key}", _header_text(member.value, item))
                )
        else:
            raise ValueError(f"{member_name}: unsupported location {location!r}")

    if payload_name is not None:
        payload: Shape = members[payload_name]
        value = values.get(payload_name)
        if payload.type_name == "structure":
            if value is None:
                return status, headers, b""
            writer = XmlWriter(_body_scalar, _body_namespace)
            writer.structure(
                payload, value, _root_name(operation, payload, payload_name), _ROOT_XMLNS
            )
            return status, headers, (XML_DECLARATION + "".join(writer.parts)).encode("utf-8")
        if payload.serialization.get("streaming") or payload.serialization.get("eventstream"):
            return status, headers, None
        if value is None:
            return status, headers, b""
        if isinstance(value, str):
            return status, headers, value.encode("utf-8")
        if isinstance(value, (bytes, bytearray, memoryview)):
            return status, headers, bytes(value)
        raise TypeError(f"{payload_name}: not text or bytes: {value!r}")
    if not has_body_members:
        return status, headers, b""
    writer = XmlWriter(_body_scalar, _body_namespace)
    writer.structure(shape, body_values, _root_name(operation, shape, None), _ROOT_XMLNS)
    return status, headers, (XML_DECLARATION + "".join(writer.parts)).encode("utf-8")


def serialize_error_document(
    code: str,
    message: str | None,
    *,
    resource: str | None = None,
    request_id: str | None = None,
    host_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """``<?xml ...?><Error><Code/><Message/>...extra...<Resource/><RequestId/></Error>``."""
    parts = [XML_DECLARATION, "<Error>", f"<Code>{xml_escape(code)}</Code>"]
    if message is not None:
        parts.append(f"<Message>{xml_escape(message)}</Message>")
    for key, value in (extra or {}).items():
        if key in ("Code", "Message", "Resource", "RequestId", "HostId") or value is None:
            continue
        if not key or not all(c.isalnum() or c in "-_." for c in key) or key[0].isdigit():
            raise ValueError(f"not an element name: {key!r}")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, datetime):
            text = format_xml_timestamp(value)
        else:
            text = str(value)
        parts.append(f"<{key}>{xml_escape(text)}</{key}>")
    if resource is not None:
        parts.append(f"<Resource>{xml_escape(resource)}</Resource>")
    if request_id is not None:
        parts.append(f"<RequestId>{xml_escape(request_id)}</RequestId>")
    if host_id is not None:
        parts.append(f"<HostId>{xml_escape(host_id)}</HostId>")
    parts.append("</Error>")
    return "".join(parts).encode("utf-8")
