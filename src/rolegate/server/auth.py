"""Authentication: a SigV4-signed request becomes a `Caller` with its policies.

Long-term keys (AKIA...) are looked up in the store. Temporary keys (ASIA...) are not stored
anywhere: their secret and everything else about the session travel sealed inside the
session token, so `KeyDirectory` opens the token with the key ring and checks that it was
issued for this access key id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import bindparam, select

from ..api.registry import Caller
from ..errors import ServiceError
from ..iam.access_keys import KeyOwner, find_key_owner
from ..iam.authorization import PolicyCache, parsed_policy
from ..ids import TEMPORARY_KEY_PREFIX, iam_arn
from ..policy import Decision, Policy, PolicyKind, PolicySet, Principal
from ..store.database import UnitOfWork
from ..store.schema import accounts, managed_policies, policy_versions, roles, users
from ..sts.tokens import KeyRing, SessionClaims, TokenError, open_token

__all__ = [
    "ExpiredToken",
    "KeyDirectory",
    "access_denied_message",
    "anonymous_caller",
    "caller_for",
    "session_caller",
]

INVALID_TOKEN: Final = "The security token included in the request is invalid."


class ExpiredToken(ServiceError):
    code = "ExpiredToken"
    http_status = 403


class KeyDirectory:
    """Looks up access keys for the SigV4 verifier and remembers what it found."""

    def __init__(self, uow: UnitOfWork, keys: KeyRing, security_token: str | None) -> None:
        self.uow = uow
        self.keys = keys
        self.security_token = security_token
        self.owner: KeyOwner | None = None
        self.session: SessionClaims | None = None

    def secret_for(self, access_key_id: str) -> str | None:
        if access_key_id.startswith(TEMPORARY_KEY_PREFIX):
            if not self.security_token:
                return None
            try:
                claims = open_token(self.security_token, self.keys)
            except TokenError:
                return None
            if claims.access_key_id != access_key_id:
                return None
            self.session = claims
            return claims.secret_access_key
        owner = find_key_owner(self.uow, access_key_id)
        if owner is None or not owner.active:
            return None
        self.owner = owner
        return owner.secret


def access_denied_message(caller_arn: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's AccessDenied text: who, what, on which resource, and why."""
    return (
        f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource} "
        f"{decision.aws_reason(action)}"
    ).rstrip()


def anonymous_caller() -> Caller:
    """An unsigned request (S3 only): matched by `"Principal": "*"` and nothing else."""
    return Caller(account_id="", principal=Principal("anonymous"), access_key_id="", generation=0)


def caller_for(uow: UnitOfWork, owner: KeyOwner, cache: PolicyCache) -> Caller:
    """The principal behind a long-term key, with the policies that apply to it."""
    if owner.user_id is None:
        return Caller(
            account_id=owner.account_id,
            principal=Principal(iam_arn(owner.account_id, "root")),
            access_key_id=owner.access_key_id,
            generation=owner.generation,
            policies=PolicySet(),
        )
    policies, tags = cache.user_context(uow, owner.user_id, owner.generation)
    arn = iam_arn(owner.account_id, "user", owner.user_path or "/", owner.user_name or "")
    return Caller(
        account_id=owner.account_id,
        principal=Principal(arn, unique_id=owner.user_id, tags=tags),
        access_key_id=owner.access_key_id,
        generation=owner.generation,
        user_id=owner.user_id,
        user_name=owner.user_name,
        user_path=owner.user_path,
        policies=policies,
    )


_GENERATION = select(accounts.c.generation).where(accounts.c.id == bindparam("account_id"))
_ROLE = select(roles.c.id, roles.c.name, roles.c.path).where(roles.c.id == bindparam("role_id"))
_USER = select(users.c.id, users.c.name, users.c.path).where(users.c.id == bindparam("user_id"))
_MANAGED_DOCUMENT = (
    select(managed_policies.c.arn, policy_versions.c.document)
    .select_from(
        managed_policies.join(
            policy_versions,
            (policy_versions.c.policy_id == managed_policies.c.id)
            & (policy_versions.c.version_id == managed_policies.c.default_version),
        )
    )
    .where(managed_policies.c.arn.in_(bindparam("arns", expanding=True)))
)


