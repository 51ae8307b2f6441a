"""The S3 REST endpoint (path-style addressing on the shared endpoint): the transport.

One request: route (method, path, sub-resources) -> operation (`operations.OPERATIONS`) ->
one call that authenticates (SigV4 header, presigned query, or anonymous) and runs
the operation's `prepare` in the same read transaction -> the operation's handler -> REST-XML
response, or S3's `<Error>` document. Object bodies stream (`body`); file I/O and the
other store work run in worker threads.

On the embedded SQLite store that one authenticating call runs on the event loop itself: it
is local reads (WAL readers never wait) and CPU work, a small object's commit included, and
handing it to a thread cost about as much again in thread switches and GIL contention
(measured in one process, 8 connections: GetObject 388 -> 746 req/s, PutObject 322 -> 553).
With PostgreSQL every query is a network round trip, so it stays in a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..audit.batching import next_turn
from ..audit.capture import capture_s3
from ..errors import EXPLANATIONS_SCOPE_KEY
from ..ids import request_id as new_request_id
from ..server.gateway import Gateway
from ..store.group_commit import GroupCommit
from ..wire import sigv4
from ..wire.restxml import RestXmlError
from ..wire.restxml import serialize_s3_error as render_error
from . import catalog
from .authn import Arrival, authenticate
from .body import read_small_body, verify_body_digests
from .call import Call
from .context import MAX_OBJECT_SIZE, MIN_PART_SIZE, S3Context
from .errors import S3Error
from .operations import OPERATIONS, Operation
from .routing import decode_query, route_request
from .shared_blobs import open_blob_store

__all__ = ["MAX_OBJECT_SIZE", "MIN_PART_SIZE", "S3Endpoint", "default_data_dir"]

log = logging.getLogger("rolegate.s3")


def default_data_dir(database_url: str) -> Path:
    """`s3-objects` next to the SQLite file; `./.rolegate/s3-objects` for a server store."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "s3-objects"
    return Path(".rolegate/s3-objects").resolve()


