"""AWS JSON protocol (awsJson 1.0 / 1.1), server side: the request parser (body -> params).

The mirror image of botocore's ``JSONSerializer``: one generic parser walking the operation's
input shape over the decoded JSON body. Member names are the model's (or their
``locationName``), ``null`` is an absent member, members the shape does not know are ignored
(as AWS's JSON services do).

Errors (all :class:`JsonProtocolError`):

* The body is not UTF-8 JSON, its top level is not an object, or a value has the wrong JSON
  type for its shape (a string where an integer belongs, a fraction for an integer, an integer
  outside its bits, bad base64, a timestamp that is not epoch seconds): ``SerializationException``
  400, the code AWS's JSON services answer when a request cannot be deserialized.
* Constraint violations (required, ``min``/``max``, ``pattern``, ``enum``):
  ``ValidationException`` 400, in the same (Coral) wording as the Query parser:
  ``1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint:
  Member must have value less than or equal to 50``. A service may instead answer violations
  of some top-level members with its own modeled error (``member_errors``): CloudTrail's
  LookupEvents reports a bad ``MaxResults`` as ``InvalidMaxResultsException``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

from .protocol_errors import ProtocolError
from .query_parse import (
    _SCALARS,
    MAX_NESTING_DEPTH,
    _member_path,
    _show,
    _unique,
    _violations,
)

__all__ = [
    "SERIALIZATION_EXCEPTION",
    "VALIDATION_EXCEPTION",
    "JsonProtocolError",
    "decode_json_body",
    "parse_operation_input",
]

SERIALIZATION_EXCEPTION: Final = "SerializationException"
VALIDATION_EXCEPTION: Final = "ValidationException"

_INT_BITS: Final = {"byte": 8, "short": 16, "integer": 32, "long": 64}
_NAMED_FLOATS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_MISSING: Final = object()


class JsonProtocolError(ProtocolError):
    """An error to return to the client as a JSON error body (``__type`` + ``message``)."""


def _serialization(message: str) -> JsonProtocolError:
    return JsonProtocolError(SERIALIZATION_EXCEPTION, message)


def decode_json_body(body: bytes | str) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is ``{}``)."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _serialization("The request body is not valid UTF-8.") from error
    else:
        text = body
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except RecursionError as error:
        raise _serialization("The request body is nested too deeply.") from error
    except ValueError as error:
        raise _serialization(f"The request body is not valid JSON: {error}.") from error
    if not isinstance(data, dict):
        raise _serialization("The request body must be a JSON object.")
    return data


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _expected(value: Any, wire: str, expected: str) -> JsonProtocolError:
    return _serialization(f"Expected {expected} for {wire}, got a JSON {_json_type(value)}.")


class _InputParser:
    def __init__(self) -> None:
        # (top-level member name, message) of every constraint violation
        self.errors: list[tuple[str, str]] = []

    def fail(self, top: str, value: Any, path: str, message: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.errors.append(
            (top, f"Value {shown} at '{path}' failed to satisfy constraint: {message}")
        )

    def check(self, top: str, shape: Shape, value: Any, path: str) -> None:
        for message in _violations(shape, value):
            self.fail(top, value, path, message)
        if shape.type_name == "list" and shape.member.type_name in _SCALARS:
            nested = _unique(m for item in value for m in _violations(shape.member, item))
            if nested:
                self.fail(
                    top, value, path, f"Member must satisfy constraint: [{', '.join(nested)}]"
                )
        elif shape.type_name == "map":
            for label, sub in (("Map keys", shape.key), ("Map value", shape.value)):
                items = value.keys() if label == "Map keys" else value.values()
                if sub.type_name in _SCALARS:
                    nested = _unique(m for item in items for m in _violations(sub, item))
                    if nested:
                        joined = ", ".join(nested)
                        self.fail(top, value, path, f"{label} must satisfy constraint: [{joined}]")

    # ---- walkers
    def parse(self, shape: Shape, value: Any, top: str, path: str, wire: str, depth: int) -> Any:
        if value is None:
            return _MISSING
        if depth > MAX_NESTING_DEPTH:
            raise _serialization(f"{wire} is nested too deeply.")
        if getattr(shape, "is_document_type", False):
            return value
        type_name: str = shape.type_name
        if type_name == "structure":
            if not isinstance(value, dict):
                raise _expected(value, wire, "an object")
            return self.structure(shape, value, top, path, wire, depth)
        if type_name == "list":
            if not isinstance(value, list):
                raise _expected(value, wire, "an array")
            return self.list(shape, value, top, path, wire, depth)
        if type_name == "map":
            if not isinstance(value, dict):
                raise _expected(value, wire, "an object")
            return self.map(shape, value, top, path, wire, depth)
        return _scalar(shape, value, wire)

    def structure(
        self, shape: Shape, value: Mapping[str, Any], top: str, path: str, wire: str, depth: int
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        required = set(shape.required_members)
        for name, member in shape.members.items():
            key = str(member.serialization.get("name", name))
            member_top = top or name
            mpath = _member_path(path, name)
            mwire = f"{wire}.{key}" if wire else key
            parsed = self.parse(member, value.get(key), member_top, mpath, mwire, depth + 1)
            if parsed is _MISSING:
                if name in required:
                    self.fail(member_top, None, mpath, "Member must not be null")
                continue
            self.check(member_top, member, parsed, mpath)
            result[name] = parsed
        if getattr(shape, "is_tagged_union", False) and len(result) > 1:
            self.fail(top, value, path or wire, "Member must have exactly one member set")
        return result

    def list(
        self, shape: Shape, value: list[Any], top: str, path: str, wire: str, depth: int
    ) -> list[Any]:
        member: Shape = shape.member
        items: list[Any] = []
        for index, item in enumerate(value):
            epath = f"{path}.{index + 1}.member"
            parsed = self.parse(member, item, top, epath, f"{wire}[{index}]", depth + 1)
            if parsed is _MISSING:
                raise _serialization(f"{wire}[{index}] must not be null.")
            if member.type_name in ("list", "map"):
                self.check(top, member, parsed, epath)
            items.append(parsed)
        return items

    def map(
        self, shape: Shape, value: Mapping[str, Any], top: str, path: str, wire: str, depth: int
    ) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, item in value.items():
            vpath = f"{path}.{_show(key)}.member"
            parsed = self.parse(shape.value, item, top, vpath, f"{wire}.{key}", depth + 1)
            if parsed is _MISSING:
                continue
            if shape.value.type_name in ("list", "map"):
                self.check(top, shape.value, parsed, vpath)
            result[key] = parsed
        return result


def _scalar(shape: Shape, value: Any, wire: str) -> Any:
    type_name: str = shape.type_name
    if type_name == "string":
        if not isinstance(value, str):
            raise _expected(value, wire, "a string")
        return value
    if type_name == "boolean":
        if not isinstance(value, bool):
            raise _expected(value, wire, "a boolean")
        return value
    if type_name in _INT_BITS:
        return _integer(value, type_name, wire)
    if type_name in ("float", "double"):
        if isinstance(value, str) and value in _NAMED_FLOATS:
            return _NAMED_FLOATS[value]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _expected(value, wire, "a number")
        return float(value)
    if type_name == "blob":
        if not isinstance(value, str):
            raise _expected(value, wire, "a base64-encoded string")
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as error:
            raise _serialization(f"{wire} is not valid base64.") from error
    if type_name == "timestamp":
        fmt = str(shape.serialization.get("timestampFormat", "unixtimestamp"))
        return _timestamp(value, fmt.lower(), wire)
    raise _serialization(f"{wire} has an unsupported type {type_name}.")  # pragma: no cover


def _integer(value: Any, type_name: str, wire: str) -> int:
    article = "an" if type_name == "integer" else "a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _expected(value, wire, f"{article} {type_name}")
    if isinstance(value, float):
        if not value.is_integer():
            raise _serialization(f"Expected {article} {type_name} for {wire}, got {value!r}.")
        value = int(value)
    number = int(value)
    bound = 1 << (_INT_BITS[type_name] - 1)
    if not -bound <= number < bound:
        raise _serialization(
            f"{wire} is out of range: expected {article} {type_name} in [{-bound}, {bound - 1}]."
        )
    return number


def _timestamp(value: Any, fmt: str, wire: str) -> datetime:
    try:
        if fmt == "unixtimestamp":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _expected(value, wire, "a timestamp (epoch seconds)")
            if not math.isfinite(value):
                raise ValueError(value)
            return datetime.fromtimestamp(value, UTC)
        if not isinstance(value, str):
            raise _expected(value, wire, f"a timestamp ({fmt})")
        parsed = parsedate_to_datetime(value) if fmt == "rfc822" else datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, OSError, IndexError) as error:
        raise _serialization(f"{wire} is not a valid timestamp.") from error


def _validation_message(messages: list[str]) -> str:
    count = len(messages)
    plural = "s" if count > 1 else ""
    return f"{count} validation error{plural} detected: " + "; ".join(messages)


def parse_operation_input(
    operation: OperationModel,
    data: Mapping[str, Any],
    member_errors: Mapping[str, tuple[str, int]] | None = None,
) -> dict[str, Any]:
    """Parse, type and validate the decoded body of ``operation``.

    ``member_errors`` maps a top-level input member to the ``(code, http_status)`` of the
    modeled error that reports its constraint violations instead of ``ValidationException``.
    """
    shape: Shape | None = operation.input_shape
    if shape is None:
        return {}
    parser = _InputParser()
    params = parser.structure(shape, data, "", "", "", 0)
    if parser.errors:
        overrides = member_errors or {}
        for top, _ in parser.errors:
            if top in overrides:
                code, status = overrides[top]
                own = [message for member, message in parser.errors if member == top]
                raise JsonProtocolError(code, _validation_message(own), status)
        raise JsonProtocolError(
            VALIDATION_EXCEPTION, _validation_message([message for _, message in parser.errors])
        )
    return params
