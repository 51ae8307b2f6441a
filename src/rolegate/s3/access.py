"""Authorization of S3 requests by the policy engine, the bucket policy as resource policy.

Same account: the identity policies or the bucket policy allow. Cross-account: both must.
An anonymous caller has no identity side: only a bucket policy statement whose Principal is
`*` can allow it. The condition keys are the global ones of the request plus the S3 keys of
the operation (`s3:prefix`, `s3:delimiter`, `s3:max-keys`, `s3:x-amz-acl`, ...).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Final

from ..api.registry import Caller
from ..iam.authorization import parsed_policy
from ..policy import (
    Decision,
    Policy,
    PolicyKind,
    PolicySet,
    PolicyValidationError,
    Request,
    evaluate,
    parse_policy,
)
from ..policy.explain import failure_details
from ..policy.request import ContextValue
from ..sts.tokens import KeyRing, seal_message
from .errors import ACCESS_DENIED, S3Error, access_denied
from .names import bucket_arn

__all__ = [
    "AccessInfo",
    "BucketPolicyError",
    "authorize",
    "decide",
    "denial",
    "denied_message",
    "validate_bucket_policy",
]


@dataclass(frozen=True)
class AccessInfo:
    """Who asks and how: what the global condition keys are made of."""

    caller: Caller
    source_ip: str
    region: str
    now: datetime
    secure: bool = False
    auth_type: str | None = None  # REST-HEADER / REST-QUERY-STRING; None when anonymous
    signature_age_ms: int | None = None
    content_sha256: str | None = None
    user_agent: str | None = None
    referer: str | None = None
    extra: Mapping[str, ContextValue] = field(default_factory=dict)
    keys: KeyRing | None = None  # seals the encoded authorization-failure message

    @property
    def anonymous(self) -> bool:
        return not self.caller.account_id

    def context(self, keys: Mapping[str, ContextValue] | None = None) -> dict[str, ContextValue]:
        context: dict[str, ContextValue] = {
            "aws:SourceIp": self.source_ip,
            "aws:CurrentTime": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(self.now.timestamp())),
            "aws:SecureTransport": "true" if self.secure else "false",
            "aws:RequestedRegion": self.region,
            **self.caller.extra_context,
        }
        if self.user_agent:
            context["aws:UserAgent"] = self.user_agent
        if self.referer:
            context["aws:Referer"] = self.referer
        if self.auth_type is not None:
            context["s3:authType"] = self.auth_type
            context["s3:signatureversion"] = "AWS4-HMAC-SHA256"
        if self.signature_age_ms is not None:
            context["s3:signatureAge"] = str(self.signature_age_ms)
        if self.content_sha256:
            context["s3:x-amz-content-sha256"] = self.content_sha256
        context.update(self.extra)
        if keys:
            context.update({k: v for k, v in keys.items() if v is not None})
        return context


def decide(
    info: AccessInfo,
    action: str,
    resource: str,
    *,
    owner_account: str | None,
    bucket_policy: str | None,
    bucket: str | None,
    keys: Mapping[str, ContextValue] | None = None,
) -> Decision:
    """The engine's decision; `owner_account` None means the bucket does not exist (the
    caller's own policies decide, as if the caller owned it)."""
    caller = info.caller
    policies = caller.policies
    if bucket_policy is not None and bucket is not None:
        policy = parsed_policy(bucket_policy, PolicyKind.RESOURCE, f"{bucket_arn(bucket)}:policy")
        policies = _with_bucket_policy(policies, policy)
    elif policies.resource is not None:
        policies = policies.with_resource(None)
    request = _request(info, action, resource, owner_account, keys)
    return evaluate(request, policies)


def _request(
    info: AccessInfo,
    action: str,
    resource: str,
    owner_account: str | None,
    keys: Mapping[str, ContextValue] | None,
) -> Request:
    caller = info.caller
    context = info.context(keys)
    account = owner_account or caller.account_id or None
    if account:
        context["s3:ResourceAccount"] = account
    return Request(caller.principal, action, resource, context=context, resource_account=account)


_COMBINED: OrderedDict[tuple[int, int], tuple[PolicySet, Policy, PolicySet]] = OrderedDict()
_COMBINED_SIZE: Final = 512
_COMBINED_LOCK = threading.Lock()