def _session_policies(uow: UnitOfWork, claims: SessionClaims) -> list[Policy]:
    """The session policy: the inline Policy plus the current versions of PolicyArns."""
    found: list[Policy] = []
    if claims.session_policy is not None:
        found.append(parsed_policy(claims.session_policy, PolicyKind.SESSION, "session-policy"))
    if claims.policy_arns:
        rows = uow.connection.execute(_MANAGED_DOCUMENT, {"arns": list(claims.policy_arns)})
        found.extend(parsed_policy(row.document, PolicyKind.SESSION, row.arn) for row in rows)
        if not found:
            # Every named policy is gone: the session policy then allows nothing.
            found.append(
                parsed_policy(
                    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*",'
                    '"Resource":"*"}]}',
                    PolicyKind.SESSION,
                    "session-policy",
                )
            )
    return found


def session_caller(
    uow: UnitOfWork, claims: SessionClaims, cache: PolicyCache, now: datetime
) -> Caller:
    """The principal of a temporary credential: a role session or a user's session token."""
    if now.timestamp() >= claims.expires_at:
        raise ExpiredToken("The security token included in the request is expired")
    generation = uow.connection.execute(_GENERATION, {"account_id": claims.account_id}).scalar()
    if generation is None:
        raise ServiceError(INVALID_TOKEN, code="InvalidClientTokenId", http_status=403)
    account = claims.account_id
    extra = {
        "aws:MultiFactorAuthPresent": "true" if claims.mfa_authenticated_at else "false",
        "aws:TokenIssueTime": _iso(claims.issued_at),
    }
    if claims.mfa_authenticated_at is not None:
        extra["aws:MultiFactorAuthAge"] = str(int(now.timestamp() - claims.mfa_authenticated_at))
    if claims.source_identity:
        extra["aws:SourceIdentity"] = claims.source_identity
    if claims.kind == "AssumedRole":
        role = uow.connection.execute(_ROLE, {"role_id": claims.principal_id}).first()
        if role is None:
            raise ServiceError(INVALID_TOKEN, code="InvalidClientTokenId", http_status=403)
        policies, role_tags = cache.role_context(uow, role.id, int(generation))
        session_policies = _session_policies(uow, claims)
        if session_policies:
            policies = policies.with_session(session_policies)
        principal = Principal(
            f"arn:aws:sts::{account}:assumed-role/{role.name}/{claims.session_name}",
            role_arn=iam_arn(account, "role", role.path, role.name),
            unique_id=f"{role.id}:{claims.session_name}",
            tags={**role_tags, **claims.tags},
        )
        return Caller(
            account_id=account,
            principal=principal,
            access_key_id=claims.access_key_id,
            generation=int(generation),
            policies=policies,
            session=claims,
            extra_context=extra,
        )
    if claims.principal_id == account:  # the root's session token
        return Caller(
            account_id=account,
            principal=Principal(iam_arn(account, "root")),
            access_key_id=claims.access_key_id,
            generation=int(generation),
            session=claims,
            extra_context=extra,
        )
    user = uow.connection.execute(_USER, {"user_id": claims.principal_id}).first()
    if user is None:
        raise ServiceError(INVALID_TOKEN, code="InvalidClientTokenId", http_status=403)
    policies, tags = cache.user_context(uow, user.id, int(generation))
    return Caller(
        account_id=account,
        principal=Principal(
            iam_arn(account, "user", user.path, user.name), unique_id=user.id, tags=tags
        ),
        access_key_id=claims.access_key_id,
        generation=int(generation),
        user_id=user.id,
        user_name=user.name,
        user_path=user.path,
        policies=policies,
        session=claims,
        extra_context=extra,
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
