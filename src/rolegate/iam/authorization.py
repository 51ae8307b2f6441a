"""The policies that apply to a principal, loaded from the store and cached by generation.

Each account row carries a `generation` that every write to the account bumps. A cached
PolicySet is reused only while the generation it was built at is still current, so a policy
change is seen by the next request on every node that shares the store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from sqlalchemy import select

from ..policy import Policy, PolicyKind, PolicySet, parse_policy
from ..policy.memo import WeightedMemo
from ..store.database import UnitOfWork
from ..store.schema import (
    entity_tags,
    group_members,
    inline_policies,
    managed_policies,
    policy_attachments,
    policy_versions,
    roles,
    users,
)

__all__ = [
    "PolicyCache",
    "PrincipalContext",
    "load_role_policies",
    "load_user_policies",
    "parsed_policy",
]

_CACHE_SIZE: Final = 4096


# Parsed documents within ~8 million characters of source (a parsed policy holds a few times
# its text): session policies, which any caller allowed to assume a role chooses, included.
_PARSED: Final[WeightedMemo[tuple[str, PolicyKind, str], Policy]] = WeightedMemo(
    8_000_000, lambda key, _: len(key[0]) + 256
)


def parsed_policy(document: str, kind: PolicyKind, policy_id: str) -> Policy:
    """Documents were validated when written; parse each distinct one once."""
    return _PARSED.get(
        (document, kind, policy_id),
        lambda: parse_policy(document, kind, policy_id=policy_id, max_size=0),
    )


def _identity_documents(uow: UnitOfWork, entity_ids: list[str]) -> list[Policy]:
    connection = uow.connection
    found: list[Policy] = []
    inline = connection.execute(
        select(inline_policies.c.entity_id, inline_policies.c.name, inline_policies.c.document)
        .where(inline_policies.c.entity_id.in_(entity_ids))
        .order_by(inline_policies.c.entity_id, inline_policies.c.name_key)
    )
    for row in inline:
        found.append(parsed_policy(row.document, PolicyKind.IDENTITY, row.name))
    attached = connection.execute(
        select(managed_policies.c.arn, policy_versions.c.document)
        .select_from(
            policy_attachments.join(managed_policies).join(
                policy_versions,
                (policy_versions.c.policy_id == managed_policies.c.id)
                & (policy_versions.c.version_id == managed_policies.c.default_version),
            )
        )
        .where(policy_attachments.c.entity_id.in_(entity_ids))
        .order_by(managed_policies.c.arn)
    )
    for attachment in attached:
        found.append(parsed_policy(attachment.document, PolicyKind.IDENTITY, attachment.arn))
    return found


def _boundary(uow: UnitOfWork, boundary_arn: str | None) -> Policy | None:
    if boundary_arn is None:
        return None
    row = uow.connection.execute(
        select(policy_versions.c.document)
        .select_from(
            managed_policies.join(
                policy_versions,
                (policy_versions.c.policy_id == managed_policies.c.id)
                & (policy_versions.c.version_id == managed_policies.c.default_version),
            )
        )
        .where(managed_policies.c.arn == boundary_arn)
    ).first()
    if row is None:
        # The boundary policy is gone: nothing is allowed through it.
        return parse_policy(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
            },
            PolicyKind.BOUNDARY,
            policy_id=boundary_arn,
        )
    return parsed_policy(row.document, PolicyKind.BOUNDARY, boundary_arn)


def load_user_policies(uow: UnitOfWork, user_id: str) -> PolicySet:
    group_ids = list(
        uow.connection.execute(
            select(group_members.c.group_id).where(group_members.c.user_id == user_id)
        ).scalars()
    )
    boundary_arn = uow.connection.execute(
        select(users.c.boundary_arn).where(users.c.id == user_id)
    ).scalar_one_or_none()
    return PolicySet(
        identity=_identity_documents(uow, [user_id, *group_ids]),
        boundary=_boundary(uow, boundary_arn),
    )


def load_role_policies(uow: UnitOfWork, role_id: str) -> PolicySet:
    boundary_arn = uow.connection.execute(
        select(roles.c.boundary_arn).where(roles.c.id == role_id)
    ).scalar_one_or_none()
    return PolicySet(
        identity=_identity_documents(uow, [role_id]),
        boundary=_boundary(uow, boundary_arn),
    )


PrincipalContext = tuple[PolicySet, dict[str, str]]


class PolicyCache:
    """Policies and tags per principal id, valid while the account generation is unchanged."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._entries: OrderedDict[str, tuple[int, PrincipalContext]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def _get(self, principal_id: str, generation: int) -> PrincipalContext | None:
        with self._lock:
            entry = self._entries.get(principal_id)
            if entry is None or entry[0] != generation:
                return None
            self._entries.move_to_end(principal_id)
            return entry[1]

    def _put(self, principal_id: str, generation: int, value: PrincipalContext) -> None:
        with self._lock:
            self._entries[principal_id] = (generation, value)
            self._entries.move_to_end(principal_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def user_context(self, uow: UnitOfWork, user_id: str, generation: int) -> PrincipalContext:
        found = self._get(user_id, generation)
        if found is None:
            found = (load_user_policies(uow, user_id), _tags(uow, user_id))
            self._put(user_id, generation, found)
        return found

    def role_context(self, uow: UnitOfWork, role_id: str, generation: int) -> PrincipalContext:
        found = self._get(role_id, generation)
        if found is None:
            found = (load_role_policies(uow, role_id), _tags(uow, role_id))
            self._put(role_id, generation, found)
        return found


def _tags(uow: UnitOfWork, entity_id: str) -> dict[str, str]:
    rows = uow.connection.execute(
        select(entity_tags.c.key, entity_tags.c.value).where(entity_tags.c.entity_id == entity_id)
    )
    return {row.key: row.value for row in rows}
