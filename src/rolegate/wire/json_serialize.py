"""AWS JSON protocol (awsJson 1.0 / 1.1), server side: the response serializer.

The mirror image of botocore's ``JSONParser``: one generic writer driven by the output shape.
Member names are the model's (or their ``locationName``); ``None`` values are left out.

Value rules: timestamps are epoch seconds (a JSON integer when whole, else a number with up
to microseconds; ``timestampFormat`` honoured), blobs base64, floats ``NaN`` / ``Infinity`` /
``-Infinity`` as strings, documents as they are. A result member the shape does not know, or a
value of the wrong Python type, is a programming error: ``ValueError`` / ``TypeError``.

Errors are ``{"__type": "<code>", "message": "<message>"}`` (botocore reads the code from
``__type`` after any ``#`` and the message from ``message`` or ``Message``), plus the members
of a modeled error shape.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

from .timestamps import format_timestamp, to_utc

__all__ = ["dump_json", "serialize_error_body", "serialize_operation_output", "to_json_value"]


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON (text that UTF-8 cannot carry, like lone surrogates, is escaped)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def _epoch(value: Any) -> int | float:
    moment = to_utc(value)
    seconds = moment.timestamp()
    if moment.microsecond == 0:
        return int(seconds)
    return round(seconds, 6)


def _scalar(shape: Shape, value: Any, where: str) -> Any:
    type_name: str = shape.type_name
    if type_name == "string":
        if not isinstance(value, str):
            raise TypeError(f"{where}: expected str, got {type(value).__name__}")
        return value
    if type_name == "boolean":
        if not isinstance(value, bool):
            raise TypeError(f"{where}: expected bool, got {type(value).__name__}")
        return value
    if type_name in ("integer", "long", "short", "byte"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where}: expected int, got {type(value).__name__}")
        return value
    if type_name in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{where}: expected a number, got {type(value).__name__}")
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, float) and math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if type_name == "blob":
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, bytes | bytearray):
            raise TypeError(f"{where}: expected bytes, got {type(value).__name__}")
        return base64.b64encode(bytes(value)).decode("ascii")
    if type_name == "timestamp":
        fmt = str(shape.serialization.get("timestampFormat", "unixtimestamp")).lower()
        if fmt == "unixtimestamp":
            return _epoch(value)
        return format_timestamp(value, fmt)
    raise TypeError(f"{where}: unsupported shape type {type_name}")  # pragma: no cover


def to_json_value(shape: Shape, value: Any, where: str = "") -> Any:
    """``value`` (shaped like ``shape``) as the JSON value AWS writes."""
    if getattr(shape, "is_document_type", False):
        return value
    type_name: str = shape.type_name
    if type_name == "structure":
        if not isinstance(value, Mapping):
            raise TypeError(f"{where or shape.name}: expected a mapping for {shape.name}")
        out: dict[str, Any] = {}
        members: Mapping[str, Shape] = shape.members
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                raise ValueError(f"{shape.name} has no member {name!r}")
            if item is None:
                continue
            key = str(member.serialization.get("name", name))
            out[key] = to_json_value(member, item, f"{where}.{name}" if where else name)
        return out
    if type_name == "list":
        if isinstance(value, str | bytes | Mapping):
            raise TypeError(f"{where}: expected a sequence for {shape.name}")
        return [to_json_value(shape.member, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if type_name == "map":
        if not isinstance(value, Mapping):
            raise TypeError(f"{where}: expected a mapping for {shape.name}")
        return {
            str(key): to_json_value(shape.value, item, f"{where}.{key}")
            for key, item in value.items()
            if item is not None
        }
    return _scalar(shape, value, where)


def serialize_operation_output(
    operation: OperationModel, result: Mapping[str, Any] | None
) -> bytes:
    """The success body of ``operation`` for ``result`` (a dict shaped like its output)."""
    body = {k: v for k, v in (result or {}).items() if k != "ResponseMetadata"}
    shape: Shape | None = operation.output_shape
    if shape is None:
        if body:
            raise ValueError(f"{operation.name} has no output, got {sorted(body)}")
        return b"{}"
    return dump_json(to_json_value(shape, body))


def serialize_error_body(
    code: str,
    message: str | None,
    *,
    error_shape: Shape | None = None,
    fields: Mapping[str, Any] | None = None,
) -> bytes:
    """``{"__type": code, "message": message, ...}``; ``fields`` are members of the modeled
    ``error_shape``."""
    body: dict[str, Any] = {"__type": code}
    if message is not None:
        body["message"] = message
    extra = {k: v for k, v in (fields or {}).items() if k not in ("message", "Message")}
    if extra:
        if error_shape is None:
            raise ValueError("fields need the error_shape that declares them")
        body.update(to_json_value(error_shape, extra))
    return dump_json(body)
