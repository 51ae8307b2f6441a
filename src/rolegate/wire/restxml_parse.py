"""AWS REST-XML protocol (S3), server side: the request parser (HTTP request -> params).

The mirror image of botocore's ``RestXMLSerializer``: one generic parser driven by the
operation's input shape. Every member is read from where botocore writes it: ``uri`` labels
(greedy ``{Key+}`` included), ``querystring`` (scalars, lists, and a map member collecting the
parameters nobody else claims), ``header`` (typed), ``headers`` (prefix maps such as
``x-amz-meta-``) and the body (a structure ``payload`` member, or the input shape's own body
members, parsed from XML). A blob or string payload that is streamed (PutObject ``Body``) is
left out: the caller streams it.

XML is read with expat directly, into a tiny tree: a document type declaration (and so any
entity declaration) is refused, as are documents nested deeper than :data:`MAX_XML_DEPTH`.

Errors are :class:`RestXmlError` (S3 error code, message, HTTP status, extra ``<Error>``
fields): ``MalformedXML`` 400 for a body that is not well-formed or does not fit the shape,
``InvalidArgument`` 400 for a header or query value that cannot be read as its type.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, NoReturn
from xml.parsers import expat

from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

__all__ = [
    "MALFORMED_XML_MESSAGE",
    "MAX_XML_DEPTH",
    "RestXmlError",
    "parse_operation_request",
    "parse_xml",
    "read_timestamp",
    "split_header_list",
]

MALFORMED_XML_MESSAGE: Final = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)
#: Deepest element nesting accepted in a request body.
MAX_XML_DEPTH: Final = 64


class RestXmlError(Exception):
    """An error to return to the client as an S3 ``<Error>`` document."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra: dict[str, str] = dict(extra or {})

    def __repr__(self) -> str:
        return (
            f"RestXmlError({self.code!r}, {self.message!r}, {self.status!r}, extra={self.extra!r})"
        )


def _malformed() -> RestXmlError:
    return RestXmlError("MalformedXML", MALFORMED_XML_MESSAGE, 400)


def _invalid_argument(name: str, value: str, what: str) -> RestXmlError:
    return RestXmlError(
        "InvalidArgument",
        f"Invalid value for {name}: expected {what}.",
        400,
        extra={"ArgumentName": name, "ArgumentValue": value},
    )


# --------------------------------------------------------------------------- safe XML


@dataclass(slots=True)
class _Element:
    tag: str  # local name, namespace dropped
    attrib: dict[str, str] = field(default_factory=dict)  # local names too
    children: list[_Element] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def _local(name: str) -> str:
    # expat with namespace_separator=" " reports "uri local"
    return name.rpartition(" ")[2]


class _Forbidden(Exception):
    pass


def _forbid(*_args: Any) -> NoReturn:
    raise _Forbidden


