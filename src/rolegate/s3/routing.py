"""Which S3 operation a path-style request is: method, bucket, key and sub-resources.

The rules are a table: for a level (service, bucket or object) and a method, the first rule
whose sub-resource, query value and header conditions hold names the operation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote_to_bytes

from .errors import S3Error, not_implemented

__all__ = ["Route", "decode_query", "route_request"]

# Sub-resources S3 has and rolegate does not serve: answered with NotImplemented.
_UNSUPPORTED: Final = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "attributes",
        "cors",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "restore",
        "retention",
        "select",
        "tagging",
        "torrent",
        "versioning",
        "versions",
        "website",
    }
)


@dataclass(frozen=True)
class Route:
    operation: str
    bucket: str | None = None
    key: str | None = None

    @property
    def streams_body(self) -> bool:
        """Operations whose body is object data, streamed to disk and never buffered."""
        return self.operation in ("PutObject", "UploadPart")


@dataclass(frozen=True)
class _Rule:
    level: str  # "bucket" or "object"
    method: str
    operation: str
    any_of: frozenset[str] = field(default_factory=frozenset)  # one of these sub-resources
    query: tuple[str, str] | None = None  # this query parameter with this value
    header: str | None = None  # this header present


_PART: Final = frozenset({"uploadId", "partNumber"})
_RULES: Final = (
    _Rule("bucket", "HEAD", "HeadBucket"),
    _Rule("bucket", "GET", "GetBucketPolicy", frozenset({"policy"})),
    _Rule("bucket", "GET", "GetBucketLocation", frozenset({"location"})),
    _Rule("bucket", "GET", "ListMultipartUploads", frozenset({"uploads"})),
    _Rule("bucket", "GET", "ListObjectsV2", query=("list-type", "2")),
    _Rule("bucket", "GET", "ListObjects"),
    _Rule("bucket", "PUT", "PutBucketPolicy", frozenset({"policy"})),
    _Rule("bucket", "PUT", "CreateBucket"),
    _Rule("bucket", "DELETE", "DeleteBucketPolicy", frozenset({"policy"})),
    _Rule("bucket", "DELETE", "DeleteBucket"),
    _Rule("bucket", "POST", "DeleteObjects", frozenset({"delete"})),
    _Rule("object", "GET", "ListParts", frozenset({"uploadId"})),
    _Rule("object", "GET", "GetObject"),
    _Rule("object", "HEAD", "HeadObject"),
    _Rule("object", "PUT", "UploadPartCopy", _PART, header="x-amz-copy-source"),
    _Rule("object", "PUT", "UploadPart", _PART),
    _Rule("object", "PUT", "CopyObject", header="x-amz-copy-source"),
    _Rule("object", "PUT", "PutObject"),
    _Rule("object", "DELETE", "AbortMultipartUpload", frozenset({"uploadId"})),
    _Rule("object", "DELETE", "DeleteObject"),
    _Rule("object", "POST", "CreateMultipartUpload", frozenset({"uploads"})),
    _Rule("object", "POST", "CompleteMultipartUpload", frozenset({"uploadId"})),
)
_BY_METHOD: Final[dict[tuple[str, str], tuple[_Rule, ...]]] = {
    (level, method): tuple(r for r in _RULES if (r.level, r.method) == (level, method))
    for level, method in {(r.level, r.method) for r in _RULES}
}


def decode_query(query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs; `+` stays a plus as in SigV4."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append(
                (
                    unquote_to_bytes(name).decode("utf-8", "replace"),
                    unquote_to_bytes(value).decode("utf-8", "replace"),
                )
            )
    return pairs


def _split_path(raw_path: str) -> tuple[str | None, str | None]:
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI", "Couldn't parse the specified URI.", 400) from None
    path = path.removeprefix("/")
    if not path:
        return None, None
    bucket, slash, key = path.partition("/")
    return bucket, (key if slash and key else None)


def route_request(
    method: str,
    raw_path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
) -> Route:
    """The operation for a request (`headers`: lowercased names)."""
    bucket, key = _split_path(raw_path)
    names = {name for name, _ in query}
    if bucket is None:
        if method == "GET":
            return Route("ListBuckets")
        raise _method_not_allowed()
    unsupported = names & _UNSUPPORTED
    operation = _match("bucket" if key is None else "object", method, names, query, headers)
    if unsupported:
        raise not_implemented(", ".join(sorted(unsupported)))
    if operation is None:
        raise _method_not_allowed()
    return Route(operation, bucket, key)


def _match(
    level: str,
    method: str,
    names: set[str],
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
) -> str | None:
    values = dict(query)
    for rule in _BY_METHOD.get((level, method), ()):
        if rule.any_of and not rule.any_of & names:
            continue
        if rule.query is not None and values.get(rule.query[0]) != rule.query[1]:
            continue
        if rule.header is not None and rule.header not in headers:
            continue
        return rule.operation
    return None


def _method_not_allowed() -> S3Error:
    return S3Error(
        "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
    )
