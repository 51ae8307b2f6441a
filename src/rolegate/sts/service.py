"""STS use cases: AssumeRole, GetSessionToken, GetCallerIdentity, DecodeAuthorizationMessage.

AssumeRole is authorized the AWS way: the caller's side (its identity policies, boundary and
session policy) and the role's trust policy as the resource policy, evaluated together by the
engine with the STS condition keys (sts:RoleSessionName, sts:ExternalId, sts:SourceIdentity,
aws:RequestTag/*, aws:TagKeys, and aws:MultiFactorAuthPresent/Age only when a valid MFA code
came with the call). A refusal never says whether the role exists.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from sqlalchemy import bindparam, select

from ..api.registry import Caller, OperationContext
from ..errors import AccessDenied, ServiceError, ValidationError
from ..iam.authorization import parsed_policy
from ..iam.common import check_policy_document
from ..ids import TEMPORARY_KEY_PREFIX, iam_arn, new_secret_access_key, new_unique_id
from ..policy import PolicyKind, Request, evaluate
from ..policy.explain import failure_details
from ..policy.request import account_of_arn
from ..store.driver import DriverStatement
from ..store.schema import managed_policies, roles
from .tokens import KeyRing, SessionClaims, TokenError, deflate_small, open_message, seal_token

__all__ = [
    "CHAINED_SESSION_LIMIT",
    "PackedPolicyTooLarge",
    "assume_role",
    "caller_identity",
    "decode_authorization_message",
    "get_session_token",
    "mint_session",
]

CHAINED_SESSION_LIMIT: Final = 3600
_PACKED_BUDGET: Final = 2048  # bytes of compressed session policies + tags = 100 %
_ROLE_ARN: Final = re.compile(r"^arn:aws:iam::(\d{12}):role(/(?:[^/]+/)*)?([\w+=,.@-]+)$")
_ROLE_BY_NAME = DriverStatement(  # once per AssumeRole: straight on the driver
    select(
        roles.c.id, roles.c.name, roles.c.path, roles.c.trust_policy, roles.c.max_session_duration
    ).where(roles.c.account_id == bindparam("account_id"), roles.c.name_key == bindparam("key"))
)


class _Role(NamedTuple):
    id: str
    name: str
    path: str
    trust_policy: str
    max_session_duration: int


class PackedPolicyTooLarge(ServiceError):
    code = "PackedPolicyTooLarge"
    http_status = 400


@dataclass(frozen=True)
class _Minted:
    claims: SessionClaims
    token: str


def _credentials(minted: _Minted) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "AccessKeyId": minted.claims.access_key_id,
        "SecretAccessKey": minted.claims.secret_access_key,
        "SessionToken": minted.token,
        "Expiration": datetime.fromtimestamp(minted.claims.expires_at, tz=UTC),
    }


def mint_session(keys: KeyRing, caller_arn: str, **claims: Any) -> tuple[SessionClaims, str]:
    """New temporary credentials: the claims (with a fresh ASIA key and secret) and the
    sealed session token that carries them."""
    full = SessionClaims(
        access_key_id=new_unique_id(TEMPORARY_KEY_PREFIX, 20),
        secret_access_key=new_secret_access_key(),
        caller_arn=caller_arn,
        **claims,
    )
    return full, seal_token(full, keys)


def _mint(ctx: OperationContext, **claims: Any) -> _Minted:
    return _Minted(*mint_session(ctx.services.keys, ctx.caller.arn, **claims))


def caller_identity(caller: Caller) -> dict[str, str]:
    """GetCallerIdentity: needs no permission and answers even under an explicit deny."""
    if caller.session is not None and caller.session.kind == "AssumedRole":
        user_id = caller.principal.unique_id or ""
    elif caller.is_root:
        user_id = caller.account_id
    else:
        user_id = caller.user_id or ""
    return {"UserId": user_id, "Account": caller.account_id, "Arn": caller.arn}


def _verify_mfa(ctx: OperationContext, serial: str | None, code: str | None) -> float | None:
    """Epoch time of a valid MFA code given with the call, None when none was given."""
    if serial is None and code is None:
        return None
    if serial is None or code is None:
        raise ValidationError("SerialNumber and TokenCode must be given together.")
    caller = ctx.caller
    if caller.user_id is None:
        raise AccessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code.")
    from ..iam.mfa_devices import verify_mfa_code

    at = ctx.now.timestamp()
    # The code is used up by this call whatever follows (AWS: a code works once).
    with ctx.services.database.write() as uow:
        valid = verify_mfa_code(uow, caller.account_id, caller.user_id, serial, code, at)
    if not valid:
        raise AccessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code.")
    return at


def _session_tags(
    caller: Caller, tags: Sequence[Mapping[str, str]], transitive: Sequence[str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Session tags and transitive keys, with those inherited through role chaining."""
    requested: dict[str, str] = {}
    for tag in tags:
        if tag["Key"].lower() in {key.lower() for key in requested}:
            raise ValidationError("Duplicate tag keys found. Tag keys are case insensitive.")
        requested[tag["Key"]] = tag.get("Value", "")
    lowered = {key.lower() for key in requested}
    for key in transitive:
        if key.lower() not in lowered:
            raise ValidationError(f"Transitive tag key {key} is not a key of the session tags.")
    inherited: dict[str, str] = {}
    inherited_keys: tuple[str, ...] = ()
    session = caller.session
    if session is not None and session.kind == "AssumedRole":
        inherited_keys = session.transitive_tag_keys
        inherited = {k: v for k, v in session.tags.items() if k in inherited_keys}
        for key in inherited:
            if key.lower() in lowered:
                raise ValidationError(
                    f"The session tag {key} is transitive from the calling session and cannot "
                    "be overridden."
                )
    keys = tuple(dict.fromkeys([*inherited_keys, *transitive]))
    return {**inherited, **requested}, keys