def parse_xml(body: bytes) -> _Element:
    """Parse ``body`` into an element tree; ``MalformedXML`` for anything else."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Element] = []
    roots: list[_Element] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_XML_DEPTH:
            raise _Forbidden
        element = _Element(_local(name), {_local(k): v for k, v in attrs.items()})
        if stack:
            stack[-1].children.append(element)
        else:
            roots.append(element)
        stack.append(element)

    def end(_name: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].text_parts.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, _Forbidden, ValueError, RecursionError) as exc:
        raise _malformed() from exc
    if len(roots) != 1:
        raise _malformed()
    return roots[0]


# --------------------------------------------------------------------------- scalar readers

_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE: Final = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]?Infinity"
)
_INT_BITS: Final = {"byte": 8, "short": 16, "integer": 32, "long": 64}
_TIMESTAMP_FORMATS: Final = ("iso8601", "rfc822", "unixtimestamp")


def _read_timestamp_as(raw: str, fmt: str) -> datetime:
    text = raw.strip()
    if fmt == "unixtimestamp":
        if not _FLOAT_RE.fullmatch(text) or not math.isfinite(float(text)):
            raise ValueError(raw)
        return datetime.fromtimestamp(float(text), UTC)
    if fmt == "rfc822":
        parsed = parsedate_to_datetime(text)
    else:
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def read_timestamp(raw: str, fmt: str) -> datetime:
    """``raw`` in format ``fmt`` (or, leniently, any other AWS timestamp format)."""
    fmt = fmt.lower()
    for candidate in (fmt, *(f for f in _TIMESTAMP_FORMATS if f != fmt)):
        try:
            return _read_timestamp_as(raw, candidate)
        except (ValueError, TypeError, OverflowError, OSError, IndexError):
            continue
    raise ValueError(f"not a timestamp: {raw!r}")


def _read_scalar(shape: Shape, raw: str, default_timestamp: str) -> Any:
    """``raw`` as ``shape``'s Python type; ``ValueError`` when it is not one."""
    type_name: str = shape.type_name
    if type_name in _INT_BITS:
        text = raw.strip()
        if not _INT_RE.fullmatch(text):
            raise ValueError(raw)
        value = int(text)
        bound = 1 << (_INT_BITS[type_name] - 1)
        if not -bound <= value < bound:
            raise ValueError(raw)
        return value
    if type_name in ("float", "double"):
        text = raw.strip()
        if not _FLOAT_RE.fullmatch(text):
            raise ValueError(raw)
        return float(text)
    if type_name == "boolean":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(raw)
        return lowered == "true"
    if type_name == "timestamp":
        return read_timestamp(raw, shape.serialization.get("timestampFormat", default_timestamp))
    if type_name == "blob":
        try:
            return base64.b64decode(raw.strip().encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValueError(raw) from exc
    return raw


def _expected(shape: Shape) -> str:
    type_name: str = shape.type_name
    if type_name in _INT_BITS:
        return f"a {type_name}"
    if type_name == "timestamp":
        return "a date"
    if type_name == "blob":
        return "base64-encoded data"
    return {"boolean": "true or false", "float": "a number", "double": "a number"}.get(
        type_name, type_name
    )


# --------------------------------------------------------------------------- headers


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header list (RFC 7230), unquoting ``"a,b"`` items."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    was_quoted = False
    i = 0
    while i < len(value):
        char = value[i]
        if quoted:
            if char == "\\" and i + 1 < len(value):
                current.append(value[i + 1])
                i += 2
                continue
            if char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"' and not "".join(current).strip():
            quoted, was_quoted, current = True, True, []
        elif char == ",":
            items.append("".join(current) if was_quoted else "".join(current).strip())
            current, was_quoted = [], False
        elif not (was_quoted and char in " \t"):
            current.append(char)
        i += 1
    if quoted:
        raise ValueError(f"unterminated quoted string in {value!r}")
    items.append("".join(current) if was_quoted else "".join(current).strip())
    return [item for item in items if item or len(items) == 1]


def _is_json_value(shape: Shape) -> bool:
    return bool(shape.type_name == "string" and shape.serialization.get("jsonvalue"))


def _read_header(shape: Shape, name: str, raw: str) -> Any:
    try:
        if shape.type_name == "list":
            return [_read_header(shape.member, name, item) for item in split_header_list(raw)]
        if _is_json_value(shape):
            return json.loads(base64.b64decode(raw.encode("ascii"), validate=True))
        return _read_scalar(shape, raw, "rfc822")
    except RestXmlError:
        raise
    except (ValueError, TypeError, UnicodeError, RecursionError, binascii.Error) as exc:
        raise _invalid_argument(name, raw, _expected(shape)) from exc


# --------------------------------------------------------------------------- XML payload


def _xml_value(shape: Shape, element: _Element, depth: int) -> Any:
    if depth > MAX_XML_DEPTH:
        raise _malformed()
    type_name: str = shape.type_name
    if type_name == "structure":
        return _xml_structure(shape, element, depth)
    if type_name == "list":
        element_name = shape.member.serialization.get("name", "member")
        return [
            _xml_value(shape.member, child, depth + 1)
            for child in element.children
            if child.tag == element_name
        ]
    if type_name == "map":
        return _xml_map_entries(shape, [c for c in element.children if c.tag == "entry"], depth)
    if element.children:
        raise _malformed()
    try:
        return _read_scalar(shape, element.text, "iso8601")
    except (ValueError, TypeError, OverflowError) as exc:
        raise _malformed() from exc


def _xml_map_entries(shape: Shape, entries: list[_Element], depth: int) -> dict[Any, Any]:
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    result: dict[Any, Any] = {}
    for entry in entries:
        key_el = next((c for c in entry.children if c.tag == key_name), None)
        value_el = next((c for c in entry.children if c.tag == value_name), None)
        if key_el is None or value_el is None:
            raise _malformed()
        result[_xml_value(shape.key, key_el, depth + 1)] = _xml_value(
            shape.value, value_el, depth + 1
        )
    return result


def _member_xml_name(member: Shape, member_name: str) -> str:
    """The element name of a structure member, as botocore's parser looks it up."""
    serialization: Mapping[str, Any] = member.serialization
    if member.type_name == "list" and serialization.get("flattened"):
        element_name = member.member.serialization.get("name")
        if element_name:
            return str(element_name)
    return str(serialization.get("name", member_name))


def _xml_structure(shape: Shape, element: _Element, depth: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    by_tag: dict[str, list[_Element]] = {}
    for child in element.children:
        by_tag.setdefault(child.tag, []).append(child)
    for member_name, member in shape.members.items():
        serialization: Mapping[str, Any] = member.serialization
        if serialization.get("location"):
            continue
        if serialization.get("xmlAttribute"):
            attr_name = str(serialization.get("name", member_name)).rpartition(":")[2]
            if attr_name in element.attrib:
                result[member_name] = element.attrib[attr_name]
            continue
        found = by_tag.get(_member_xml_name(member, member_name))
        if not found:
            continue
        flattened = bool(serialization.get("flattened"))
        if member.type_name == "list" and flattened:
            result[member_name] = [_xml_value(member.member, e, depth + 1) for e in found]
        elif member.type_name == "map" and flattened:
            result[member_name] = _xml_map_entries(member, found, depth)
        elif len(found) > 1:
            raise _malformed()
        else:
            result[member_name] = _xml_value(member, found[0], depth + 1)
    return result


def _parse_xml_payload(shape: Shape, root_name: str, body: bytes) -> dict[str, Any]:
    root = parse_xml(body)
    if root.tag != root_name:
        raise _malformed()
    return _xml_structure(shape, root, 1)


# --------------------------------------------------------------------------- entry point


def _static_query_keys(operation: OperationModel) -> set[str]:
    _, _, query = str(operation.http.get("requestUri", "")).partition("?")
    return {part.partition("=")[0] for part in query.split("&") if part}


def parse_operation_request(
    operation: OperationModel,
    *,
    uri_labels: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    body: bytes | None,
) -> dict[str, Any]:
    """The input params of ``operation`` for one HTTP request (see module docstring)."""
    shape: Shape | None = operation.input_shape
    if shape is None:
        return {}
    header_values: dict[str, list[str]] = {}
    for name, value in headers:
        header_values.setdefault(name.strip().lower(), []).append(value)
    query_values: dict[str, list[str]] = {}
    for name, value in query:
        query_values.setdefault(name, []).append(value)
    claimed_query = _static_query_keys(operation)
    for member in shape.members.values():
        if member.serialization.get("location") == "querystring" and member.type_name != "map":
            claimed_query.add(str(member.serialization.get("name")))

    params: dict[str, Any] = {}
    payload_name: str | None = shape.serialization.get("payload")
    has_body_members = False
    for member_name, member in shape.members.items():
        serialization: Mapping[str, Any] = member.serialization
        location = serialization.get("location")
        wire_name = str(serialization.get("name", member_name))
        if location == "uri":
            raw = uri_labels.get(wire_name, uri_labels.get(wire_name + "+"))
            if raw is not None:
                params[member_name] = _read_query(member, wire_name, raw)
        elif location == "querystring":
            value = _query_member(member, wire_name, query_values, claimed_query)
            if value is not None:
                params[member_name] = value
        elif location == "header":
            values = header_values.get(wire_name.lower())
            if values is not None:
                params[member_name] = _read_header(member, wire_name, ",".join(values))
        elif location == "headers":
            prefix = wire_name.lower()
            found = {
                name[len(prefix) :]: ",".join(values)
                for name, values in header_values.items()
                if name.startswith(prefix) and len(name) > len(prefix)
            }
            if found:
                params[member_name] = found
        elif member_name != payload_name and location is None:
            has_body_members = True

    if payload_name is not None:
        payload: Shape = shape.members[payload_name]
        if payload.type_name == "structure":
            if body:
                root_name = str(payload.serialization.get("name", payload_name))
                params[payload_name] = _parse_xml_payload(payload, root_name, body)
        elif not payload.serialization.get("streaming") and body is not None:
            if payload.type_name == "string":
                try:
                    params[payload_name] = body.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _invalid_argument(payload_name, "<body>", "UTF-8 text") from exc
            elif payload.type_name == "blob":
                params[payload_name] = bytes(body)
    elif has_body_members and body:
        root_name = str(shape.serialization.get("name", shape.name))
        params.update(_parse_xml_payload(shape, root_name, body))
    return params


def _read_query(member: Shape, name: str, raw: str) -> Any:
    try:
        return _read_scalar(member, raw, "iso8601")
    except (ValueError, TypeError, OverflowError) as exc:
        raise _invalid_argument(name, raw, _expected(member)) from exc


def _query_member(
    member: Shape, name: str, values: Mapping[str, list[str]], claimed: set[str]
) -> Any:
    if member.type_name == "map":
        listed = member.value.type_name == "list"
        found: dict[str, Any] = {}
        for key, items in values.items():
            if key in claimed:
                continue
            if listed:
                found[key] = [_read_query(member.value.member, key, v) for v in items]
            else:
                found[key] = _read_query(member.value, key, items[0])
        return found or None
    raw_items = values.get(name)
    if raw_items is None:
        return None
    if member.type_name == "list":
        return [_read_query(member.member, name, v) for v in raw_items]
    return _read_query(member, name, raw_items[0])
