"""Which S3 operation a path-style request is: method, bucket, key and sub-resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
        raise S3Error(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
        )
    unsupported = names & _UNSUPPORTED
    if key is None:
        operation = _bucket_operation(method, names, dict(query))
    else:
        operation = _object_operation(method, names, headers)
    if operation is None:
        if unsupported:
            raise not_implemented(", ".join(sorted(unsupported)))
        raise S3Error(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
        )
    if unsupported:
        raise not_implemented(", ".join(sorted(unsupported)))
    return Route(operation, bucket, key)


def _bucket_operation(method: str, names: set[str], values: Mapping[str, str]) -> str | None:
    if method == "HEAD":
        return "HeadBucket"
    if method == "GET":
        if "policy" in names:
            return "GetBucketPolicy"
        if "location" in names:
            return "GetBucketLocation"
        if "uploads" in names:
            return "ListMultipartUploads"
        if values.get("list-type") == "2":
            return "ListObjectsV2"
        return "ListObjects"
    if method == "PUT":
        return "PutBucketPolicy" if "policy" in names else "CreateBucket"
    if method == "DELETE":
        return "DeleteBucketPolicy" if "policy" in names else "DeleteBucket"
    if method == "POST" and "delete" in names:
        return "DeleteObjects"
    return None


def _object_operation(method: str, names: set[str], headers: Mapping[str, str]) -> str | None:
    if method == "GET":
        return "ListParts" if "uploadId" in names else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "PUT":
        if "uploadId" in names or "partNumber" in names:
            if "x-amz-copy-source" in headers:
                raise not_implemented("UploadPartCopy")
            return "UploadPart"
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in names else "DeleteObject"
    if method == "POST":
        if "uploads" in names:
            return "CreateMultipartUpload"
        if "uploadId" in names:
            return "CompleteMultipartUpload"
    return None