def _packed_size(policy: str | None, arns: Sequence[str], tags: Mapping[str, str]) -> int:
    if not policy and not arns and not tags:
        return _PACKED_NOTHING
    return _packed_percent(policy, arns, tags)


def _packed_percent(policy: str | None, arns: Sequence[str], tags: Mapping[str, str]) -> int:
    packed = deflate_small(
        json.dumps([policy or "", list(arns), sorted(tags.items())], separators=(",", ":")).encode()
    )
    return math.ceil(len(packed) * 100 / _PACKED_BUDGET)


_PACKED_NOTHING: Final = _packed_percent(None, (), {})


def assume_role(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    caller = ctx.caller
    role_arn: str = params["RoleArn"]
    session_name: str = params["RoleSessionName"]
    denied_message = (
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    )
    if caller.is_root:
        raise AccessDenied("Roles may not be assumed by root accounts.")
    matched = _ROLE_ARN.match(role_arn)
    if matched is None:
        raise ValidationError(f"{role_arn} is not a valid role ARN.")
    account_id, role_name = matched.group(1), matched.group(3)

    policy_text = params.get("Policy")
    if policy_text is not None:
        check_policy_document(policy_text, PolicyKind.SESSION, max_size=0)
    policy_arns = [entry["arn"] for entry in params.get("PolicyArns", [])]
    if policy_arns:
        known = set(
            ctx.uow.connection.execute(
                select(managed_policies.c.arn).where(managed_policies.c.arn.in_(policy_arns))
            ).scalars()
        )
        for arn in policy_arns:
            if arn not in known:
                raise ValidationError(f"Policy {arn} does not exist or is not attachable.")
    tags, transitive = _session_tags(
        caller, params.get("Tags", []), params.get("TransitiveTagKeys", [])
    )
    source_identity = params.get("SourceIdentity")
    inherited_identity = caller.session.source_identity if caller.session else None
    if inherited_identity and source_identity and source_identity != inherited_identity:
        raise AccessDenied(
            "The source identity of a role session cannot be changed through role chaining."
        )
    if source_identity and source_identity.lower().startswith("aws:"):
        raise ValidationError("SourceIdentity must not start with 'aws:'.")
    source_identity = source_identity or inherited_identity

    # Role chaining is a role session assuming a role; a user's GetSessionToken (or console)
    # session assuming one is not.
    chained = caller.session is not None and caller.session.kind == "AssumedRole"
    duration = int(params.get("DurationSeconds", 3600))
    mfa_at = _verify_mfa(ctx, params.get("SerialNumber"), params.get("TokenCode"))
    if mfa_at is None and caller.session is not None:
        mfa_at = caller.session.mfa_authenticated_at

    found = _ROLE_BY_NAME.rows(
        ctx.uow.connection, {"account_id": account_id, "key": role_name.lower()}
    )
    role = _Role._make(found[0]) if found else None
    if role is None or iam_arn(account_id, "role", role.path, role.name) != role_arn:
        raise AccessDenied(denied_message)
    trust = parsed_policy(role.trust_policy, PolicyKind.TRUST, role_arn)
    context = ctx.services.evaluation_context(ctx)
    context["sts:RoleSessionName"] = session_name
    if "ExternalId" in params:
        context["sts:ExternalId"] = params["ExternalId"]
    if source_identity:
        context["sts:SourceIdentity"] = source_identity
    if mfa_at is not None:
        context["aws:MultiFactorAuthPresent"] = "true"
        context["aws:MultiFactorAuthAge"] = str(int(ctx.now.timestamp() - mfa_at))
    request_tags = {f"aws:RequestTag/{key}": value for key, value in tags.items()}
    policies = caller.policies.with_resource(trust)
    actions = ["sts:AssumeRole"]
    if params.get("Tags"):
        actions.append("sts:TagSession")
    if params.get("SourceIdentity"):
        actions.append("sts:SetSourceIdentity")
    for action in actions:
        tag_context: dict[str, Any] = dict(context)
        if action == "sts:TagSession":
            tag_context.update(request_tags)
            tag_context["aws:TagKeys"] = list(tags)
        request = Request(
            caller.principal, action, role_arn, tag_context, resource_account=account_id
        )
        decision = evaluate(request, policies)
        if not decision.allowed:
            message = (
                denied_message
                if action == "sts:AssumeRole"
                else (
                    f"User: {caller.arn} is not authorized to perform: {action} on resource: "
                    f"{role_arn}"
                )
            )
            # The role's trust policy belongs to its account: another account's caller is
            # told only of its own side.
            raise AccessDenied(
                message,
                explanation=failure_details(
                    request, decision, caller_side_only=account_id != caller.account_id
                ),
            )

    if chained and duration > CHAINED_SESSION_LIMIT:
        raise ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
    if duration > role.max_session_duration:
        raise ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    packed = _packed_size(policy_text, policy_arns, tags)
    if packed > 100:
        raise PackedPolicyTooLarge(
            f"Packed policy consumes {packed}% of allotted space, please use smaller policy "
            "for session."
        )
    now = ctx.now.timestamp()
    minted = _mint(
        ctx,
        account_id=account_id,
        issued_at=now,
        expires_at=now + duration,
        kind="AssumedRole",
        principal_id=role.id,
        principal_name=role.name,
        principal_path=role.path,
        session_name=session_name,
        mfa_authenticated_at=mfa_at,
        source_identity=source_identity,
        tags=tags,
        transitive_tag_keys=transitive,
        session_policy=policy_text,
        policy_arns=tuple(policy_arns),
        chained=chained,
    )
    result: dict[str, Any] = {
        "Credentials": _credentials(minted),
        "AssumedRoleUser": {
            "AssumedRoleId": f"{role.id}:{session_name}",
            "Arn": f"arn:aws:sts::{account_id}:assumed-role/{role.name}/{session_name}",
        },
    }
    if policy_text is not None or policy_arns or params.get("Tags"):
        result["PackedPolicySize"] = packed
    if source_identity:
        result["SourceIdentity"] = source_identity
    return result


def get_session_token(ctx: OperationContext) -> dict[str, Any]:
    caller = ctx.caller
    if caller.session is not None:
        raise AccessDenied("Cannot call GetSessionToken with session credentials")
    default, longest = (3600, 3600) if caller.is_root else (43200, 129600)
    duration = int(ctx.params.get("DurationSeconds", default))
    if duration > longest:
        raise ValidationError(
            f"The requested DurationSeconds exceeds the {longest} seconds allowed for this caller."
        )
    mfa_at = _verify_mfa(ctx, ctx.params.get("SerialNumber"), ctx.params.get("TokenCode"))
    now = ctx.now.timestamp()
    minted = _mint(
        ctx,
        account_id=caller.account_id,
        issued_at=now,
        expires_at=now + duration,
        kind="SessionToken",
        principal_id=caller.user_id or caller.account_id,
        principal_name=caller.user_name or "root",
        principal_path=caller.user_path or "/",
        mfa_authenticated_at=mfa_at,
    )
    return {"Credentials": _credentials(minted)}


def decode_authorization_message(ctx: OperationContext) -> dict[str, str]:
    try:
        decoded = open_message(ctx.params["EncodedMessage"], ctx.services.keys)
    except TokenError as error:
        raise ServiceError(
            "The message is not a valid encoded authorization message.",
            code="InvalidAuthorizationMessageException",
            http_status=400,
        ) from error
    # A message tells about one account's principal and policies: only that account reads it.
    try:
        principal_arn = json.loads(decoded)["context"]["principal"]["arn"]
    except (ValueError, KeyError, TypeError):
        principal_arn = None
    owner = account_of_arn(principal_arn) if isinstance(principal_arn, str) else None
    if owner is not None and owner != ctx.caller.account_id:
        raise ServiceError(
            "The message was not issued for a principal of this account.",
            code="InvalidAuthorizationMessageException",
            http_status=400,
        )
    return {"DecodedMessage": decoded}
