"""AWS Query protocol, server side: the XML response serializer (result dict -> XML bytes).

The mirror image of botocore's ``QueryParser``: one generic writer driven by the output shape.
Element names are the ones botocore's parser looks for (``locationName``, ``member`` or the
list member's name, flattened lists and maps, custom map key/value names), so whatever a
handler returns arrives in boto3 exactly as returned.

Value rules: timestamps ISO 8601 UTC with ``Z`` (milliseconds, or microseconds when needed;
``timestampFormat`` honoured), booleans ``true``/``false``, blobs base64, floats with
``NaN``/``Infinity``/``-Infinity``. Text is XML-escaped; ``\\r`` is written as ``&#13;`` so it
survives XML line-end normalisation; code points XML 1.0 cannot carry (``\\x00``, lone
surrogates, ...) become U+FFFD. A result member the shape does not know, or a value of the
wrong Python type, is a programming error: ``ValueError``/``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

from .timestamps import format_timestamp as shared_format_timestamp
from .xml_writer import XmlWriter, scalar_text, xml_escape

__all__ = [
    "EC2_NAMESPACE",
    "format_timestamp",
    "serialize_ec2_error_body",
    "serialize_ec2_result",
    "serialize_error_body",
    "serialize_operation_result",
]

# The namespace EC2 writes (the model's ``xmlNamespace`` lacks the trailing slash).
EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"


def format_timestamp(value: Any, timestamp_format: str = "iso8601") -> str:
    """Format a datetime (naive = UTC), epoch number or ISO string the way AWS Query does."""
    return shared_format_timestamp(value, timestamp_format)


def _scalar(shape: Shape, value: Any) -> str:
    return scalar_text(shape, value, timestamp=format_timestamp, named_floats=True)


def _xmlns(namespace: str | None) -> str:
    return f' xmlns="{xml_escape(namespace, attribute=True)}"' if namespace else ""


def serialize_operation_result(
    operation: OperationModel, result: Mapping[str, Any] | None, request_id: str
) -> bytes:
    """``<OpResponse xmlns=..><OpResult>..</OpResult><ResponseMetadata>..`` for ``result``."""
    name: str = operation.name
    namespace = operation.service_model.metadata.get("xmlNamespace")
    shape: Shape | None = operation.output_shape
    body = {k: v for k, v in (result or {}).items() if k != "ResponseMetadata"}
    writer = XmlWriter(_scalar)
    writer.parts.append(f"<{name}Response{_xmlns(namespace)}>")
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper") or f"{name}Result"
        if body or shape.members or shape.serialization.get("resultWrapper"):
            writer.wrap(wrapper, "", writer.members(shape, body))
    elif body:
        raise ValueError(f"{name} has no output, got {sorted(body)}")
    writer.parts.append(
        f"<ResponseMetadata><RequestId>{xml_escape(request_id)}</RequestId></ResponseMetadata>"
        f"</{name}Response>"
    )
    return "".join(writer.parts).encode("utf-8")


def serialize_error_body(
    *,
    code: str,
    message: str | None,
    request_id: str,
    sender: bool = True,
    namespace: str | None = None,
    error_shape: Shape | None = None,
    fields: Mapping[str, Any] | None = None,
) -> bytes:
    """``<ErrorResponse><Error><Type>..<Code>..<Message>..</Error><RequestId>..``.

    ``fields`` are extra members of the modeled ``error_shape`` written inside ``<Error>``
    (botocore parses a modeled error's members from there).
    """
    writer = XmlWriter(_scalar)
    writer.parts.append(
        f"<ErrorResponse{_xmlns(namespace)}><Error>"
        f"<Type>{'Sender' if sender else 'Receiver'}</Type><Code>{xml_escape(code)}</Code>"
    )
    if message is not None:
        writer.parts.append(f"<Message>{xml_escape(message)}</Message>")
    extra = {k: v for k, v in (fields or {}).items() if k not in ("message", "Message")}
    if extra:
        if error_shape is None:
            raise ValueError("fields need the error_shape that declares them")
        writer.members(error_shape, extra)
    writer.parts.append(f"</Error><RequestId>{xml_escape(request_id)}</RequestId></ErrorResponse>")
    return "".join(writer.parts).encode("utf-8")


def serialize_ec2_result(
    operation: OperationModel, result: Mapping[str, Any] | None, request_id: str
) -> bytes:
    """EC2's variant: ``<OpResponse xmlns=..><requestId>..</requestId>members..``, no result
    wrapper; an operation without output answers ``<return>true</return>``."""
    name: str = operation.name
    shape: Shape | None = operation.output_shape
    body = {k: v for k, v in (result or {}).items() if k != "ResponseMetadata"}
    writer = XmlWriter(_scalar)
    writer.parts.append(
        f"<{name}Response{_xmlns(EC2_NAMESPACE)}><requestId>{xml_escape(request_id)}</requestId>"
    )
    if shape is not None:
        writer.members(shape, body)
    elif body:
        raise ValueError(f"{name} has no output, got {sorted(body)}")
    else:
        writer.parts.append("<return>true</return>")
    writer.parts.append(f"</{name}Response>")
    return "".join(writer.parts).encode("utf-8")


def serialize_ec2_error_body(*, code: str, message: str | None, request_id: str) -> bytes:
    """``<Response><Errors><Error><Code>..<Message>..</Error></Errors><RequestID>..``."""
    text = f"<Message>{xml_escape(message)}</Message>" if message is not None else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{xml_escape(code)}</Code>{text}</Error></Errors>"
        f"<RequestID>{xml_escape(request_id)}</RequestID></Response>"
    ).encode()
