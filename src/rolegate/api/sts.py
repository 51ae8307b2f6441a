"""STS operations over the Query protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..sts import service
from .iam_common import account_resource
from .registry import OperationContext, operation

__all__: list[str] = []


def _role_resource(ctx: OperationContext) -> str:
    return str(ctx.params["RoleArn"])


@operation("sts", "GetCallerIdentity", resource=account_resource, gateway_authorizes=False)
def get_caller_identity(ctx: OperationContext) -> Mapping[str, Any]:
    return service.caller_identity(ctx.caller)


@operation("sts", "AssumeRole", resource=_role_resource, gateway_authorizes=False)
def assume_role(ctx: OperationContext) -> Mapping[str, Any]:
    return service.assume_role(ctx)


@operation("sts", "GetSessionToken", resource=account_resource, gateway_authorizes=False)
def get_session_token(ctx: OperationContext) -> Mapping[str, Any]:
    return service.get_session_token(ctx)


@operation("sts", "DecodeAuthorizationMessage", resource=account_resource)
def decode_authorization_message(ctx: OperationContext) -> Mapping[str, Any]:
    return service.decode_authorization_message(ctx)
