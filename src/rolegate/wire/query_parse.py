"""AWS Query protocol, server side: the request parser (form fields -> operation params).

The mirror image of botocore's ``QuerySerializer``: one generic, model-driven parser. The flat
form (``Tags.member.1.Key=Dept``) is first folded into a tree on ``.``; the input shape then
walks that tree, so the serialized names (``locationName``, flattened lists, custom map
key/value names, ``.member.N``, ``.entry.N``) are looked up exactly where botocore writes them.

Errors (all :class:`QueryProtocolError`, so a caller can turn any of them into an
``ErrorResponse``), and why each code was chosen:

* Missing ``Action``: ``MissingAction`` 400 ``Missing Action`` (AWS common error
  "The request is missing an action or a required parameter").
* Unknown ``Action``, or a ``Version`` that is not the model's ``apiVersion``:
  ``InvalidAction`` 400 ``Could not find operation <Action> for version <Version>``: AWS
  resolves the operation by the (Action, Version) pair, so both failures read the same. A
  missing ``Version`` reads ``... for version NO_VERSION_SPECIFIED``.
* Constraint violations (required, ``min``/``max``, ``pattern``, ``enum``): ``ValidationError``
  400, in the wording of AWS's (Coral) validator: ``N validation error(s) detected: Value 'x'
  at 'roleName' failed to satisfy constraint: Member must ...``, violations joined with
  ``; ``. Paths use the member names with a lower-case first letter; list elements read
  ``tags.1.member.key``. A missing required member reads ``Value null at 'roleName' failed to
  satisfy constraint: Member must not be null``: IAM and STS report missing parameters through
  this validator (``ValidationError``), not as ``MissingParameter`` (the EC2/SQS-style code).
  AWS's order of the violations is a hash order; ours is fixed: model member order, and per
  value pattern, enum, min, max.
* A value that cannot be read as its type (``MaxItems=abc``, ``Flag=yes``, bad base64 or
  timestamp, an integer outside 32 bits): ``InvalidParameterValue`` 400, AWS's common error for
  "an invalid or out-of-range value was supplied for the input parameter". Not
  ``MalformedQueryString``: that one is documented as 404 and is about the syntax of the query
  string itself, not about one value's type.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import sys
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any, Final, TypeAlias

from botocore.model import OperationModel, ServiceModel, Shape  # type: ignore[import-untyped]

from rolegate.wire.protocol_errors import ProtocolError

__all__ = [
    "EC2_DIALECT",
    "MAX_NESTING_DEPTH",
    "QUERY_DIALECT",
    "FormInput",
    "QueryDialect",
    "QueryProtocolError",
    "compile_model_pattern",
    "parse_form_body",
    "parse_operation_request",
]

#: Deepest nesting of structures/lists/maps accepted in one request (recursive shapes could
#: otherwise be walked as deep as a hostile client likes).
MAX_NESTING_DEPTH: Final = 32

FormInput: TypeAlias = Mapping[str, Sequence[str]] | Sequence[tuple[str, str]]
"""A decoded form: ``parse_qs``-style mapping or ``parse_qsl``-style list of pairs."""


class QueryProtocolError(ProtocolError):
    """An error to return to the client as an AWS ``ErrorResponse``."""


def _invalid_value(raw: str, wire_key: str, expected: str) -> QueryProtocolError:
    return QueryProtocolError(
        "InvalidParameterValue",
        f"Value '{raw}' for parameter {wire_key} is invalid: expected {expected}.",
    )


def parse_form_body(body: bytes | str) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` body (or query string) into pairs.

    Bytes that are not UTF-8 become U+FFFD, as a lenient server would read them.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return urllib.parse.parse_qsl(text, keep_blank_values=True, errors="replace")
    except ValueError as exc:  # pragma: no cover - parse_qsl is lenient without strict_parsing
        raise QueryProtocolError("MalformedQueryString", str(exc), 404) from exc


# --------------------------------------------------------------------------- form tree


@dataclass(slots=True)
class _Node:
    value: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _pairs(form: FormInput) -> list[tuple[str, str]]:
    if isinstance(form, Mapping):
        return [(str(k), str(v[0])) for k, v in form.items() if len(v) > 0]
    return [(str(k), str(v)) for k, v in form]


def _build_tree(pairs: list[tuple[str, str]]) -> _Node:
    root = _Node()
    for key, value in pairs:
        node = root
        for part in key.split("."):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node()
            node = child
        if node.value is None:  # the first occurrence of a repeated key wins
            node.value = value
    return root


_INDEX_RE: Final = re.compile(r"[1-9][0-9]{0,8}")


def _indexed(node: _Node | None) -> list[tuple[int, _Node]]:
    if node is None:
        return []
    found = [(int(k), child) for k, child in node.children.items() if _INDEX_RE.fullmatch(k)]
    found.sort(key=lambda item: item[0])
    return found


# --------------------------------------------------------------------------- patterns

_UNICODE_PROPERTIES: Final = {
    "L": ("Lu", "Ll", "Lt", "Lm", "Lo"),
    "Lu": ("Lu",),
    "Ll": ("Ll",),
    "N": ("Nd", "Nl", "No"),
    "Nd": ("Nd",),
    "Z": ("Zs", "Zl", "Zp"),
    "P": ("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"),
    "S": ("Sm", "Sc", "Sk", "So"),
}
_POSIX_PROPERTIES: Final = {
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Upper": "A-Z",
    "Lower": "a-z",
    "Punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "Print": "\\x20-\\x7e",
    "Graph": "\\x21-\\x7e",
    "Space": " \\t\\n\\x0b\\f\\r",
    "XDigit": "0-9a-fA-F",
    "ASCII": "\\x00-\\x7f",
}
_PROPERTY_RE: Final = re.compile(r"\\([pP])\{(?:Is)?([A-Za-z]+)\}")


@cache
def _category_ranges(name: str) -> str:
    """The code points of a Unicode general category group, as a character-class body."""
    categories = set(_UNICODE_PROPERTIES[name])
    parts: list[str] = []
    start = -1
    for cp in range(sys.maxunicode + 2):
        inside = cp <= sys.maxunicode and unicodedata.category(chr(cp)) in categories
        if inside and start < 0:
            start = cp
        elif not inside and start >= 0:
            end = cp - 1
            parts.append(f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}")
            start = -1
    return "".join(parts)


def _translate_pattern(pattern: str) -> str:
    """Java regex (as AWS evaluates model patterns) -> Python ``re`` syntax.

    ``\\p{L}``-style properties become explicit ranges; ``\\w``/``\\d``/``\\s`` keep Java's
    ASCII meaning through ``re.ASCII``; ``\\uXXXX`` takes exactly four hex digits in both.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            match = _PROPERTY_RE.match(pattern, i)
            if match is None:
                out.append(pattern[i : i + 2])
                i += 2
                continue
            negated, name = match.group(1) == "P", match.group(2)
            if name in _UNICODE_PROPERTIES:
                body = _category_ranges(name)
            elif name in _POSIX_PROPERTIES:
                body = _POSIX_PROPERTIES[name]
            else:
                raise ValueError(f"unsupported regex property {match.group(0)} in {pattern!r}")
            if in_class and negated:
                raise ValueError(f"unsupported negated property in a class in {pattern!r}")
            out.append(body if in_class else f"[{'^' if negated else ''}{body}]")
            i = match.end()
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@cache
def compile_model_pattern(pattern: str) -> re.Pattern[str]:
    """Compile (once) a botocore model ``pattern`` for full-match evaluation like AWS's."""
    return re.compile(_translate_pattern(pattern), re.ASCII | re.DOTALL)


