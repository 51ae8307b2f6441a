"""One S3 request as the operations see it, and the HTTP values they read and write.

A `Call` is a request after routing and authentication: its headers (lowercased names,
repeated values joined with ","), decoded query, buffered body (None when the operation
streams it), who is asking (`info`) and the IAM action the operation table authorizes it as.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

from starlette.responses import Response

from ..policy.request import ContextValue
from ..wire import sigv4
from ..wire.aws_chunked import ChunkSigning
from ..wire.restxml import parse_rest_request, serialize_rest_response
from .access import AccessInfo
from .errors import invalid_argument
from .routing import Route

__all__ = [
    "DEFAULT_REGION",
    "Call",
    "acl_keys",
    "canonical_user_id",
    "etag_matches",
    "format_http_date",
    "http_date",
    "owner",
    "parse_int",
    "quote_etag",
    "respond",
    "whole_seconds",
]

DEFAULT_REGION: Final = "us-east-1"
_ACL_HEADERS: Final = (
    "x-amz-acl",
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-server-side-encryption",
    "x-amz-storage-class",
    "x-amz-metadata-directive",
    "x-amz-copy-source",
    "x-amz-object-ownership",
)


@dataclass
class Call:
    """One S3 request after routing and authentication."""

    request_id: str
    route: Route
    action: str
    method: str
    headers: dict[str, str]  # lowercased names, repeated values joined with ","
    header_list: list[tuple[str, str]]
    query: dict[str, str]
    query_pairs: list[tuple[str, str]]
    body: bytes | None
    object_data: bytes | None  # PutObject's whole body when it was small enough to read first
    info: AccessInfo
    verified: sigv4.VerifiedRequest | None
    signing: ChunkSigning | None = None
    prepared: Any = None  # what the operation's `prepare` step found (see `operations`)
    params: dict[str, Any] = field(default_factory=dict)
    bucket_owner: str | None = None  # the account of the request's bucket, once loaded (audit)

    @property
    def bucket(self) -> str:
        assert self.route.bucket is not None
        return self.route.bucket

    @property
    def key(self) -> str:
        assert self.route.key is not None
        return self.route.key

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def parse(self, operation: str) -> dict[str, Any]:
        """The operation's input params from this request (botocore's model)."""
        labels = {"Bucket": self.route.bucket or ""}
        if self.route.key is not None:
            labels["Key"] = self.route.key
        return parse_rest_request(
            operation,
            uri_labels=labels,
            query=self.query_pairs,
            headers=self.header_list,
            body=self.body,
        )


def respond(
    operation: str,
    result: Mapping[str, Any] | None,
    *,
    status: int | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> Response:
    """The REST-XML response of `operation` for `result` (shaped like its output)."""
    code, headers, body = serialize_rest_response(operation, result)
    response_headers = dict(headers)
    if body:
        response_headers.setdefault("Content-Type", "application/xml")
    if extra_headers:
        response_headers.update(extra_headers)
    return Response(body or b"", status or code, response_headers)


def acl_keys(call: Call) -> dict[str, ContextValue]:
    """The `s3:x-amz-acl`-style condition keys a write request carries."""
    keys: dict[str, ContextValue] = {}
    for header in _ACL_HEADERS:
        value = call.header(header)
        if value is not None:
            keys[f"s3:{header}"] = value
    return keys


def canonical_user_id(account_id: str) -> str:
    """S3's 64-hex canonical user id of an account (stable, derived from the account id)."""
    return hashlib.sha256(f"rolegate-canonical:{account_id}".encode()).hexdigest()


def owner(account_id: str) -> dict[str, str]:
    return {"ID": canonical_user_id(account_id), "DisplayName": account_id}


def quote_etag(etag: str) -> str:
    return f'"{etag}"'


def etag_matches(condition: str, etag: str) -> bool:
    for item in condition.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/").strip('"') == etag:
            return True
    return False


def http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_http_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def parse_int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise invalid_argument(
            f"Provided {name} not an integer or within integer range", name, value
        )
    return int(value)
