"""ConnectionRecycler: every n-th HTTP response closes its connection; nothing else changes."""

from __future__ import annotations

import asyncio
from typing import Any

from rolegate.server.recycle import ConnectionRecycler


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _serve(app: ConnectionRecycler, scope_type: str = "http") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    asyncio.run(app({"type": scope_type}, receive, send))
    return sent


def test_every_nth_response_closes_its_connection() -> None:
    recycler = ConnectionRecycler(_app, every=3)
    heads = [_serve(recycler)[0]["headers"] for _ in range(7)]
    closing = [(b"connection", b"close") in headers for headers in heads]
    assert closing == [False, False, True, False, False, True, False]
    assert all((b"x-a", b"1") in headers for headers in heads)


def test_other_scopes_pass_through() -> None:
    recycler = ConnectionRecycler(_app, every=1)
    assert _serve(recycler, "websocket")[0]["headers"] == [(b"x-a", b"1")]
