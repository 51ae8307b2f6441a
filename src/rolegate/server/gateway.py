"""The request pipeline, synchronous and transport-free: verify, parse, authorize, run, render.

Every failure becomes an AWS-shaped error response; an unexpected exception is logged and
answered with a 500 `InternalFailure` that carries no traceback.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ..api import REGISTRY, OperationContext
from ..api.registry import Caller, Operation, Services
from ..clock import Clock, SystemClock
from ..errors import AccessDenied, InvalidClientTokenId, ServiceError
from ..iam.access_keys import KeyOwner, find_key_owner, record_key_use
from ..iam.authorization import PolicyCache
from ..ids import request_id as new_request_id
from ..policy import Request, evaluate
from ..policy.explain import failure_details
from ..store.database import Database, UnitOfWork
from ..sts.keyring import StoreKeyRing
from ..wire import sigv4
from ..wire.query import QueryProtocolError, ServiceProtocol, get_protocol, parse_form_body
from .auth import KeyDirectory, access_denied_message, caller_for, session_caller
from .routing import QUERY_SERVICES

__all__ = ["Gateway", "WireResponse"]

log = logging.getLogger("rolegate.gateway")

INVALID_TOKEN_MESSAGE: Final = "The security token included in the request is invalid."
_KEY_USE_INTERVAL: Final = 60.0


@dataclass(frozen=True)
class _Call:
    operation: Operation
    params: dict[str, Any]
    region: str
    source_ip: str
    request_id: str


@dataclass
class WireResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _security_token(request: sigv4.HttpRequest) -> str | None:
    found = request.header_values("x-amz-security-token")
    if found:
        return found[0].strip()
    for name, value in urllib.parse.parse_qsl(request.query, keep_blank_values=True):
        if name == "X-Amz-Security-Token":
            return value
    return None


class Gateway:
    def __init__(self, database: Database, signing_clock: Clock | None = None) -> None:
        self.database = database
        # Business time (expiry, last use) is the store's clock; signatures are checked
        # against real time unless a test replaces it.
        self.clock = database.clock
        self.signing_clock = signing_clock or SystemClock()
        self.policy_cache = PolicyCache()
        self.keys = StoreKeyRing(database)
        self.services = Services(
            database=database,
            keys=self.keys,
            authorize=self.authorize,
            evaluation_context=self.evaluation_context,
        )
        self._key_use: dict[str, float] = {}

    # ------------------------------------------------------------------ entry point
    def handle(
        self,
        request: sigv4.HttpRequest,
        source_ip: str,
        explanations: list[Mapping[str, Any]] | None = None,
    ) -> WireResponse:
        """Answer one Query request. `explanations`, given by in-process callers (the
        console), receives the engine's failure details of an AccessDenied."""
        request_id = new_request_id()
        protocol = get_protocol("iam")
        try:
            # Reads run in the transaction that authenticated the key; writes re-read the key
            # owner under the write lock in a transaction of their own.
            with self.database.read() as read_uow:
                keys = KeyDirectory(read_uow, self.keys, _security_token(request))
                verified = sigv4.verify(request, keys.secret_for, self.signing_clock.now())
                if verified.service not in QUERY_SERVICES:
                    raise ServiceError(
                        f"rolegate does not serve the service '{verified.service}' here.",
                        code="InvalidAction",
                        http_status=400,
                    )
                protocol = get_protocol(verified.service)
                form = parse_form_body(request.body if request.body else request.query)
                operation_model, params = protocol.parse_request(form)
                found = REGISTRY.get((verified.service, operation_model.name))
                if found is None:
                    raise ServiceError(
                        f"rolegate does not implement {verified.service}:{operation_model.name}.",
                        code="NotImplemented",
                        http_status=501,
                    )
                call = _Call(found, params, verified.region, source_ip, request_id)
                if not found.writes:
                    result = self._run(read_uow, self._caller(read_uow, keys), call)
            if found.writes:
                with self.database.write() as uow:
                    result = self._run(uow, self._caller(uow, keys, recheck=True), call)
            if keys.owner is not None:
                self._note_key_use(keys.owner, verified.service, verified.region)
            body = protocol.serialize_response(operation_model, result, request_id)
            return self._response(200, body, request_id)
        except sigv4.SigV4Error as error:
            return self._error(protocol, error.code, error.message, error.http_status, request_id)
        except QueryProtocolError as error:
            status, body = protocol.error_body(error, request_id)
            return self._response(status, body, request_id)
        except ServiceError as error:
            if explanations is not None and error.explanation is not None:
                explanations.append(error.explanation)
            return self._error(protocol, error.code, error.message, error.http_status, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            return self._error(
                protocol,
                "InternalFailure",
                "The request processing has failed because of an unknown error.",
                500,
                request_id,
                sender=False,
            )

    # ------------------------------------------------------------------ steps
    def _caller(self, uow: UnitOfWork, keys: KeyDirectory, *, recheck: bool = False) -> Caller:
        if keys.session is not None:
            return session_caller(uow, keys.session, self.policy_cache, self.clock.now())
        owner = keys.owner
        if owner is not None and recheck:
            owner = find_key_owner(uow, owner.access_key_id)
        if owner is None or not owner.active:
            raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE)
        return caller_for(uow, owner, self.policy_cache)

    def _run(self, uow: UnitOfWork, caller: Caller, call: _Call) -> Any:
        ctx = OperationContext(
            uow=uow,
            caller=caller,
            params=call.params,
            region=call.region,
            source_ip=call.source_ip,
            policy_cache=self.policy_cache,
            request_id=call.request_id,
            services=self.services,
        )
        if call.operation.gateway_authorizes:
            self.authorize(ctx, call.operation.action, call.operation.resource(ctx))
        return call.operation.handler(ctx)

    def evaluation_context(self, ctx: OperationContext) -> dict[str, str]:
        """The global condition keys of this request (the principal adds its own)."""
        now = ctx.now
        return {
            "aws:SourceIp": ctx.source_ip,
            "aws:CurrentTime": _iso(now),
            "aws:EpochTime": str(int(now.timestamp())),
            "aws:SecureTransport": "false",
            "aws:RequestedRegion": ctx.region,
            **ctx.caller.extra_context,
        }

    def authorize(self, ctx: OperationContext, action: str, resource: str) -> None:
        """Raise AccessDenied (with AWS's message) unless the caller may do `action`."""
        caller: Caller = ctx.caller
        request = Request(
            caller.principal,
            action,
            resource,
            context=self.evaluation_context(ctx),
            resource_account=ctx.account_id,
        )
        decision = evaluate(request, caller.policies)
        if not decision.allowed:
            raise AccessDenied(
                access_denied_message(caller.arn, action, resource, decision),
                explanation=failure_details(request, decision),
            )

    def authenticate(
        self, uow: UnitOfWork, request: sigv4.HttpRequest
    ) -> tuple[sigv4.VerifiedRequest, Caller]:
        """Verify the signature and build the caller (for endpoints outside the Query path).

        The request's body may be None (streamed): the payload hash then comes from the
        `x-amz-content-sha256` header and the caller must check the body against it.
        """
        keys = KeyDirectory(uow, self.keys, _security_token(request))
        verified = sigv4.verify(request, keys.secret_for, self.signing_clock.now())
        caller = self._caller(uow, keys)
        if keys.owner is not None:
            self._note_key_use(keys.owner, verified.service, verified.region)
        return verified, caller

    def _note_key_use(self, owner: KeyOwner, service: str, region: str) -> None:
        """Record last use at most once a minute per key (a write per request would serialize
        every reader behind the store's write lock)."""
        moment = self.clock.now().timestamp()
        last = self._key_use.get(owner.access_key_id)
        if last is not None and moment - last < _KEY_USE_INTERVAL:
            return
        self._key_use[owner.access_key_id] = moment
        with self.database.write() as uow:
            record_key_use(uow, owner.access_key_id, service, region)

    # ------------------------------------------------------------------ rendering
    def _error(
        self,
        protocol: ServiceProtocol,
        code: str,
        message: str,
        status: int,
        request_id: str,
        sender: bool = True,
    ) -> WireResponse:
        body = protocol.serialize_error(code, message, status, request_id, sender)
        return self._response(status, body, request_id)

    @staticmethod
    def _response(status: int, body: bytes, request_id: str) -> WireResponse:
        return WireResponse(
            status, body, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
        )
