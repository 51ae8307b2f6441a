"""The console's AWS client: botocore clients whose requests go to this server's own ASGI app,
in process.

A console page is an AWS client of rolegate, as AWS's console is of AWS: it signs real IAM,
STS and S3 requests with the session's temporary credentials, and the same endpoint code
(SigV4, the model-driven parsers, the engine, the operation handlers) answers them. So a page
is authorized exactly as an API call by that session would be, and no operation has a second
implementation. botocore's `before-send` hook hands the signed request to the app on the
event loop instead of a socket; the request carries the browser's address (aws:SourceIp) and
a list in which the endpoint leaves the engine's explanation of an AccessDenied.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import anyio
import anyio.from_thread
import anyio.to_thread
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from botocore.session import Session as BotocoreSession  # type: ignore[import-untyped]

from ..errors import EXPLANATIONS_SCOPE_KEY

__all__ = [
    "AwsCallError",
    "ConsoleAws",
    "Credentials",
]

_INTERNAL_ENDPOINT: Final = "http://rolegate.console.internal"
_REGION: Final = "us-east-1"
_CLIENTS: Final = 256
# Console calls wait in their threads for the app, which may itself need worker threads
# (S3 on PostgreSQL, file I/O): they get their own limiter, so they never hold all of the
# default pool's threads.
_CALL_THREADS: Final = 16


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str


class AwsCallError(Exception):
    """An AWS error answer: code, message, HTTP status, and the engine's explanation of an
    AccessDenied (the `policy.explain` details) when there is one."""

    def __init__(
        self, code: str, message: str, status: int, explanation: Mapping[str, Any] | None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.explanation = explanation


@dataclass
class _CallContext:
    client_ip: str
    explanations: list[Mapping[str, Any]] = field(default_factory=list)


class _Body:
    """The raw body botocore's parsers read (`stream()` for streaming outputs)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, amt: int = 1024 * 1024, decode_content: bool = False) -> Iterator[bytes]:
        for start in range(0, len(self._data), amt):
            yield self._data[start : start + amt]

    def read(self, amt: int | None = None) -> bytes:
        data, self._data = (
            (self._data, b"")
            if amt is None
            else (
                self._data[:amt],
                self._data[amt:],
            )
        )
        return data


class ConsoleAws:
    """Makes AWS calls as a console session, answered by `app` in this process."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self._session = BotocoreSession()
        self._session.set_config_variable("region", _REGION)
        self._clients: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._limiter = anyio.CapacityLimiter(_CALL_THREADS)

    # ------------------------------------------------------------------ calls
    async def call(
        self,
        credentials: Credentials,
        client_ip: str,
        service: str,
        operation: str,
        **params: Any,
    ) -> dict[str, Any]:
        """`operation` (botocore's snake_case method name) of `service`; AwsCallError on an
        error answer."""
        return await anyio.to_thread.run_sync(
            self._call_sync,
            credentials,
            client_ip,
            service,
            operation,
            params,
            limiter=self._limiter,
        )

    def presigned_url(
        self,
        credentials: Credentials,
        origin: str,
        operation: str,
        params: Mapping[str, Any],
        expires_in: int = 300,
    ) -> str:
        """An S3 presigned URL on `origin` (the browser's view of this server)."""
        client = self._client("s3", credentials, origin)
        url: str = client.generate_presigned_url(
            operation, Params=dict(params), ExpiresIn=expires_in
        )
        return url

    def _call_sync(
        self,
        credentials: Credentials,
        client_ip: str,
        service: str,
        operation: str,
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        client = self._client(service, credentials, _INTERNAL_ENDPOINT)
        context = _CallContext(client_ip)
        self._local.context = context
        try:
            result: dict[str, Any] = getattr(client, operation)(**params)
        except ClientError as error:
            detail = error.response.get("Error", {})
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            raise AwsCallError(
                str(detail.get("Code", "Unknown")),
                str(detail.get("Message", "")),
                int(status),
                context.explanations[0] if context.explanations else None,
            ) from None
        finally:
            self._local.context = None
        result.pop("ResponseMetadata", None)
        return result

    # ------------------------------------------------------------------ clients
    def _client(self, service: str, credentials: Credentials, endpoint: str) -> Any:
        key = (service, credentials.access_key_id, endpoint)
        with self._lock:
            found = self._clients.get(key)
            if found is not None:
                self._clients.move_to_end(key)
                return found
            client = self._session.create_client(
                service,
                region_name=_REGION,
                endpoint_url=endpoint,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
                config=Config(
                    retries={"max_attempts": 1},
                    s3={"addressing_style": "path"},
                    signature_version="s3v4" if service == "s3" else None,
                ),
            )
            if endpoint == _INTERNAL_ENDPOINT:
                client.meta.events.register("before-send", self._send)
            self._clients[key] = client
            while len(self._clients) > _CLIENTS:
                self._clients.popitem(last=False)
            return client

    # ------------------------------------------------------------------ transport
    def _send(self, request: Any, **_: Any) -> AWSResponse:
        context: _CallContext | None = getattr(self._local, "context", None)
        if context is None:
            raise RuntimeError("console AWS call outside ConsoleAws.call")
        url = urlsplit(request.url)
        body = request.body
        if body is None:
            data = b""
        elif isinstance(body, bytes | bytearray):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body.read()
        headers: list[tuple[bytes, bytes]] = []
        names = set()
        for name, value in request.headers.items():
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            headers.append((name.lower().encode("latin-1"), text.encode("latin-1")))
            names.add(name.lower())
        if "host" not in names:
            headers.append((b"host", url.netloc.encode("latin-1")))
        if "content-length" not in names and (data or request.method in ("PUT", "POST")):
            headers.append((b"content-length", str(len(data)).encode()))
        status, response_headers, response_body = anyio.from_thread.run(
            self._dispatch, request.method, url.path or "/", url.query, headers, data, context
        )
        return AWSResponse(request.url, status, response_headers, _Body(response_body))

    async def _dispatch(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        context: _CallContext,
    ) -> tuple[int, dict[str, str], bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": (context.client_ip, 0),
            "server": ("rolegate.console.internal", 80),
            EXPLANATIONS_SCOPE_KEY: context.explanations,
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await anyio.sleep_forever()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 500
        response_headers: dict[str, str] = {}
        chunks = io.BytesIO()

        async def send(message: Mapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    response_headers[name.decode("latin-1")] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.write(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, response_headers, chunks.getvalue()
