"""Which service a request is for, decided from the headers before its body is read."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from typing import Final

__all__ = ["QUERY_SERVICES", "service_of"]

QUERY_SERVICES: Final = frozenset({"iam", "sts"})
_SCOPE_SERVICE: Final = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


def service_of(method: str, headers: Sequence[tuple[str, str]], query: str) -> str:
    """The SigV4 credential-scope service, else "s3" for unsigned REST requests.

    An unsigned form POST is a Query-protocol call (answered with MissingAuthenticationToken);
    any other unsigned request is an anonymous S3 request (public bucket policies).
    """
    content_type = ""
    for name, value in headers:
        lowered = name.lower()
        if lowered == "authorization":
            found = _SCOPE_SERVICE.search(value)
            if found:
                return found.group(1)
        elif lowered == "content-type":
            content_type = value.lower()
    if "X-Amz-Credential=" in query:
        for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if name == "X-Amz-Credential":
                parts = value.split("/")
                if len(parts) == 5:
                    return parts[3]
    if method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        return "iam"
    return "s3"