def _with_bucket_policy(policies: PolicySet, policy: Policy) -> PolicySet:
    """`policies.with_resource(policy)`, built once per (caller's policy set, bucket policy):
    both are cached objects (by account generation, by document), so their identities key
    the cache; the entry holds them, so an id is not reused while it is cached."""
    key = (id(policies), id(policy))
    with _COMBINED_LOCK:
        found = _COMBINED.get(key)
        if found is not None and found[0] is policies and found[1] is policy:
            _COMBINED.move_to_end(key)
            return found[2]
    combined = policies.with_resource(policy)
    with _COMBINED_LOCK:
        _COMBINED[key] = (policies, policy, combined)
        if len(_COMBINED) > _COMBINED_SIZE:
            _COMBINED.popitem(last=False)
    return combined


def denied_message(
    info: AccessInfo,
    action: str,
    resource: str,
    decision: Decision,
    owner_account: str | None,
    keys: Mapping[str, ContextValue] | None = None,
) -> str:
    """AWS's detailed message for same-account callers, `Access Denied` otherwise; then the
    encoded authorization failure message (sts:DecodeAuthorizationMessage opens it)."""
    return _denied(info, action, resource, decision, owner_account, keys)[0]


def _denied(
    info: AccessInfo,
    action: str,
    resource: str,
    decision: Decision,
    owner_account: str | None,
    keys: Mapping[str, ContextValue] | None,
) -> tuple[str, dict[str, Any] | None]:
    """The message and, for a caller with an account, the failure details it encodes."""
    caller = info.caller
    cross_account = owner_account is not None and owner_account != caller.account_id
    if info.anonymous or cross_account:
        message = ACCESS_DENIED
    else:
        reason = decision.aws_reason(action)
        message = (
            f"User: {caller.arn} is not authorized to perform: {action} "
            f'on resource: "{resource}" {reason}'
        ).rstrip()
    if info.keys is None or info.anonymous:  # nobody's account to decode it in
        return message, None
    request = _request(info, action, resource, owner_account, keys)
    details = failure_details(request, decision, caller_side_only=cross_account)
    blob = seal_message(details, info.keys)
    return f"{message} Encoded authorization failure message: {blob}", details


def denial(
    info: AccessInfo,
    action: str,
    resource: str,
    decision: Decision,
    owner_account: str | None,
    keys: Mapping[str, ContextValue] | None = None,
) -> S3Error:
    """The AccessDenied error of a refused request, carrying the engine's explanation."""
    message, details = _denied(info, action, resource, decision, owner_account, keys)
    error = access_denied(message)
    error.explanation = details
    return error


def authorize(
    info: AccessInfo,
    action: str,
    resource: str,
    *,
    owner_account: str | None,
    bucket_policy: str | None,
    bucket: str | None,
    keys: Mapping[str, ContextValue] | None = None,
) -> None:
    """Raise AccessDenied (403) unless the engine allows `action` on `resource`."""
    decision = decide(
        info,
        action,
        resource,
        owner_account=owner_account,
        bucket_policy=bucket_policy,
        bucket=bucket,
        keys=keys,
    )
    if not decision.allowed:
        raise denial(info, action, resource, decision, owner_account, keys)


class BucketPolicyError(S3Error):
    def __init__(self, message: str) -> None:
        super().__init__("MalformedPolicy", message, 400)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def validate_bucket_policy(document: str, bucket: str) -> None:
    """A bucket policy is a resource policy (Principal required) about this bucket's S3
    resources, with S3 actions only; raise MalformedPolicy otherwise."""
    try:
        parse_policy(document, PolicyKind.RESOURCE)
    except PolicyValidationError as error:
        raise BucketPolicyError(error.issues[0].message if error.issues else str(error)) from None
    raw = json.loads(document)
    arn = bucket_arn(bucket)
    for statement in _as_list(raw.get("Statement", [])):
        for name in ("Action", "NotAction"):
            for action in _as_list(statement.get(name, [])):
                if not isinstance(action, str) or not (
                    action == "*" or action.lower().startswith("s3:")
                ):
                    raise BucketPolicyError("Policy has invalid action")
        for name in ("Resource", "NotResource"):
            for resource in _as_list(statement.get(name, [])):
                if not isinstance(resource, str) or not (
                    fnmatchcase(arn, resource)
                    or fnmatchcase(f"{arn}/", resource)
                    or resource.startswith(f"{arn}/")
                ):
                    raise BucketPolicyError("Policy has invalid resource")
