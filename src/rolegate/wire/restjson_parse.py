"""AWS REST-JSON protocol, server side: which operation a request is and its params.

The mirror image of botocore's ``RestJSONSerializer``. The operation is found from the method
and the path by the model's ``requestUri`` templates (:class:`UriTemplate`: ``{label}``
matches one percent-encoded path segment, ``{label+}`` the rest of the path, a ``?key`` or
``?key=value`` suffix must be in the query). Its members are read from where botocore writes
them: ``uri`` labels, ``querystring`` and ``header`` / ``headers`` members (the REST-XML
parser's code, :func:`rolegate.wire.restxml_parse.parse_operation_request`, reads them) and
the JSON body (a structure ``payload`` member, or the input shape's own body members). All of
it is then typed and validated in one pass by the awsJson parser
(:func:`rolegate.wire.json_parse.parse_operation_input`), so both JSON protocols word their
``ValidationException`` / ``SerializationException`` the same way.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from typing import Any, Final

from botocore.model import OperationModel, ServiceModel, Shape  # type: ignore[import-untyped]

from .json_parse import (
    SERIALIZATION_EXCEPTION,
    JsonProtocolError,
    decode_json_body,
    parse_operation_input,
)
from .restxml_parse import RestXmlError, parse_operation_request

__all__ = [
    "UNKNOWN_OPERATION",
    "RestJsonRouter",
    "UriTemplate",
    "parse_rest_json_request",
]

UNKNOWN_OPERATION: Final = "UnknownOperationException"
_LABEL: Final = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class UriTemplate:
    """One ``requestUri`` (``/analyzer/{analyzerName}/archive-rule/{ruleName}``) as a
    matcher of raw (still percent-encoded) request paths."""

    template: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    required_query: tuple[tuple[str, str | None], ...]
    literal_length: int  # how specific it is: more literal characters win

    @classmethod
    def compile(cls, template: str) -> UriTemplate:
        path, _, query = template.partition("?")
        parts: list[str] = []
        labels: list[str] = []
        position = 0
        for found in _LABEL.finditer(path):
            parts.append(re.escape(path[position : found.start()]))
            name = found.group(1)
            greedy = name.endswith("+")
            labels.append(name.rstrip("+"))
            parts.append(f"(?P<_{len(labels)}>.+)" if greedy else f"(?P<_{len(labels)}>[^/]+)")
            position = found.end()
        parts.append(re.escape(path[position:]))
        required: list[tuple[str, str | None]] = []
        for item in query.split("&"):
            if item:
                key, has_value, value = item.partition("=")
                required.append((key, value if has_value else None))
        literal = len(_LABEL.sub("", path))
        return cls(template, re.compile("".join(parts)), tuple(labels), tuple(required), literal)

    def match(self, raw_path: str, query: Sequence[tuple[str, str]]) -> dict[str, str] | None:
        """The decoded label values when ``raw_path`` and ``query`` fit, else None."""
        found = self.pattern.fullmatch(raw_path)
        if found is None:
            return None
        present = dict(query)
        for key, value in self.required_query:
            if key not in present or (value is not None and present[key] != value):
                return None
        return {
            label: urllib.parse.unquote(found.group(f"_{index + 1}"))
            for index, label in enumerate(self.labels)
        }


class RestJsonRouter:
    """Every operation of a service model by method and URI template."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        routes: list[tuple[str, UriTemplate, str]] = []
        for name in model.operation_names:
            http: Mapping[str, Any] = model.operation_model(name).http
            template = UriTemplate.compile(str(http.get("requestUri", "/")))
            routes.append((str(http.get("method", "POST")).upper(), template, name))
        # The most specific first: more literal characters, then required query keys.
        routes.sort(key=lambda r: (-r[1].literal_length, -len(r[1].required_query)))
        self._routes = routes

    def resolve(
        self, method: str, raw_path: str, query: Sequence[tuple[str, str]]
    ) -> tuple[OperationModel, dict[str, str]]:
        """The operation and its decoded URI labels (``UnknownOperationException`` if none)."""
        path = raw_path or "/"
        wanted = method.upper()
        for route_method, template, name in self._routes:
            if route_method != wanted:
                continue
            labels = template.match(path, query)
            if labels is not None:
                return self.model.operation_model(name), labels
        raise JsonProtocolError(
            UNKNOWN_OPERATION,
            f"No operation of {self.model.service_name} matches {wanted} {path}.",
            404,
        )


def _as_json(shape: Shape, value: Any) -> Any:
    """A value read from a URI, query or header, as the JSON parser expects it."""
    if isinstance(value, datetime):
        fmt = str(shape.serialization.get("timestampFormat", "unixtimestamp")).lower()
        if fmt == "unixtimestamp":
            return value.timestamp()
        return formatdate(value.timestamp(), usegmt=True) if fmt == "rfc822" else value.isoformat()
    if isinstance(value, list) and shape.type_name == "list":
        return [_as_json(shape.member, item) for item in value]
    return value


def parse_rest_json_request(
    operation: OperationModel,
    *,
    uri_labels: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    body: bytes,
) -> dict[str, Any]:
    """The typed, validated input params of ``operation`` (see module docstring)."""
    shape: Shape | None = operation.input_shape
    if shape is None:
        return {}
    try:
        located = parse_operation_request(
            operation, uri_labels=uri_labels, query=query, headers=headers, body=None
        )
    except RestXmlError as error:
        raise JsonProtocolError(SERIALIZATION_EXCEPTION, error.message) from error
    payload_name: str | None = shape.serialization.get("payload")
    data: dict[str, Any] = {}
    raw_payload: bytes | str | None = None
    if payload_name is None:
        data = decode_json_body(body)
    elif shape.members[payload_name].type_name == "structure":
        payload: Shape = shape.members[payload_name]
        if body:
            data[str(payload.serialization.get("name", payload_name))] = decode_json_body(body)
    elif body:
        is_blob = shape.members[payload_name].type_name == "blob"
        try:
            raw_payload = bytes(body) if is_blob else body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonProtocolError(
                SERIALIZATION_EXCEPTION, "The request body is not valid UTF-8."
            ) from error
    for name, member in shape.members.items():
        if member.serialization.get("location") is not None:
            key = str(member.serialization.get("name", name))
            data.pop(key, None)  # a body key never sets a URI, query or header member
            if name in located:
                data[key] = _as_json(member, located[name])
    params = parse_operation_input(operation, data)
    if payload_name is not None and raw_payload is not None:
        params[payload_name] = raw_payload
    return params
