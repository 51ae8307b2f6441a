"""Bucket name rules and S3 ARNs."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["bucket_arn", "is_valid_bucket_name", "object_arn"]

_NAME: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_LIKE: Final = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_PREFIXES: Final = ("xn--", "sthree-", "amzn-s3-demo-")
_SUFFIXES: Final = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def is_valid_bucket_name(name: str) -> bool:
    """AWS's general purpose bucket naming rules (3-63 characters, DNS-compatible)."""
    if not _NAME.fullmatch(name):
        return False
    if ".." in name or ".-" in name or "-." in name or _IP_LIKE.fullmatch(name):
        return False
    return not name.startswith(_PREFIXES) and not name.endswith(_SUFFIXES)


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"
