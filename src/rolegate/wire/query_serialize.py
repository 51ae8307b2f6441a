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

import base64
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

from .timestamps import format_timestamp as shared_format_timestamp

__all__ = [
    "format_timestamp",
    "serialize_error_body",
    "serialize_operation_result",
    "xml_escape",
]

_INVALID_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPECIAL_FLOATS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def xml_escape(text: str, *, attribute: bool = False) -> str:
    """Escape ``text`` for XML character data (or a double-quoted attribute)."""
    text = _INVALID_XML.sub("\ufffd", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def format_timestamp(value: Any, timestamp_format: str = "iso8601") -> str:
    """Format a datetime (naive = UTC), epoch number or ISO string the way AWS Query does."""
    return shared_format_timestamp(value, timestamp_format)


def _format_float(value: Any) -> str:
    if isinstance(value, str) and value in _SPECIAL_FLOATS:
        value = _SPECIAL_FLOATS[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _namespace_attr(shape: Shape) -> str:
    namespace = shape.serialization.get("xmlNamespace")
    if not namespace:
        return ""
    if isinstance(namespace, str):
        return f' xmlns="{xml_escape(namespace, attribute=True)}"'
    uri = xml_escape(str(namespace.get("uri", "")), attribute=True)
    prefix = namespace.get("prefix")
    return f' xmlns:{prefix}="{uri}"' if prefix else f' xmlns="{uri}"'


class _XmlWriter:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def element(self, shape: Shape, value: Any, name: str) -> None:
        type_name: str = shape.type_name
        if type_name == "structure":
            self.structure(shape, value, name)
        elif type_name == "list":
            self.list(shape, value, name)
        elif type_name == "map":
            self.map(shape, value, name)
        else:
            text = xml_escape(self.scalar(shape, value))
            self.parts.append(f"<{name}{_namespace_attr(shape)}>{text}</{name}>")

    def scalar(self, shape: Shape, value: Any) -> str:
        type_name: str = shape.type_name
        if type_name == "boolean":
            if not isinstance(value, bool):
                raise TypeError(f"{shape.name}: not a boolean: {value!r}")
            return "true" if value else "false"
        if type_name in ("integer", "long", "short", "byte"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{shape.name}: not an integer: {value!r}")
            return str(value)
        if type_name in ("float", "double"):
            return _format_float(value)
        if type_name == "timestamp":
            return format_timestamp(value, shape.serialization.get("timestampFormat", "iso8601"))
        if type_name == "blob":
            if isinstance(value, str):
                value = value.encode("utf-8")
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise TypeError(f"{shape.name}: not bytes: {value!r}")
            return base64.b64encode(bytes(value)).decode("ascii")
        if not isinstance(value, str):
            raise TypeError(f"{shape.name}: not a string: {value!r}")
        return value

    def members(self, shape: Shape, value: Mapping[str, Any]) -> tuple[str, int]:
        """Write the members of a structure; return its XML attributes and the start index."""
        if not isinstance(value, Mapping):
            raise TypeError(f"{shape.name}: not a mapping: {value!r}")
        members: Mapping[str, Shape] = shape.members
        unknown = [key for key in value if key not in members]
        if unknown:
            raise ValueError(f"{shape.name} has no member(s) {', '.join(map(repr, unknown))}")
        attributes = ""
        start = len(self.parts)
        for member_name, member in members.items():
            item = value.get(member_name)
            if item is None:
                continue
            serialization: Mapping[str, Any] = member.serialization
            if serialization.get("xmlAttribute"):
                attr = xml_escape(self.scalar(member, item), attribute=True)
                attributes += f' {serialization.get("name", member_name)}="{attr}"'
            elif member.type_name == "list" and serialization.get("flattened"):
                element = member.member.serialization.get("name") or serialization.get(
                    "name", member_name
                )
                for entry in item:
                    self.element(member.member, entry, element)
            elif member.type_name == "map" and serialization.get("flattened"):
                self.map_entries(member, item, serialization.get("name", member_name))
            else:
                self.element(member, item, serialization.get("name", member_name))
        return attributes, start

    def structure(self, shape: Shape, value: Mapping[str, Any], name: str) -> None:
        attributes, start = self.members(shape, value)
        self.parts.insert(start, f"<{name}{_namespace_attr(shape)}{attributes}>")
        self.parts.append(f"</{name}>")

    def list(self, shape: Shape, value: Any, name: str) -> None:
        if isinstance(value, (str, bytes, Mapping)):
            raise TypeError(f"{shape.name}: not a list: {value!r}")
        element = shape.member.serialization.get("name", "member")
        self.parts.append(f"<{name}{_namespace_attr(shape)}>")
        for item in value:
            self.element(shape.member, item, element)
        self.parts.append(f"</{name}>")

    def map(self, shape: Shape, value: Any, name: str) -> None:
        self.parts.append(f"<{name}{_namespace_attr(shape)}>")
        self.map_entries(shape, value, "entry")
        self.parts.append(f"</{name}>")

    def map_entries(self, shape: Shape, value: Any, entry_name: str) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(f"{shape.name}: not a mapping: {value!r}")
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        for key, item in value.items():
            self.parts.append(f"<{entry_name}>")
            self.element(shape.key, key, key_name)
            self.element(shape.value, item, value_name)
            self.parts.append(f"</{entry_name}>")


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
    writer = _XmlWriter()
    writer.parts.append(f"<{name}Response{_xmlns(namespace)}>")
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper") or f"{name}Result"
        if body or shape.members or shape.serialization.get("resultWrapper"):
            attributes, start = writer.members(shape, body)
            writer.parts.insert(start, f"<{wrapper}{attributes}>")
            writer.parts.append(f"</{wrapper}>")
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
    writer = _XmlWriter()
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