class S3Endpoint:
    """Serves S3 on the shared endpoint; `data_dir` holds the object bytes."""

    # Blob files that no row names and that have not changed for this long are removed at
    # start (a row always commits moments after its blob is put in place).
    ORPHAN_AGE: float = 3600.0

    def __init__(
        self,
        gateway: Gateway,
        data_dir: Path | None = None,
        *,
        max_object_size: int = MAX_OBJECT_SIZE,
        min_part_size: int = MIN_PART_SIZE,
    ) -> None:
        self.gateway = gateway
        self.database = gateway.database
        self.store = open_blob_store(self.database, data_dir or default_data_dir(self.database.url))
        self.store.sweep()
        threading.Thread(
            target=self._sweep_orphans, name="rolegate-s3-orphans", daemon=True
        ).start()
        self.admit_on_loop = self.database.is_sqlite
        self.context = S3Context(
            gateway=gateway,
            database=self.database,
            store=self.store,
            commits=GroupCommit(self.database),
            max_object_size=max_object_size,
            min_part_size=min_part_size,
        )

    async def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        scope = request.scope
        method = request.method
        header_list = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers: dict[str, str] = {}
        for name, value in header_list:
            lowered = name.lower()
            headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        resource = unquote(raw_path)
        route_streams = method in ("PUT", "POST")
        admitted: list[Call] = []  # the call once authenticated: its event names the caller
        try:
            pairs = decode_query(query)
            route = route_request(method, raw_path, pairs, headers)
            route_streams = route.streams_body
            operation = OPERATIONS[route.operation]
            body = object_data = None
            if not route.streams_body:
                body = await read_small_body(request)
            elif operation.complete is not None and self._fits_inline(headers):
                object_data = await read_small_body(request)
                request.state.body_received = True
            arrival = Arrival(
                request_id=request_id,
                route=route,
                action=operation.action,
                http_request=sigv4.HttpRequest(method, raw_path, query, header_list, body),
                headers=headers,
                pairs=pairs,
                source_ip=request.client.host if request.client else "127.0.0.1",
                secure=scope.get("scheme") == "https",
                object_data=object_data,
            )
            if self.admit_on_loop:
                call = self._admit(arrival, operation, admitted)
            else:
                call = await run_in_threadpool(self._admit, arrival, operation, admitted)
            response = await operation.handler(self.context, call, request)
            response.headers["x-amz-request-id"] = request_id
            response.headers["x-amz-id-2"] = _host_id(request_id)
            await self._audit(admitted, response, None)
            return response
        except S3Error as error:
            explanations = scope.get(EXPLANATIONS_SCOPE_KEY)
            if explanations is not None and error.explanation is not None:
                explanations.append(error.explanation)
            if route_streams and not getattr(request.state, "body_received", False):
                # The body was not read (maybe not even sent, after Expect: 100-continue):
                # the connection cannot carry another request.
                error.headers["Connection"] = "close"
            response = _error_response(error, request_id, resource, method)
            await self._audit(admitted, response, error)
            return response
        except RestXmlError as error:
            converted = S3Error(error.code, error.message, error.status, extra=error.extra)
            response = _error_response(converted, request_id, resource, method)
            await self._audit(admitted, response, converted)
            return response
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception:
            log.exception("S3 request %s failed", request_id)
            internal = S3Error(
                "InternalError", "We encountered an internal error. Please try again.", 500
            )
            response = _error_response(internal, request_id, resource, method)
            await self._audit(admitted, response, internal)
            return response

    async def _audit(self, admitted: list[Call], response: Response, error: S3Error | None) -> None:
        """Record the request's events before the response goes out: only once it was
        authenticated (anonymous included); unauthenticated or unroutable ones name nobody."""
        audit = self.gateway.audit
        if not admitted or not audit.enabled:
            await next_turn()  # as a journaled answer does (`audit.batching.next_turn`)
            return
        call = admitted[0]
        try:
            capture = capture_s3(
                call,
                bucket_owner=call.bucket_owner,
                error=(error.code, error.message) if error is not None else None,
                response_headers=response.headers,
                host_id=response.headers.get("x-amz-id-2", ""),
            )
            if capture is not None:
                await audit.record_capture_soon(capture)
        except Exception:
            if error is None:
                raise  # a success that cannot be recorded is not acknowledged
            log.exception("recording the audit event of S3 request %s failed", call.request_id)

    def _sweep_orphans(self) -> None:
        """Delete blob files that no row names (deletions a crash cut off), off the start."""

        def referenced() -> set[str]:
            with self.database.read() as uow:
                return catalog.referenced_blobs(uow)

        try:
            removed = self.store.sweep_orphans(referenced, older_than=self.ORPHAN_AGE)
        except Exception:  # the server runs on; the files stay for the next start
            log.warning("sweeping unreferenced blob files failed", exc_info=True)
            return
        if removed:
            log.info("removed %d unreferenced blob files", removed)

    def _fits_inline(self, headers: dict[str, str]) -> bool:
        """A body declared small enough to be read before authenticating (and kept inline)."""
        length = headers.get("content-length", "").strip()
        return length.isdigit() and int(length) <= self.context.inline_object_size

    def _admit(self, arrival: Arrival, operation: Operation, admitted: list[Call]) -> Call:
        """Authenticate, check a buffered body's digests, and run the operation's `prepare`
        (one read transaction), then its `complete`: one call, on the loop or in a thread.
        The authenticated call goes into `admitted` at once (for its audit event)."""
        with self.database.read() as uow:
            call = authenticate(self.gateway, uow, arrival)
            admitted.append(call)
            if call.body:
                verify_body_digests(call.headers, call.body)
            if operation.prepare is not None:
                call.prepared = operation.prepare(self.context, uow, call)
        if operation.complete is not None:
            call.prepared = operation.complete(self.context, call)
        return call


def _error_response(error: S3Error, request_id: str, resource: str, method: str) -> Response:
    headers = {
        "x-amz-request-id": request_id,
        "x-amz-id-2": _host_id(request_id),
        **error.headers,
    }
    if method == "HEAD":
        return Response(None, error.status, headers)
    body = render_error(
        error.code,
        error.message,
        resource=resource,
        request_id=request_id,
        host_id=_host_id(request_id),
        extra=error.extra,
    )
    headers["Content-Type"] = "application/xml"
    return Response(body, error.status, headers)


def _host_id(request_id: str) -> str:
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode()
