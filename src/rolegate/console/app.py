"""The console as an ASGI app: its routes, static assets, and the headers every page carries.

`create_app` (server/app.py) puts it in front of the API: an unsigned browser request to
`/console`, `/signin`, `/switchrole` or `/federation` is the console's; anything signed (or
any other path) is the API's. The console's own AWS calls go back into the API in process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..server.gateway import Gateway
from . import (
    analyzer_pages,
    audit_pages,
    ec2_pages,
    federation,
    home,
    iam_pages,
    s3_pages,
    signin_pages,
    switch_role,
)
from .aws import ConsoleAws
from .web import Console

__all__ = ["SECURITY_HEADERS", "create_console"]

SECURITY_HEADERS: Final = {
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
_STATIC: Final = Path(__file__).resolve().parent / "static"


class _SecurityHeaders:
    """Clickjacking, CSP and no-store headers on every console response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        static = scope.get("path", "").startswith("/console/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_console(gateway: Gateway, api: ASGIApp) -> ASGIApp:
    """The console app; `api` answers its in-process AWS calls."""
    console = Console(gateway, ConsoleAws(api))
    routes: list[Route | Mount] = [Mount("/console/static", StaticFiles(directory=_STATIC))]
    for module in (
        signin_pages,
        home,
        switch_role,
        federation,
        s3_pages,
        iam_pages,
        audit_pages,
        ec2_pages,
        analyzer_pages,
    ):
        routes.extend(module.routes(console))

    async def not_found(request: Request, exc: Exception) -> Response:
        identity = await console.identity(request)
        status = getattr(exc, "status_code", 404)
        return console.render(
            request,
            "error.html",
            identity,
            status=status,
            title="Page not found" if status == 404 else "Request refused",
            message=(
                "There is no console page at this address."
                if status == 404
                else "The console does not answer this kind of request here."
            ),
        )

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.console = console
    return _SecurityHeaders(app)