# --------------------------------------------------------------------------- scalar readers

_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE: Final = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]?Infinity"
)
_INT_BITS: Final = {"byte": 8, "short": 16, "integer": 32, "long": 64}


def _read_int(raw: str, type_name: str, wire_key: str) -> int:
    if not _INT_RE.fullmatch(raw):
        raise _invalid_value(
            raw, wire_key, f"an {type_name}" if type_name == "integer" else f"a {type_name}"
        )
    value = int(raw)
    bound = 1 << (_INT_BITS.get(type_name, 64) - 1)
    if not -bound <= value < bound:
        raise _invalid_value(raw, wire_key, f"a {type_name} in [{-bound}, {bound - 1}]")
    return value


def _read_float(raw: str, wire_key: str) -> float:
    if not _FLOAT_RE.fullmatch(raw):
        raise _invalid_value(raw, wire_key, "a number")
    return float(raw)


def _read_bool(raw: str, wire_key: str) -> bool:
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise _invalid_value(raw, wire_key, "true or false")
    return lowered == "true"


def _read_blob(raw: str, wire_key: str) -> bytes:
    try:
        return base64.b64decode(raw.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise _invalid_value(raw, wire_key, "base64-encoded data") from exc


def _read_timestamp(raw: str, fmt: str, wire_key: str) -> datetime:
    fmt = fmt.lower()
    try:
        if fmt == "unixtimestamp":
            if not _FLOAT_RE.fullmatch(raw) or not math.isfinite(float(raw)):
                raise ValueError(raw)
            return datetime.fromtimestamp(float(raw), UTC)
        parsed = parsedate_to_datetime(raw) if fmt == "rfc822" else datetime.fromisoformat(raw)
    except (ValueError, TypeError, OverflowError, OSError, IndexError) as exc:
        raise _invalid_value(raw, wire_key, f"a timestamp ({fmt})") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise _invalid_value(raw, wire_key, f"a timestamp ({fmt})") from exc


# --------------------------------------------------------------------------- validation


def _member_path(parent: str, member_name: str) -> str:
    name = member_name[:1].lower() + member_name[1:]
    return f"{parent}.{name}" if parent else name


def _java_length(value: Any) -> int:
    if isinstance(value, str):  # Java counts UTF-16 code units
        return len(value.encode("utf-16-le", "surrogatepass")) // 2
    return len(value)


def _number_text(bound: Any) -> str:
    if isinstance(bound, float) and bound.is_integer():
        return str(int(bound))
    return str(bound)


def _show(value: Any) -> str:
    """A value as AWS's validator prints it (Java ``toString`` style)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_show(k)}={_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _violations(shape: Shape, value: Any) -> list[str]:
    """The constraint messages ``value`` breaks (its own constraints, not its elements')."""
    meta: Mapping[str, Any] = shape.metadata
    type_name: str = shape.type_name
    found: list[str] = []
    pattern = meta.get("pattern") if type_name == "string" else None
    if pattern is not None and not compile_model_pattern(pattern).fullmatch(value):
        found.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    enum = meta.get("enum")
    if enum and _show(value) not in [str(e) for e in enum]:
        found.append("Member must satisfy enum value set: [" + ", ".join(map(str, enum)) + "]")
    if type_name in ("string", "blob", "list", "map"):
        size, what = _java_length(value), "length"
    elif type_name in ("integer", "long", "short", "byte", "float", "double"):
        if isinstance(value, float) and math.isnan(value):
            return found
        size, what = value, "value"
    else:
        return found
    if "min" in meta and size < meta["min"]:
        found.append(
            f"Member must have {what} greater than or equal to {_number_text(meta['min'])}"
        )
    if "max" in meta and size > meta["max"]:
        found.append(f"Member must have {what} less than or equal to {_number_text(meta['max'])}")
    return found


_SCALARS: Final = frozenset(
    {
        "string",
        "boolean",
        "integer",
        "long",
        "short",
        "byte",
        "float",
        "double",
        "timestamp",
        "blob",
    }
)
_MISSING: Final = object()


class _RequestParser:
    def __init__(self, dialect: QueryDialect) -> None:
        self.dialect = dialect
        self.errors: list[str] = []
        self.missing: list[str] = []  # wire names of absent required members

    def fail(self, value: Any, path: str, message: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.errors.append(f"Value {shown} at '{path}' failed to satisfy constraint: {message}")

    # ---- checks
    def check(self, shape: Shape, value: Any, path: str) -> None:
        if not self.dialect.checks_constraints:
            return
        for message in _violations(shape, value):
            self.fail(value, path, message)
        if shape.type_name == "list" and shape.member.type_name in _SCALARS:
            nested = _unique(m for item in value for m in _violations(shape.member, item))
            if nested:
                self.fail(value, path, f"Member must satisfy constraint: [{', '.join(nested)}]")
        elif shape.type_name == "map":
            for label, sub in (("Map keys", shape.key), ("Map value", shape.value)):
                items = value.keys() if label == "Map keys" else value.values()
                if sub.type_name in _SCALARS:
                    nested = _unique(m for item in items for m in _violations(sub, item))
                    if nested:
                        self.fail(
                            value, path, f"{label} must satisfy constraint: [{', '.join(nested)}]"
                        )

    # ---- walkers
    def parse(self, shape: Shape, node: _Node | None, path: str, wire: str, depth: int) -> Any:
        if node is None:
            return _MISSING
        if depth > MAX_NESTING_DEPTH:
            raise QueryProtocolError(
                "InvalidParameterValue", f"Parameter {wire} is nested too deeply."
            )
        type_name: str = shape.type_name
        if type_name == "structure":
            return self.structure(shape, node, path, wire, depth)
        if type_name == "list":
            return self.list(shape, node, path, wire, depth)
        if type_name == "map":
            return self.map(shape, node, path, wire, depth)
        if node.value is None:
            return _MISSING
        return self.scalar(shape, node.value, wire)

    def scalar(self, shape: Shape, raw: str, wire: str) -> Any:
        type_name: str = shape.type_name
        if type_name in _INT_BITS:
            return _read_int(raw, type_name, wire)
        if type_name in ("float", "double"):
            return _read_float(raw, wire)
        if type_name == "boolean":
            return _read_bool(raw, wire)
        if type_name == "blob":
            return _read_blob(raw, wire)
        if type_name == "timestamp":
            return _read_timestamp(raw, shape.serialization.get("timestampFormat", "iso8601"), wire)
        return raw

    def structure(self, shape: Shape, node: _Node, path: str, wire: str, depth: int) -> Any:
        mark, missing_mark = len(self.errors), len(self.missing)
        result: dict[str, Any] = {}
        required = set(shape.required_members)
        missing: list[str] = []
        for name, member in shape.members.items():
            child, key = None, ""
            for key in self.dialect.member_keys(member, name):
                child = node.children.get(key)
                if child is not None:
                    break
            mpath, mwire = _member_path(path, name), f"{wire}.{key}" if wire else key
            value = self.parse(member, child, mpath, mwire, depth + 1)
            if value is _MISSING:
                if name in required:
                    missing.append(mpath)
                    self.missing.append(mwire)
                    self.fail(None, mpath, "Member must not be null")
                continue
            self.check(member, value, mpath)
            result[name] = value
        if not result and depth > 0:
            # Nothing of this structure was sent: it is absent, not an empty one.
            del self.errors[mark:]
            del self.missing[missing_mark:]
            return _MISSING
        return result

    def list(self, shape: Shape, node: _Node, path: str, wire: str, depth: int) -> Any:
        member: Shape = shape.member
        container: _Node | None
        if self.dialect.flat_lists or shape.serialization.get("flattened"):
            container, prefix = node, wire
        else:
            element = member.serialization.get("name", "member")
            container, prefix = node.children.get(element), f"{wire}.{element}"
        items: list[Any] = []
        for index, child in _indexed(container):
            epath = f"{path}.{len(items) + 1}.member"
            value = self.parse(member, child, epath, f"{prefix}.{index}", depth + 1)
            if value is _MISSING:
                continue
            if member.type_name in ("list", "map"):
                self.check(member, value, epath)
            items.append(value)
        if not items and node.value != "":
            return _MISSING  # botocore writes an empty list as ``Name=``
        return items

    def map(self, shape: Shape, node: _Node, path: str, wire: str, depth: int) -> Any:
        flat = bool(shape.serialization.get("flattened"))
        container = node if flat else node.children.get("entry")
        prefix = wire if flat else f"{wire}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result: dict[Any, Any] = {}
        for index, entry in _indexed(container):
            ewire = f"{prefix}.{index}"
            key = self.parse(
                shape.key, entry.children.get(key_name), path, f"{ewire}.{key_name}", depth + 1
            )
            if key is _MISSING:
                continue
            vpath = f"{path}.{_show(key)}.member"
            value = self.parse(
                shape.value,
                entry.children.get(value_name),
                vpath,
                f"{ewire}.{value_name}",
                depth + 1,
            )
            if value is _MISSING:
                continue
            if shape.value.type_name in ("list", "map"):
                self.check(shape.value, value, vpath)
            result[key] = value
        if not result and node.value != "":
            return _MISSING
        return result


def _unique(messages: Any) -> list[str]:
    seen: dict[str, None] = {}
    for message in messages:
        seen.setdefault(message, None)
    return list(seen)


def _member_keys(member: Shape, member_name: str) -> tuple[str, ...]:
    """The form key(s) of a structure member.

    A flattened list whose list member has its own ``locationName`` is written by botocore
    under that *member* name (``item.1``, its ``QuerySerializer`` replaces the last key part),
    while the Smithy awsQuery spec (and other SDKs) keep the structure member's name
    (``Hi.1``): both are accepted, botocore's first.
    """
    serialization: Mapping[str, Any] = member.serialization
    own = str(serialization.get("name", member_name))
    if member.type_name == "list" and serialization.get("flattened"):
        element_name = member.member.serialization.get("name")
        if element_name and element_name != own:
            return (str(element_name), own)
    return (own,)


def _ec2_member_keys(member: Shape, member_name: str) -> tuple[str, ...]:
    """EC2's form key of a member: ``queryName``, else its ``locationName`` capitalized, else
    the member name (botocore's ``EC2Serializer``)."""
    serialization: Mapping[str, Any] = member.serialization
    if "queryName" in serialization:
        return (str(serialization["queryName"]),)
    name = serialization.get("name")
    if name:
        return (str(name)[:1].upper() + str(name)[1:],)
    return (member_name,)


@dataclass(frozen=True, slots=True)
class QueryDialect:
    """What differs between the Query protocol (IAM, STS) and its EC2 variant on input: the
    form key of a member, whether every list is flattened (EC2: ``InstanceId.1``), and how a
    missing required member or an unknown action is worded."""

    member_keys: Callable[[Shape, str], tuple[str, ...]]
    flat_lists: bool
    # EC2 answers a missing required member with ``MissingParameter`` (the first one).
    missing_parameter: bool
    # EC2 checks values itself (its model's enums, e.g. instance types, are no promise of
    # what a region offers): no Coral-style min/max/pattern/enum validation.
    checks_constraints: bool

    def unknown_action(self, action: str, version: str | None) -> QueryProtocolError:
        if self.missing_parameter:
            return QueryProtocolError(
                "InvalidAction", f"The action {action} is not valid for this web service."
            )
        return QueryProtocolError(
            "InvalidAction",
            f"Could not find operation {action} for version "
            f"{version if version is not None else 'NO_VERSION_SPECIFIED'}",
        )


QUERY_DIALECT: Final = QueryDialect(
    _member_keys, flat_lists=False, missing_parameter=False, checks_constraints=True
)
EC2_DIALECT: Final = QueryDialect(
    _ec2_member_keys, flat_lists=True, missing_parameter=True, checks_constraints=False
)


# --------------------------------------------------------------------------- entry point


def parse_operation_request(
    model: ServiceModel, form: FormInput, dialect: QueryDialect = QUERY_DIALECT
) -> tuple[OperationModel, dict[str, Any]]:
    """Resolve ``Action``/``Version`` against ``model`` and parse the operation's params."""
    tree = _build_tree(_pairs(form))
    action_node, version_node = tree.children.get("Action"), tree.children.get("Version")
    action = action_node.value if action_node is not None else None
    version = version_node.value if version_node is not None else None
    if not action:
        raise QueryProtocolError("MissingAction", "Missing Action")
    api_version = model.metadata.get("apiVersion")
    if action not in model.operation_names or version != api_version:
        raise dialect.unknown_action(action, version)
    operation = model.operation_model(action)
    shape: Shape | None = operation.input_shape
    if shape is None:
        return operation, {}
    parser = _RequestParser(dialect)
    params = parser.structure(shape, tree, "", "", 0)
    if parser.missing and dialect.missing_parameter:
        raise QueryProtocolError(
            "MissingParameter", f"The request must contain the parameter {parser.missing[0]}"
        )
    if parser.errors:
        count = len(parser.errors)
        raise QueryProtocolError(
            "ValidationError",
            f"{count} validation error{'s' if count > 1 else ''} detected: "
            + "; ".join(parser.errors),
        )
    return operation, dict(params)
