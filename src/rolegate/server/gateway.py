"""The request pipeline, synchronous and transport-free: verify, parse, authorize, run, render.

Every failure becomes an AWS-shaped error response; an unexpected exception is logged and
answered with a 500 `InternalFailure` that carries no traceback.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ..api import REGISTRY, OperationContext
from ..api.registry import Caller, Operation, Services
from ..audit.capture import AUTHENTICATION_FAILURES, capture_query
from ..audit.record import shared_identity_for_key, shared_identity_for_session
from ..audit.recorder import AuditTrail, audit_trail_for
from ..clock import Clock, SystemClock
from ..errors import AccessDenied, InvalidClientTokenId, ServiceError
from ..iam.access_keys import KeyOwner, find_key_owner
from ..iam.authorization import PolicyCache
from ..ids import request_id as new_request_id
from ..policy import Request, evaluate
from ..policy.explain import failure_details
from ..store.database import Database, UnitOfWork
from ..sts.keyring import StoreKeyRing
from ..wire import sigv2, sigv4
from ..wire.json_protocol import (
    UNKNOWN_OPERATION,
    JsonProtocolError,
    get_json_protocol,
    json_error_response,
)
from ..wire.protocol_errors import ProtocolError
from ..wire.query import get_protocol, parse_form_body
from ..wire.restjson import RestJsonServiceProtocol, rest_json_protocol_for
from .auth import KeyDirectory, access_denied_message, caller_for, session_caller
from .key_use import KeyUseRecorder
from .routing import EC2_SERVICES, JSON_SERVICES, QUERY_SERVICES, REST_JSON_SERVICES

__all__ = ["INTERNAL_FAILURE_MESSAGE", "Gateway", "WireResponse"]

log = logging.getLogger("rolegate.gateway")

INVALID_TOKEN_MESSAGE: Final = "The security token included in the request is invalid."
INTERNAL_FAILURE_MESSAGE: Final = "The request processing has failed because of an unknown error."
_FORM_ACTION: Final = re.compile(rb"(?:^|&)Action=([^&]*)")
_MFA_MEMBERS: Final = re.compile(rb"(?:^|&)(?:SerialNumber|TokenCode)=")


@dataclass(frozen=True)
class _Call:
    operation: Operation
    params: dict[str, Any]
    region: str
    source_ip: str
    request_id: str
    resources: list[str] = field(default_factory=list)  # what it was authorized on


@dataclass
class _Trace:
    """What a request turned out to be, as far as it got (for its audit event)."""

    source_ip: str
    request_id: str
    keys: KeyDirectory | None = None
    verified: sigv4.VerifiedRequest | None = None
    form: list[tuple[str, str]] | None = None
    call: _Call | None = None


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


class _Wire:
    """One protocol family's side of the pipeline: which services it serves, how it parses
    a request by the service's model, and how it writes answers."""

    services: frozenset[str]

    def parse(
        self, service: str, request: sigv4.HttpRequest, trace: _Trace
    ) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError

    def serialize(self, service: str, operation: Any, result: Any, request_id: str) -> bytes:
        raise NotImplementedError

    def error(
        self,
        service: str | None,
        code: str,
        message: str,
        status: int,
        request_id: str,
        sender: bool,
    ) -> tuple[int, bytes]:
        """The HTTP status (a protocol may map it, as awsJson does) and the error body."""
        raise NotImplementedError

    def content_type(self, service: str | None) -> str:
        raise NotImplementedError

    def not_served(self, service: str) -> Exception:
        raise NotImplementedError

    def not_implemented(self, service: str, operation: str) -> Exception:
        raise NotImplementedError

    def response(
        self, service: str | None, status: int, body: bytes, request_id: str
    ) -> WireResponse:
        return WireResponse(
            status,
            body,
            {"Content-Type": self.content_type(service), "x-amzn-RequestId": request_id},
        )

    def error_response(
        self,
        service: str | None,
        code: str,
        message: str,
        status: int,
        request_id: str,
        sender: bool,
        fields: Mapping[str, Any] | None,
    ) -> WireResponse:
        """The error answer; `fields` are members of a modeled error (REST-JSON's)."""
        status, body = self.error(service, code, message, status, request_id, sender)
        return self.response(service, status, body, request_id)


