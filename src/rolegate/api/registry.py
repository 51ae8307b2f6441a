"""Operations are data: service, name, the IAM action, how to find the resource, the handler.

The gateway authorizes `action` on `resource(ctx)` with the policy engine before it calls
`handler(ctx)`; the handler returns the operation's output as a dict shaped like the
botocore model, which the Query serializer turns into XML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..iam.authorization import PolicyCache
from ..policy import PolicySet, Principal
from ..store.database import Database, UnitOfWork
from ..sts.tokens import KeyRing, SessionClaims

__all__ = [
    "REGISTRY",
    "Caller",
    "Operation",
    "OperationContext",
    "Services",
    "operation",
]


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of one request."""

    account_id: str
    principal: Principal
    access_key_id: str
    generation: int
    user_id: str | None = None
    user_name: str | None = None
    user_path: str | None = None
    policies: PolicySet = field(default_factory=PolicySet)
    session: SessionClaims | None = None
    extra_context: Mapping[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return self.principal.arn

    @property
    def is_root(self) -> bool:
        return self.principal.is_root

    @property
    def is_temporary(self) -> bool:
        return self.session is not None


@dataclass
class OperationContext:
    uow: UnitOfWork
    caller: Caller
    params: Mapping[str, Any]
    region: str
    source_ip: str
    policy_cache: PolicyCache
    request_id: str
    services: Services
    # The ARNs the call was authorized on (its audit record's resources): the gateway adds
    # `resource(ctx)`; an operation that authorizes itself (per EC2 instance) adds its own.
    resources: list[str] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        return self.uow.now

    @property
    def account_id(self) -> str:
        return self.caller.account_id


ResourceFn = Callable[[OperationContext], str]
HandlerFn = Callable[[OperationContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    action: str
    resource: ResourceFn
    handler: HandlerFn
    writes: bool
    # False for calls that need no permission (GetCallerIdentity) or that authorize
    # themselves against more than the caller's policies (AssumeRole and its trust policy).
    gateway_authorizes: bool = True
    # A read that writes in a transaction of its own (ChangePassword's failure count): it
    # may wait for the store's write lock, so it never runs on the server's event loop.
    may_write: bool = False


@dataclass(frozen=True)
class Services:
    """Process-wide collaborators a handler may need beyond its transaction."""

    database: Database
    keys: KeyRing
    authorize: Callable[[OperationContext, str, str], None]
    evaluation_context: Callable[[OperationContext], dict[str, str]]


REGISTRY: dict[tuple[str, str], Operation] = {}


def operation(
    service: str,
    name: str,
    *,
    resource: ResourceFn,
    writes: bool = False,
    gateway_authorizes: bool = True,
    may_write: bool = False,
) -> Callable[[HandlerFn], HandlerFn]:
    """Register a handler for `service:name`."""

    def register(handler: HandlerFn) -> HandlerFn:
        key = (service, name)
        if key in REGISTRY:
            raise RuntimeError(f"operation {service}:{name} registered twice")
        REGISTRY[key] = Operation(
            service,
            name,
            f"{service}:{name}",
            resource,
            handler,
            writes,
            gateway_authorizes,
            may_write,
        )
        return handler

    return register
