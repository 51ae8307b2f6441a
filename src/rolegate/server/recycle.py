"""Keep-alive connections that end now and then, so that they spread over the workers.

With `rolegate serve --workers N` the worker processes share one listening socket, and a
client's keep-alive connections stay with the worker that accepted them: a burst of new
connections often lands on one worker (seen: all 8 of wrk's on one of two workers, which
then does all the work while the other idles). Every `every`-th response here carries
`Connection: close`; the client reconnects (boto3, the aws CLI and wrk do so transparently)
and the worker waiting in accept takes the new connection, which is usually the least busy
one. nginx's `keepalive_requests` does the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

__all__ = ["RECYCLE_EVERY", "ConnectionRecycler"]

RECYCLE_EVERY: Final = 100

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConnectionRecycler:
    """ASGI middleware: `Connection: close` on every `every`-th HTTP response."""

    def __init__(self, app: App, every: int = RECYCLE_EVERY) -> None:
        self.app = app
        self.every = every
        self._served = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or next(self._served) % self.every:
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_closing)
