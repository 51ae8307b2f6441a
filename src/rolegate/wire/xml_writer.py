"""The XML body writer shared by the Query and REST-XML serializers.

One generic walk of a botocore output shape: structures (members in model order, XML
attributes, flattened lists and maps), lists (``member`` or the member's own name), maps
(``entry`` with custom key/value names) and scalars. The protocols differ only in how a
scalar becomes text (timestamp form, NaN spelled as a string) and in which namespace
declarations an element repeats: both are given to the writer.

A member the shape does not know, a member located outside the body, or a value of the
wrong Python type is a programming error: ``ValueError``/``TypeError``.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from botocore.model import Shape  # type: ignore[import-untyped]

__all__ = ["XmlWriter", "format_float", "namespace_attr", "scalar_text", "xml_escape"]

_INVALID_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPECIAL_FLOATS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

TimestampFormatter = Callable[[Any, str], str]


def xml_escape(text: str, *, attribute: bool = False) -> str:
    """Escape ``text`` for XML character data (or a double-quoted attribute): ``\\r`` as
    ``&#13;`` survives line-end normalisation; code points XML 1.0 cannot carry become
    U+FFFD."""
    text = _INVALID_XML.sub("\ufffd", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def format_float(value: Any, *, named: bool = False) -> str:
    """A float as AWS writes it (``NaN``, ``Infinity``, ``-Infinity``); with ``named``, those
    spellings are accepted as input too."""
    if named and isinstance(value, str) and value in _SPECIAL_FLOATS:
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


def scalar_text(
    shape: Shape,
    value: Any,
    *,
    timestamp: TimestampFormatter,
    default_timestamp: str = "iso8601",
    named_floats: bool = False,
) -> str:
    """The text of a scalar member: booleans ``true``/``false``, blobs base64, timestamps by
    ``timestamp(value, format)`` (the shape's ``timestampFormat`` or ``default_timestamp``)."""
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
        return format_float(value, named=named_floats)
    if type_name == "timestamp":
        return timestamp(value, shape.serialization.get("timestampFormat", default_timestamp))
    if type_name == "blob":
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"{shape.name}: not bytes: {value!r}")
        return base64.b64encode(bytes(value)).decode("ascii")
    if not isinstance(value, str):
        raise TypeError(f"{shape.name}: not a string: {value!r}")
    return value


def namespace_attr(shape: Shape, *, declared: str | None = None) -> str:
    """The ``xmlns`` attribute a shape's ``xmlNamespace`` asks for; none for ``declared``
    (the default namespace already on the root)."""
    namespace = shape.serialization.get("xmlNamespace")
    if not namespace:
        return ""
    if isinstance(namespace, str):
        return f' xmlns="{xml_escape(namespace, attribute=True)}"'
    uri = xml_escape(str(namespace.get("uri", "")), attribute=True)
    prefix = namespace.get("prefix")
    if not prefix and declared is not None and uri == declared:
        return ""
    return f' xmlns:{prefix}="{uri}"' if prefix else f' xmlns="{uri}"'


class XmlWriter:
    """Appends XML text to ``parts``; ``scalar(shape, value)`` gives a scalar's text and
    ``namespace(shape)`` an element's namespace attribute."""

    def __init__(
        self,
        scalar: Callable[[Shape, Any], str],
        namespace: Callable[[Shape], str] = namespace_attr,
    ) -> None:
        self.scalar = scalar
        self.namespace = namespace
        self.parts: list[str] = []

    def element(self, shape: Shape, value: Any, name: str, xmlns: str = "") -> None:
        type_name: str = shape.type_name
        if type_name == "structure":
            self.structure(shape, value, name, xmlns)
        elif type_name == "list":
            if isinstance(value, (str, bytes, Mapping)):
                raise TypeError(f"{shape.name}: not a list: {value!r}")
            element_name = shape.member.serialization.get("name", "member")
            self.parts.append(f"<{name}{xmlns}{self.namespace(shape)}>")
            for item in value:
                self.element(shape.member, item, element_name)
            self.parts.append(f"</{name}>")
        elif type_name == "map":
            self.parts.append(f"<{name}{xmlns}{self.namespace(shape)}>")
            self.map_entries(shape, value, "entry")
            self.parts.append(f"</{name}>")
        else:
            text = xml_escape(self.scalar(shape, value))
            self.parts.append(f"<{name}{xmlns}{self.namespace(shape)}>{text}</{name}>")

    def structure(self, shape: Shape, value: Any, name: str, xmlns: str = "") -> None:
        self.wrap(name, xmlns + self.namespace(shape), self.members(shape, value))

    def wrap(self, name: str, attributes_prefix: str, written: tuple[str, int]) -> None:
        """Put ``<name ...>`` before what `members` wrote (it returned (attributes, start))."""
        attributes, start = written
        self.parts.insert(start, f"<{name}{attributes_prefix}{attributes}>")
        self.parts.append(f"</{name}>")

    def members(self, shape: Shape, value: Any) -> tuple[str, int]:
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
            if serialization.get("location"):
                raise ValueError(f"{shape.name}.{member_name} is not a body member")
            if serialization.get("xmlAttribute"):
                attr = xml_escape(self.scalar(member, item), attribute=True)
                attributes += f' {serialization.get("name", member_name)}="{attr}"'
            elif member.type_name == "list" and serialization.get("flattened"):
                if isinstance(item, (str, bytes, Mapping)):
                    raise TypeError(f"{member.name}: not a list: {item!r}")
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
