"""Which service a request is for, decided from the headers before its body is read."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from typing import Any, Final

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "CONSOLE_PREFIXES",
    "EC2_SERVICES",
    "JSON_SERVICES",
    "QUERY_SERVICES",
    "REST_JSON_SERVICES",
    "ConsoleRoute",
    "is_console_request",
    "service_of",
]

QUERY_SERVICES: Final = frozenset({"iam", "sts"})
# Services of the AWS JSON protocol (`X-Amz-Target`, `application/x-amz-json-1.1`).
JSON_SERVICES: Final = frozenset({"cloudtrail"})
# EC2's variant of the Query protocol (its own input names, `<Response><Errors>` errors).
EC2_SERVICES: Final = frozenset({"ec2"})
# Services of the REST-JSON protocol (operation from method and path): IAM Access Analyzer.
REST_JSON_SERVICES: Final = frozenset({"access-analyzer"})
_SCOPE_SERVICE: Final = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


def service_of(method: str, headers: Sequence[tuple[str, str]], query: str) -> str:
    """The SigV4 credential-scope service, else "s3" for SigV2 and unsigned REST requests.

    An unsigned form POST is a Query-protocol call (answered with MissingAuthenticationToken);
    any other unsigned request is an anonymous S3 request (public bucket policies). An
    unsigned AWS JSON POST is CloudTrail's (answered with MissingAuthenticationTokenException).
    """
    content_type = ""
    for name, value in headers:
        lowered = name.lower()
        if lowered == "authorization":
            found = _SCOPE_SERVICE.search(value)
            if found:
                return found.group(1)
            if value.startswith("AWS "):  # Signature Version 2 headers are S3's only
                return "s3"
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
    if method == "POST" and content_type.startswith("application/x-amz-json-"):
        return "cloudtrail"
    return "s3"


CONSOLE_PREFIXES: Final = ("/console", "/signin", "/switchrole", "/federation")
_SIGNED_QUERY: Final = ("X-Amz-Credential=", "AWSAccessKeyId=", "X-Amz-Signature=")


def is_console_request(scope: Scope) -> bool:
    """An unsigned request for a console path (or a browser's GET of `/`).

    Anything signed is an API call, so a bucket named like a console path stays reachable
    with credentials; only anonymous S3 requests to such a bucket are the console's.
    """
    if scope["type"] != "http":
        return False
    path: str = scope["path"]
    headers = scope["headers"]
    for name, value in headers:
        if name == b"authorization" and value[:5] in (b"AWS4-", b"AWS "):
            return False
    query = scope.get("query_string", b"").decode("latin-1")
    if any(marker in query for marker in _SIGNED_QUERY):
        return False
    if path == "/":
        if scope["method"] != "GET":
            return False
        accept = next((value for name, value in headers if name == b"accept"), b"")
        return b"text/html" in accept
    return any(path == prefix or path.startswith(prefix + "/") for prefix in CONSOLE_PREFIXES)


class ConsoleRoute(BaseRoute):
    """Routes console requests (`is_console_request`) to the console app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, dict[str, Any]]:
        return (Match.FULL, {}) if is_console_request(scope) else (Match.NONE, {})

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
