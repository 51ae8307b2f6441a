"""Authentication: a SigV4-signed request becomes a `Caller` with its policies."""

from __future__ import annotations

from ..api.registry import Caller
from ..iam.access_keys import KeyOwner, find_key_owner
from ..iam.authorization import PolicyCache
from ..ids import iam_arn
from ..policy import PolicySet, Principal
from ..store.database import UnitOfWork

__all__ = ["KeyDirectory", "caller_for"]


class KeyDirectory:
    """Looks up access keys for the SigV4 verifier and remembers the owner it found."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.owner: KeyOwner | None = None

    def secret_for(self, access_key_id: str) -> str | None:
        owner = find_key_owner(self.uow, access_key_id)
        if owner is None or not owner.active:
            return None
        self.owner = owner
        return owner.secret


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