class _QueryWire(_Wire):
    """AWS Query: form bodies, XML answers (IAM, STS)."""

    services = QUERY_SERVICES
    default_service = "iam"  # whose error format answers before the service is known

    def parse(
        self, service: str, request: sigv4.HttpRequest, trace: _Trace
    ) -> tuple[Any, dict[str, Any]]:
        form = parse_form_body(request.body if request.body else request.query)
        trace.form = form
        return get_protocol(service).parse_request(form)

    def serialize(self, service: str, operation: Any, result: Any, request_id: str) -> bytes:
        return get_protocol(service).serialize_response(operation, result, request_id)

    def error(
        self,
        service: str | None,
        code: str,
        message: str,
        status: int,
        request_id: str,
        sender: bool,
    ) -> tuple[int, bytes]:
        protocol = get_protocol(service or self.default_service)
        return status, protocol.serialize_error(code, message, status, request_id, sender)

    def content_type(self, service: str | None) -> str:
        return "text/xml"

    def not_served(self, service: str) -> Exception:
        return ServiceError(
            f"rolegate does not serve the service '{service}' here.",
            code="InvalidAction",
            http_status=400,
        )

    def not_implemented(self, service: str, operation: str) -> Exception:
        return ServiceError(
            f"rolegate does not implement {service}:{operation}.",
            code="NotImplemented",
            http_status=501,
        )


class _Ec2Wire(_QueryWire):
    """EC2's Query variant: form bodies, answers without a result wrapper, errors in
    `<Response><Errors>` (the same `wire.query` machinery, driven by the `ec2` model)."""

    services = EC2_SERVICES
    default_service = "ec2"

    def content_type(self, service: str | None) -> str:
        return "text/xml;charset=UTF-8"


class _JsonWire(_Wire):
    """awsJson: the operation in X-Amz-Target, JSON bodies and answers (CloudTrail)."""

    services = JSON_SERVICES

    def parse(
        self, service: str, request: sigv4.HttpRequest, trace: _Trace
    ) -> tuple[Any, dict[str, Any]]:
        protocol = get_json_protocol(service)
        return protocol.parse_request(request.method, request.headers, request.body or b"")

    def serialize(self, service: str, operation: Any, result: Any, request_id: str) -> bytes:
        return get_json_protocol(service).serialize_response(operation, result)

    def error(
        self,
        service: str | None,
        code: str,
        message: str,
        status: int,
        request_id: str,
        sender: bool,
    ) -> tuple[int, bytes]:
        return json_error_response(code, message, status)

    def content_type(self, service: str | None) -> str:
        if service is None:
            return "application/x-amz-json-1.1"
        return str(get_json_protocol(service).content_type)

    def not_served(self, service: str) -> Exception:
        return JsonProtocolError(
            UNKNOWN_OPERATION, f"rolegate does not serve the service '{service}' here."
        )

    def not_implemented(self, service: str, operation: str) -> Exception:
        return JsonProtocolError(
            UNKNOWN_OPERATION, f"rolegate does not implement {service}:{operation}."
        )


class _RestJsonWire(_JsonWire):
    """REST-JSON: the operation from method and path, members from the URI, query, headers
    and a JSON body; the error code in `x-amzn-ErrorType` (IAM Access Analyzer). Refusing
    an unknown service or operation is awsJson's."""

    services = REST_JSON_SERVICES

    def _protocol(self, service: str | None) -> RestJsonServiceProtocol:
        return rest_json_protocol_for(service or "access-analyzer")

    def parse(
        self, service: str, request: sigv4.HttpRequest, trace: _Trace
    ) -> tuple[Any, dict[str, Any]]:
        return self._protocol(service).parse_request(
            request.method, request.path, request.query, request.headers, request.body or b""
        )

    def serialize(self, service: str, operation: Any, result: Any, request_id: str) -> bytes:
        status, headers, body = self._protocol(service).serialize_response(operation, result)
        if status != 200 or headers:  # no served operation has either (the pipeline says 200)
            raise ValueError(f"{operation.name}: status {status} / headers {sorted(headers)}")
        return body

    def error(
        self,
        service: str | None,
        code: str,
        message: str,
        status: int,
        request_id: str,
        sender: bool,
    ) -> tuple[int, bytes]:
        status, _, body = self._protocol(service).error_response(code, message, status)
        return status, body

    def error_response(
        self,
        service: str | None,
        code: str,
        message: str,
        status: int,
        request_id: str,
        sender: bool,
        fields: Mapping[str, Any] | None,
    ) -> WireResponse:
        protocol = self._protocol(service)
        status, headers, body = protocol.error_response(code, message, status, fields=fields)
        answer = self.response(service, status, body, request_id)
        answer.headers.update(headers)
        return answer

    def content_type(self, service: str | None) -> str:
        return str(RestJsonServiceProtocol.content_type)


