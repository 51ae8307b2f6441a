"""AWS REST-JSON protocol, server side: responses and errors.

The mirror image of botocore's ``RestJSONParser``. Output members with a ``header`` location
become headers (timestamps as HTTP dates unless the shape says otherwise, ``jsonvalue``
strings base64 JSON), a ``statusCode`` member the HTTP status, a ``headers`` map prefixed
headers; the rest is the JSON body, written by the awsJson serializer
(:func:`rolegate.wire.json_serialize.to_json_value`: the shape's ``timestampFormat``, else
epoch seconds, as botocore reads them). The status is the operation's ``responseCode``.

Errors: the code in the ``x-amzn-ErrorType`` header (botocore reads it first), the body
``{"message": "..."}`` plus the members of the modeled error shape, the model's HTTP status.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Final

from botocore.model import OperationModel, Shape  # type: ignore[import-untyped]

from .json_serialize import dump_json, to_json_value
from .timestamps import format_timestamp

__all__ = ["ERROR_TYPE_HEADER", "serialize_rest_json_error", "serialize_rest_json_output"]

ERROR_TYPE_HEADER: Final = "x-amzn-ErrorType"


def _header_value(shape: Shape, value: Any) -> str:
    type_name: str = shape.type_name
    if type_name == "timestamp":
        return format_timestamp(value, str(shape.serialization.get("timestampFormat", "rfc822")))
    if type_name == "boolean":
        return "true" if value else "false"
    if type_name == "list":
        return ",".join(_header_value(shape.member, item) for item in value)
    if type_name == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    return str(value)


def _split(
    shape: Shape, result: Mapping[str, Any]
) -> tuple[int | None, dict[str, str], dict[str, Any]]:
    """(status member, headers, body members) of a result shaped like ``shape``."""
    status: int | None = None
    headers: dict[str, str] = {}
    body: dict[str, Any] = {}
    members: Mapping[str, Shape] = shape.members
    for name, value in result.items():
        member = members.get(name)
        if member is None:
            raise ValueError(f"{shape.name} has no member {name!r}")
        if value is None:
            continue
        location = member.serialization.get("location")
        wire_name = str(member.serialization.get("name", name))
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers[wire_name] = _header_value(member, value)
        elif location == "headers":
            for key, item in value.items():
                headers[f"{wire_name}{key}"] = str(item)
        else:
            body[name] = value
    return status, headers, body


def serialize_rest_json_output(
    operation: OperationModel, result: Mapping[str, Any] | None
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of ``operation``'s success for ``result``."""
    values = {k: v for k, v in (result or {}).items() if k != "ResponseMetadata"}
    status = int(operation.http.get("responseCode", 200))
    shape: Shape | None = operation.output_shape
    if shape is None:
        if values:
            raise ValueError(f"{operation.name} has no output, got {sorted(values)}")
        return status, {}, b"{}"
    member_status, headers, body = _split(shape, values)
    payload_name = shape.serialization.get("payload")
    if payload_name is not None:
        payload: Shape = shape.members[payload_name]
        value = body.get(payload_name)
        if payload.type_name in ("blob", "string"):
            raw = value if value is not None else b""
            data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        else:
            data = dump_json(to_json_value(payload, value) if value is not None else {})
    else:
        data = dump_json(to_json_value(shape, body))
    return member_status or status, headers, data


def serialize_rest_json_error(
    code: str,
    message: str | None,
    *,
    error_shape: Shape | None = None,
    fields: Mapping[str, Any] | None = None,
) -> tuple[dict[str, str], bytes]:
    """``(headers, body)`` of an error; ``fields`` are members of the modeled ``error_shape``
    (those with a header location go to headers)."""
    headers = {ERROR_TYPE_HEADER: code}
    body: dict[str, Any] = {}
    if message is not None:
        body["message"] = message
    extra = {k: v for k, v in (fields or {}).items() if k not in ("message", "Message")}
    if extra:
        if error_shape is None:
            raise ValueError("fields need the error_shape that declares them")
        _, extra_headers, members = _split(error_shape, extra)
        headers.update(extra_headers)
        body.update(to_json_value(error_shape, members))
    return headers, dump_json(body)
