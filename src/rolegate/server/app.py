"""The ASGI application (Starlette): transport only; the pipeline lives in `Gateway`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..audit.batching import collecting
from ..audit.recorder import DEFAULT_RETENTION_DAYS, audit_trail_for
from ..clock import Clock
from ..console.app import create_console
from ..errors import EXPLANATIONS_SCOPE_KEY
from ..ids import request_id as new_request_id
from ..store.database import Database
from ..wire import sigv4
from ..wire.json_protocol import json_error_response
from ..wire.query import get_protocol
from .allocator import tune_allocator
from .gateway import INTERNAL_FAILURE_MESSAGE, Gateway
from .recycle import ConnectionRecycler
from .routing import (
    EC2_SERVICES,
    JSON_SERVICES,
    REST_JSON_SERVICES,
    ConsoleRoute,
    service_of,
)

__all__ = [
    "AUDIT_ENV",
    "AUDIT_RETENTION_ENV",
    "DB_URL_ENV",
    "MAX_QUERY_BODY",
    "S3_DIR_ENV",
    "app_from_environment",
    "create_app",
]

MAX_QUERY_BODY: Final = 1024 * 1024
log = logging.getLogger("rolegate.server")

DB_URL_ENV: Final = "ROLEGATE_DB_URL"
S3_DIR_ENV: Final = "ROLEGATE_S3_DIR"
AUDIT_ENV: Final = "ROLEGATE_AUDIT"  # "off": record no audit events
AUDIT_RETENTION_ENV: Final = "ROLEGATE_AUDIT_RETENTION_DAYS"
QUERY_THREADS: Final = 4
_METHODS: Final = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(service: str | None, code: str, message: str, status: int) -> Response:
    """An error answered before (or after) the gateway, in the service's protocol."""
    rid = new_request_id()
    if service in JSON_SERVICES or service in REST_JSON_SERVICES:
        _, error = json_error_response(code, message, status)
        content_type = "application/x-amz-json-1.1"
    else:
        protocol = get_protocol("ec2" if service in EC2_SERVICES else "iam")
        error = protocol.serialize_error(code, message, status, rid)
        content_type = "text/xml"
    return Response(error, status, {"Content-Type": content_type, "x-amzn-RequestId": rid})


def create_app(
    database: Database,
    signing_clock: Clock | None = None,
    s3_data_dir: Path | None = None,
    *,
    audit: bool = True,
    audit_retention_days: float = DEFAULT_RETENTION_DAYS,
) -> Starlette:
    """The app; its audit trail journals beside the SQLite file or in `s3_data_dir`
    (`audit.recorder.audit_trail_for`), and records nothing when not `audit`."""
    from ..s3.endpoint import S3Endpoint

    trail = audit_trail_for(
        database, s3_data_dir, enabled=audit, retention_days=audit_retention_days
    )
    gateway = Gateway(database, signing_clock, audit=trail)
    # A few threads run Query calls: more only contend for the GIL (measured: 4 beat 1, 2, 40).
    query_threads = anyio.CapacityLimiter(QUERY_THREADS)
    s3 = S3Endpoint(gateway, s3_data_dir)

    async def endpoint(request: Request) -> Response:
        scope = request.scope
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        query = scope.get("query_string", b"").decode("latin-1")
        service = service_of(request.method, headers, query)
        if service == "s3":
            return await s3.handle(request)
        try:
            body = await _read_body(request, MAX_QUERY_BODY)
        except _BodyTooLarge:
            return _error(service, "RequestEntityTooLarge", "Request body is too large.", 413)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        http_request = sigv4.HttpRequest(
            method=request.method,
            path=raw_path.decode("latin-1"),
            query=query,
            headers=headers,
            body=body,
        )
        source_ip = request.client.host if request.client else "127.0.0.1"
        if service in REST_JSON_SERVICES:
            handler = gateway.handle_rest_json
        elif service in EC2_SERVICES:
            handler = gateway.handle_ec2
        else:
            handler = gateway.handle_json if service in JSON_SERVICES else gateway.handle
        if handler == gateway.handle and gateway.serves_on_loop(service, body):
            # Its events are journaled with those of the other requests of this loop turn.
            with collecting() as collected:
                result = handler(http_request, source_ip, scope.get(EXPLANATIONS_SCOPE_KEY))
            try:
                await collected.written()
            except Exception:
                log.exception("journaling the audit events of a request failed")
                if result.status < 400:  # a success that cannot be recorded is not acknowledged
                    return _error(service, "InternalFailure", INTERNAL_FAILURE_MESSAGE, 500)
            return Response(result.body, result.status, result.headers)
        result = await anyio.to_thread.run_sync(
            handler,
            http_request,
            source_ip,
            scope.get(EXPLANATIONS_SCOPE_KEY),
            limiter=query_threads,
        )
        return Response(result.body, result.status, result.headers)

    api_route = Route("/{path:path}", endpoint, methods=_METHODS)
    # The console's own AWS calls are signed API requests: they go to the API route.
    console = create_console(gateway, Starlette(routes=[api_route]))
    app = Starlette(routes=[ConsoleRoute(console), api_route])
    app.state.gateway = gateway
    return app


def app_from_environment() -> ConnectionRecycler:
    """The app of one worker process of `rolegate serve --workers N` (the parent migrated);
    its keep-alive connections end now and then so that they spread over the workers."""
    tune_allocator()
    database = Database(os.environ[DB_URL_ENV])
    app = create_app(
        database,
        s3_data_dir=Path(os.environ[S3_DIR_ENV]),
        audit=os.environ.get(AUDIT_ENV, "on") != "off",
        audit_retention_days=float(
            os.environ.get(AUDIT_RETENTION_ENV, str(DEFAULT_RETENTION_DAYS))
        ),
    )
    return ConnectionRecycler(app)
