"""What the console's S3 pages share: AWS calls that never raise anything but AwsCallError,
bucket-name checks, display helpers (sizes, dates, breadcrumbs) and download headers.

`error_dict` and `format_time` come from `web`, re-exported here."""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import quote

from botocore.exceptions import ParamValidationError  # type: ignore[import-untyped]
from starlette.requests import Request

from .aws import AwsCallError
from .web import Console, Identity, error_dict, format_time

__all__ = [
    "BROWSER_UNSAFE_MESSAGE",
    "browser_addressable",
    "bucket_path",
    "content_disposition",
    "error_dict",
    "folder_of",
    "format_time",
    "human_size",
    "invalid_bucket",
    "listing_url",
    "prefix_crumbs",
    "s3_call",
    "valid_bucket_name",
]

# botocore's own client-side check (VALID_BUCKET), so a name that passes here reaches S3.
_BUCKET_NAME: Final = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")
_UNITS: Final = ("B", "KB", "MB", "GB", "TB", "PB")
BROWSER_UNSAFE_MESSAGE: Final = (
    "This key has a '.' or '..' path segment, which browsers rewrite in URLs before sending "
    "them: use the AWS CLI or an SDK for it."
)


def valid_bucket_name(name: str) -> bool:
    return bool(_BUCKET_NAME.match(name))


def invalid_bucket() -> AwsCallError:
    """S3's answer to a bucket name it cannot take (botocore would not even send it)."""
    return AwsCallError("InvalidBucketName", "The specified bucket is not valid.", 400, None)


async def s3_call(
    console: Console, request: Request, identity: Identity, operation: str, **params: Any
) -> dict[str, Any]:
    """An S3 call as the page's identity; a parameter botocore refuses before sending is an
    AwsCallError too (400), so every page shows it like S3's own refusals."""
    try:
        return await console.call(request, identity, "s3", operation, **params)
    except ParamValidationError as error:
        raise AwsCallError("InvalidArgument", str(error), 400, None) from None


def bucket_path(bucket: str) -> str:
    return f"/console/s3/buckets/{quote(bucket, safe='')}"


def listing_url(bucket: str, prefix: str = "", **extra: str) -> str:
    query = [f"prefix={quote(prefix, safe='')}"] if prefix else []
    query += [f"{name}={quote(value, safe='')}" for name, value in extra.items() if value]
    return bucket_path(bucket) + ("?" + "&".join(query) if query else "")


def folder_of(key: str) -> str:
    """The folder a key (or a partial prefix) is in: everything up to its last '/'."""
    return key[: key.rfind("/") + 1]


def prefix_crumbs(prefix: str) -> tuple[list[dict[str, str]], str]:
    """The folders of `prefix` as (label, prefix) crumbs, and what follows the last '/'."""
    *folders, tail = prefix.split("/")
    crumbs: list[dict[str, str]] = []
    current = ""
    for name in folders:
        current += name + "/"
        crumbs.append({"label": name or "(empty name)", "prefix": current})
    return crumbs, tail


def human_size(size: Any) -> str:
    try:
        value = float(size)
    except (TypeError, ValueError):
        return ""
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # pragma: no cover


def browser_addressable(key: str) -> bool:
    """False when a browser would rewrite the key's URL: a '.' or '..' path segment (WHATWG
    URL parsing removes them, also percent-encoded) breaks a presigned URL's signature."""
    return not any(segment in (".", "..") for segment in key.split("/"))


def content_disposition(key: str) -> str:
    """`attachment` with the key's last segment as the file name (RFC 6266): an ASCII
    fallback in `filename` and the exact UTF-8 name in `filename*` (RFC 8187)."""
    name = key.rsplit("/", 1)[-1] or "download"
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%' else "_" for ch in name)
    encoded = quote(name, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
