"""Inline policies embedded in users, groups and roles.

Names are unique case-insensitively per entity; a put with an existing name (in any case)
replaces that policy. The documents of one entity share a size quota (whitespace not
counted): user 2048, group 5120, role 10240 characters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Row, delete, insert, select

from ..errors import LimitExceeded, NoSuchEntity
from ..policy import PolicyKind, policy_size
from ..store.database import UnitOfWork
from ..store.schema import inline_policies
from .common import QUOTAS, check_policy_document, get_group, get_role, get_user

__all__ = [
    "ENTITY_KINDS",
    "InlinePolicy",
    "delete_inline_policy",
    "get_inline_policy",
    "list_inline_policy_names",
    "put_inline_policy",
]


@dataclass(frozen=True)
class _EntityKind:
    lookup: Callable[[UnitOfWork, str, str], Row[Any]]
    quota: str


_KINDS: Final[dict[str, _EntityKind]] = {
    "user": _EntityKind(get_user, "UserPolicySize"),
    "group": _EntityKind(get_group, "GroupPolicySize"),
    "role": _EntityKind(get_role, "RolePolicySize"),
}
ENTITY_KINDS: Final = tuple(_KINDS)


@dataclass(frozen=True)
class InlinePolicy:
    entity_name: str
    policy_name: str
    document: str


def _entity(uow: UnitOfWork, account_id: str, kind: str, name: str) -> Row[Any]:
    return _KINDS[kind].lookup(uow, account_id, name)


def _find(uow: UnitOfWork, entity_id: str, policy_name: str) -> Row[Any] | None:
    return uow.connection.execute(
        select(inline_policies).where(
            inline_policies.c.entity_id == entity_id,
            inline_policies.c.name_key == policy_name.lower(),
        )
    ).first()


def _require(uow: UnitOfWork, kind: str, entity_id: str, policy_name: str) -> Row[Any]:
    row = _find(uow, entity_id, policy_name)
    if row is None:
        raise NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")
    return row


def put_inline_policy(
    uow: UnitOfWork, account_id: str, kind: str, entity_name: str, policy_name: str, document: str
) -> None:
    """Create or replace an inline policy, validated as an identity policy."""
    uow.lock_account(account_id)
    entity = _entity(uow, account_id, kind, entity_name)
    quota = QUOTAS[_KINDS[kind].quota]
    too_large = f"Maximum policy size of {quota} bytes exceeded for {kind} {entity.name}"
    try:
        check_policy_document(document, PolicyKind.IDENTITY, max_size=quota)
    except LimitExceeded as error:
        raise LimitExceeded(too_large) from error
    others = uow.connection.execute(
        select(inline_policies.c.document).where(
            inline_policies.c.entity_id == entity.id,
            inline_policies.c.name_key != policy_name.lower(),
        )
    ).scalars()
    if policy_size(document) + sum(policy_size(text) for text in others) > quota:
        raise LimitExceeded(too_large)
    connection = uow.connection
    connection.execute(
        delete(inline_policies).where(
            inline_policies.c.entity_id == entity.id,
            inline_policies.c.name_key == policy_name.lower(),
        )
    )
    connection.execute(
        insert(inline_policies).values(
            entity_id=entity.id,
            name=policy_name,
            name_key=policy_name.lower(),
            document=document,
        )
    )


def get_inline_policy(
    uow: UnitOfWork, account_id: str, kind: str, entity_name: str, policy_name: str
) -> InlinePolicy:
    entity = _entity(uow, account_id, kind, entity_name)
    row = _require(uow, kind, entity.id, policy_name)
    return InlinePolicy(entity.name, row.name, row.document)


def list_inline_policy_names(
    uow: UnitOfWork, account_id: str, kind: str, entity_name: str
) -> list[str]:
    entity = _entity(uow, account_id, kind, entity_name)
    return list(
        uow.connection.execute(
            select(inline_policies.c.name)
            .where(inline_policies.c.entity_id == entity.id)
            .order_by(inline_policies.c.name_key)
        ).scalars()
    )


def delete_inline_policy(
    uow: UnitOfWork, account_id: str, kind: str, entity_name: str, policy_name: str
) -> None:
    uow.lock_account(account_id)
    entity = _entity(uow, account_id, kind, entity_name)
    row = _require(uow, kind, entity.id, policy_name)
    uow.connection.execute(
        delete(inline_policies).where(
            inline_policies.c.entity_id == entity.id,
            inline_policies.c.name_key == row.name_key,
        )
    )