_QUERY: Final = _QueryWire()
_EC2: Final = _Ec2Wire()
_JSON: Final = _JsonWire()
_REST_JSON: Final = _RestJsonWire()


class Gateway:
    def __init__(
        self,
        database: Database,
        signing_clock: Clock | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        self.database = database
        # Every request's CloudTrail events (`record`); the console and LookupEvents use it too.
        self.audit = audit if audit is not None else audit_trail_for(database)
        # Business time (expiry, last use) is the store's clock; signatures are checked
        # against real time unless a test replaces it.
        self.clock = database.clock
        self.signing_clock = signing_clock or SystemClock()
        self.policy_cache = PolicyCache()
        self.keys = StoreKeyRing(database)
        # The first key is created now, not by the first token sealed inside a write
        # transaction (SQLite's write gate is not re-entrant: that sign-in would wait on itself).
        self.keys.current()
        self.services = Services(
            database=database,
            keys=self.keys,
            authorize=self.authorize,
            evaluation_context=self.evaluation_context,
        )
        # Last use of access keys, written in batches by a thread of its own.
        self.key_use = KeyUseRecorder(database, self.clock)
        # SQLite reads take microseconds and never wait on a lock: such Query calls are
        # answered on the server's event loop (`serves_on_loop`), not in a thread.
        self.reads_on_loop = database.is_sqlite and not self.audit.writes_per_request

    # ------------------------------------------------------------------ entry points
    def serves_on_loop(self, service: str, body: bytes) -> bool:
        """Whether `handle` may run on the event loop for this Query request: on SQLite, an
        operation that only reads, without an MFA code (using one up writes). A write (or
        anything unsure: the Action not in the body, say) goes to a thread: it may wait for
        the store's write lock."""
        if not self.reads_on_loop or service not in QUERY_SERVICES:
            return False
        found = _FORM_ACTION.search(body)
        if found is None or b"%" in found.group(1):
            return False
        operation = REGISTRY.get((service, found.group(1).decode("ascii", "replace")))
        return (
            operation is not None
            and not operation.writes
            and not operation.may_write
            and _MFA_MEMBERS.search(body) is None
        )

    def handle(
        self,
        request: sigv4.HttpRequest,
        source_ip: str,
        explanations: list[Mapping[str, Any]] | None = None,
    ) -> WireResponse:
        """Answer one Query request (IAM, STS). `explanations`, given by in-process callers
        (the console), receives the engine's failure details of an AccessDenied."""
        return self._serve(_QUERY, request, source_ip, explanations)

    def handle_ec2(
        self,
        request: sigv4.HttpRequest,
        source_ip: str,
        explanations: list[Mapping[str, Any]] | None = None,
    ) -> WireResponse:
        """Answer one EC2 request (its variant of the Query protocol)."""
        return self._serve(_EC2, request, source_ip, explanations)

    def handle_json(
        self,
        request: sigv4.HttpRequest,
        source_ip: str,
        explanations: list[Mapping[str, Any]] | None = None,
    ) -> WireResponse:
        """Answer one JSON-protocol (awsJson) request: CloudTrail's."""
        return self._serve(_JSON, request, source_ip, explanations)

    def handle_rest_json(
        self,
        request: sigv4.HttpRequest,
        source_ip: str,
        explanations: list[Mapping[str, Any]] | None = None,
    ) -> WireResponse:
        """Answer one REST-JSON request: IAM Access Analyzer's."""
        return self._serve(_REST_JSON, request, source_ip, explanations)

    def _serve(
        self,
        wire: _Wire,
        request: sigv4.HttpRequest,
        source_ip: str,
        explanations: list[Mapping[str, Any]] | None,
    ) -> WireResponse:
        """The pipeline of every model-driven protocol: verify the signature, parse by the
        service's model, find the operation, build the caller and run it (the gateway
        authorizes it with the engine first) in one transaction, serialize.

        Its CloudTrail event is recorded before the answer returns, success or failure, once
        the signature verified (`audit.capture`): a request that failed authentication names
        nobody and is not recorded."""
        request_id = new_request_id()
        started = self.clock.now()
        trace = _Trace(source_ip, request_id)
        service: str | None = None
        fields: Mapping[str, Any] | None = None  # members of a modeled error (REST-JSON)
        try:
            # Reads run in the transaction that authenticated the key; writes re-read the key
            # owner under the write lock in a transaction of their own.
            with self.database.read() as read_uow:
                keys = KeyDirectory(read_uow, self.keys, _security_token(request))
                verified = sigv4.verify(request, keys.secret_for, self.signing_clock.now())
                trace.keys, trace.verified = keys, verified
                if verified.service not in wire.services:
                    raise wire.not_served(verified.service)
                service = verified.service
                operation_model, params = wire.parse(service, request, trace)
                found = REGISTRY.get((service, operation_model.name))
                if found is None:
                    raise wire.not_implemented(service, operation_model.name)
                call = _Call(found, params, verified.region, source_ip, request_id)
                trace.call = call
                if not found.writes:
                    result = self._run(read_uow, self._caller(read_uow, keys), call)
            if found.writes:
                with self.database.write() as uow:
                    result = self._run(uow, self._caller(uow, keys, recheck=True), call)
            if keys.owner is not None:
                self._note_key_use(keys.owner, verified.service, verified.region)
            body = wire.serialize(service, operation_model, result, request_id)
            self._audit(trace, request, started, result, None)
            return wire.response(service, 200, body, request_id)
        except sigv4.SigV4Error as error:
            failure = (error.code, error.message, error.http_status, True)
        except ProtocolError as error:
            failure = (error.code, error.message, error.http_status, error.sender)
            fields = getattr(error, "fields", None)
            self._audit(trace, request, started, None, (error.code, error.message))
        except ServiceError as error:
            if explanations is not None and error.explanation is not None:
                explanations.append(error.explanation)
            failure = (error.code, error.message, error.http_status, error.sender)
            fields = getattr(error, "fields", None)
            self._audit(trace, request, started, None, (error.code, error.message))
        except Exception:
            log.exception("request %s failed", request_id)
            failure = ("InternalFailure", INTERNAL_FAILURE_MESSAGE, 500, False)
            self._audit(
                trace, request, started, None, ("InternalFailure", INTERNAL_FAILURE_MESSAGE)
            )
        return wire.error_response(service, *failure[:3], request_id, failure[3], fields)

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
            resources=call.resources,
        )
        if call.operation.gateway_authorizes:
            resource = call.operation.resource(ctx)
            call.resources.append(resource)
            self.authorize(ctx, call.operation.action, resource)
        return call.operation.handler(ctx)

    def _audit(
        self,
        trace: _Trace,
        request: sigv4.HttpRequest,
        started: datetime,
        result: Any,
        error: tuple[str, str] | None,
    ) -> None:
        """Record the request's events (journaled before the response is sent)."""
        keys, verified = trace.keys, trace.verified
        if not self.audit.enabled or keys is None or verified is None:
            return
        if error is not None and error[0] in AUTHENTICATION_FAILURES:
            return
        if keys.session is not None:
            identity = shared_identity_for_session(keys.session)
        elif keys.owner is not None:
            identity = shared_identity_for_key(keys.owner)
        else:  # pragma: no cover - a verified signature found its key
            return
        agents = request.header_values("user-agent")
        try:
            self._record(trace, identity, agents[0] if agents else None, started, result, error)
        except Exception:
            if error is None:
                raise  # a success that cannot be recorded is not acknowledged
            log.exception("recording the audit event of request %s failed", trace.request_id)

    def _record(
        self,
        trace: _Trace,
        identity: dict[str, Any],
        user_agent: str | None,
        started: datetime,
        result: Any,
        error: tuple[str, str] | None,
    ) -> None:
        call, verified = trace.call, trace.verified
        assert verified is not None
        if call is not None:
            service, operation, params = call.operation.service, call.operation.name, call.params
        else:
            action = dict(trace.form or ()).get("Action")
            if not action:
                return
            service, operation, params = verified.service, action, None
        capture = capture_query(
            identity=identity,
            service=service,
            operation=operation,
            params=params,
            result=result,
            error=error,
            resource_arns=call.resources if call is not None else (),
            event_time=started,
            region=verified.region,
            source_ip=trace.source_ip,
            user_agent=user_agent,
            request_id=trace.request_id,
        )
        self.audit.record_capture(capture)

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

    def authenticate_sigv2(
        self, uow: UnitOfWork, request: sigv4.HttpRequest, region: str
    ) -> tuple[sigv2.VerifiedV2Request, Caller]:
        """`authenticate` for a Signature Version 2 request (S3 only: it has no credential
        scope, so the caller names the `region` its key use is recorded for)."""
        keys = KeyDirectory(uow, self.keys, sigv2.security_token(request))
        verified = sigv2.verify(request, keys.secret_for, self.signing_clock.now())
        caller = self._caller(uow, keys)
        if keys.owner is not None:
            self._note_key_use(keys.owner, "s3", region)
        return verified, caller

    def _note_key_use(self, owner: KeyOwner, service: str, region: str) -> None:
        self.key_use.note(owner.access_key_id, service, region)
