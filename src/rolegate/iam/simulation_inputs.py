"""The simulator's inputs: stored policies of a user, group or role, the call's documents and
context entries, the simulated caller and PolicyExclusionList, each checked as AWS does."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any, Final

from sqlalchemy import select

from ..errors import InvalidInput, NoSuchEntity
from ..ids import iam_arn
from ..policy import Policy, PolicyKind, PolicyValidationError, Principal, parse_policy
from ..policy.conditions import parse_epoch
from ..policy.spans import SourceSpan, statement_spans
from ..store.database import UnitOfWork
from ..store.schema import (
    group_members,
    groups,
    inline_policies,
    managed_policies,
    policy_attachments,
    policy_versions,
    roles,
    users,
)
from .authorization import parsed_policy
from .aws_managed import AWS_ACCOUNT
from .common import QUOTAS, find_named, list_tags

__all__ = [
    "PolicySource",
    "PrincipalPolicies",
    "caller_principal",
    "check_exclusions",
    "context_entries",
    "custom_sources",
    "excluded",
    "parse_document",
    "principal_policies",
]

_IDENTITY_SIZE: Final = QUOTAS["RolePolicySize"]
_PRINCIPAL_ARN: Final = re.compile(r"^arn:aws:iam::(\d{12}):(user|group|role)(/(?:.*/)?)([^/]+)$")


@dataclass(frozen=True)
class PolicySource:
    """One simulated policy, how the simulator names it (`Statement` of the result) and the
    text its statement positions are read from."""

    policy: Policy
    source_id: str
    source_type: str  # user | group | role | aws-managed | user-managed | resource | none
    text: str
    arn: str | None = None

    @cached_property
    def spans(self) -> tuple[SourceSpan, ...]:
        """Statement positions, one per statement (empty if the text does not tell)."""
        found = statement_spans(self.text)
        return found if len(found) == len(self.policy.statements) else ()


def parse_document(text: str, kind: PolicyKind, policy_id: str) -> Policy:
    """A policy document of the call; a malformed one is AWS's InvalidInput.

    Sizes are IAM's own quotas (characters without whitespace; an identity document up to
    the largest inline one, a role's 10240): compiled policies stay cached by the engine, so
    a call must not be able to fill that cache with documents no IAM entity could hold."""
    limit = _IDENTITY_SIZE if kind is PolicyKind.IDENTITY else None
    try:
        return parse_policy(text, kind, policy_id=policy_id, max_size=limit)
    except PolicyValidationError as error:
        raise InvalidInput(f"{policy_id} is not a valid policy: {error.aws_message()}") from error


def custom_sources(documents: Sequence[str], parameter: str) -> list[PolicySource]:
    """`PolicyInputList` documents, named `PolicyInputList.N` (1-based) as AWS does."""
    sources = []
    for number, text in enumerate(documents, start=1):
        name = f"{parameter}.{number}"
        policy = parse_document(text, PolicyKind.IDENTITY, name)
        sources.append(PolicySource(policy, name, "none", text))
    return sources


def _valid_number(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return value.strip() == value and value != ""


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _valid_binary(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_VALUE_CHECKS: Final = {
    "string": None,
    "numeric": _valid_number,
    "boolean": lambda value: value.lower() in ("true", "false"),
    "ip": _valid_ip,
    "binary": _valid_binary,
    "date": lambda value: parse_epoch(value) is not None,
}


def context_entries(entries: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """ContextEntries as engine context values, each checked against its ContextKeyType."""
    context: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        name = entry.get("ContextKeyName")
        values = tuple(entry.get("ContextKeyValues") or ())
        key_type = entry.get("ContextKeyType")
        if not name or key_type is None:
            raise InvalidInput("Each context entry needs a ContextKeyName and a ContextKeyType.")
        base = key_type[: -len("List")] if key_type.endswith("List") else key_type
        check = _VALUE_CHECKS.get(base)
        for value in values:
            if check is not None and not check(value):
                raise InvalidInput(
                    f"Invalid value {value!r} for context key {name} of type {key_type}."
                )
        if base == "boolean":
            values = tuple(value.lower() for value in values)
        context[name] = values
    return context


def caller_principal(uow: UnitOfWork, account_id: str, arn: str) -> Principal:
    """The simulated caller named by an ARN: a user, group or role (not a session). One of
    the calling account is looked up (its unique id and tags); another account's is known
    by its ARN only."""
    found = _PRINCIPAL_ARN.match(arn)
    if found is None:
        raise InvalidInput(
            f"Invalid caller ARN {arn}: it must be the ARN of an IAM user, group or role."
        )
    account, kind, path, name = found.groups()
    table = {"user": users, "group": groups, "role": roles}[kind]
    row = find_named(uow, table, account, name) if account == account_id else None
    if row is None or row.path != path or iam_arn(account, kind, row.path, row.name) != arn:
        return _principal_of(kind, arn, None, {})
    return _principal_of(kind, arn, row, _tags(uow, row.id))


def _tags(uow: UnitOfWork, entity_id: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in list_tags(uow, entity_id)}


def _principal_of(kind: str, arn: str, row: Any, tags: Mapping[str, str]) -> Principal:
    if kind == "user":
        return Principal(arn, unique_id=row.id if row is not None else None, tags=tags)
    if kind == "role":
        account, name = arn.split(":")[4], arn.rsplit("/", 1)[-1]
        return Principal(
            f"arn:aws:sts::{account}:assumed-role/{name}/{name}",
            role_arn=arn,
            unique_id=f"{row.id}:{name}" if row is not None else None,
            tags=tags,
        )
    return Principal(arn)


@dataclass(frozen=True)
class PrincipalPolicies:
    """The stored policies of a user, group or role, and the principal that stands for it."""

    principal: Principal
    kind: str
    identity: list[PolicySource]
    boundary: PolicySource | None


def principal_policies(uow: UnitOfWork, account_id: str, arn: str) -> PrincipalPolicies:
    """Inline and attached policies of the entity (a user's groups' too) and its boundary."""
    found = _PRINCIPAL_ARN.match(arn)
    if found is None:
        raise InvalidInput(
            f"Invalid PolicySourceArn {arn}: it must be the ARN of an IAM user, group or role."
        )
    account, kind, path, name = found.groups()
    table = {"user": users, "group": groups, "role": roles}[kind]
    row = find_named(uow, table, account_id, name) if account == account_id else None
    if row is None or row.path != path:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    canonical = iam_arn(account_id, kind, row.path, row.name)
    entities: list[tuple[str, str, str]] = [(row.id, kind, row.name)]
    if kind == "user":
        member_of = uow.connection.execute(
            select(groups.c.id, groups.c.name)
            .select_from(group_members.join(groups))
            .where(group_members.c.user_id == row.id)
            .order_by(groups.c.name_key)
        )
        entities.extend((group.id, "group", group.name) for group in member_of)
    sources = _inline_sources(uow, entities) + _managed_sources(uow, [e[0] for e in entities])
    boundary = None
    boundary_arn = getattr(row, "boundary_arn", None)
    if boundary_arn is not None:
        boundary = _boundary_source(uow, boundary_arn)
    principal = _principal_of(kind, canonical, row, _tags(uow, row.id))
    return PrincipalPolicies(principal, kind, sources, boundary)


def _inline_sources(uow: UnitOfWork, entities: list[tuple[str, str, str]]) -> list[PolicySource]:
    order = {entity_id: position for position, (entity_id, _, _) in enumerate(entities)}
    labels = {entity_id: (kind, name) for entity_id, kind, name in entities}
    rows = uow.connection.execute(
        select(inline_policies.c.entity_id, inline_policies.c.name, inline_policies.c.document)
        .where(inline_policies.c.entity_id.in_(list(order)))
        .order_by(inline_policies.c.name_key)
    )
    found = sorted(rows, key=lambda row: order[row.entity_id])
    sources = []
    for row in found:
        kind, entity_name = labels[row.entity_id]
        policy_id = f"{kind}/{entity_name}/{row.name}"
        policy = parsed_policy(row.document, PolicyKind.IDENTITY, policy_id)
        sources.append(PolicySource(policy, row.name, kind, row.document))
    return sources


def _current_document() -> Any:
    return managed_policies.join(
        policy_versions,
        (policy_versions.c.policy_id == managed_policies.c.id)
        & (policy_versions.c.version_id == managed_policies.c.default_version),
    )


def _managed_type(account_id: str) -> str:
    return "aws-managed" if account_id == AWS_ACCOUNT else "user-managed"


def _managed_sources(uow: UnitOfWork, entity_ids: list[str]) -> list[PolicySource]:
    rows = uow.connection.execute(
        select(
            managed_policies.c.arn,
            managed_policies.c.name,
            managed_policies.c.account_id,
            policy_versions.c.document,
        )
        .select_from(policy_attachments.join(_current_document()))
        .where(policy_attachments.c.entity_id.in_(entity_ids))
        .order_by(managed_policies.c.arn)
        .distinct()
    )
    return [
        PolicySource(
            parsed_policy(row.document, PolicyKind.IDENTITY, row.arn),
            row.name,
            _managed_type(row.account_id),
            row.document,
            arn=row.arn,
        )
        for row in rows
    ]


def _boundary_source(uow: UnitOfWork, boundary_arn: str) -> PolicySource:
    row = uow.connection.execute(
        select(managed_policies.c.name, managed_policies.c.account_id, policy_versions.c.document)
        .select_from(_current_document())
        .where(managed_policies.c.arn == boundary_arn)
    ).first()
    if row is None:  # the boundary policy is gone: nothing is allowed through it
        document = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
        )
        policy = parsed_policy(document, PolicyKind.BOUNDARY, boundary_arn)
        name = boundary_arn.rsplit("/", 1)[-1]
        return PolicySource(policy, name, "user-managed", document, arn=boundary_arn)
    policy = parsed_policy(row.document, PolicyKind.BOUNDARY, boundary_arn)
    return PolicySource(
        policy, row.name, _managed_type(row.account_id), row.document, arn=boundary_arn
    )


def excluded(
    source: PolicySource, identifiers: Sequence[Mapping[str, Any]], boundary: bool
) -> bool:
    """Whether a PolicyExclusionList entry names this policy (unmatched entries are ignored)."""
    for identifier in identifiers:
        policy_type = identifier.get("PolicyType")
        if policy_type is not None:
            if boundary and policy_type == "permission-boundary":
                return True
            if not boundary and policy_type == source.source_type:
                return True
            if not boundary and policy_type == "inline" and source.arn is None:
                return True
        arn_pattern = identifier.get("PolicyArn")
        if (
            arn_pattern is not None
            and source.arn is not None
            and fnmatchcase(source.arn, arn_pattern.replace("[", "[[]"))
        ):
            return True
        inline = identifier.get("InlinePolicyIdentifier")
        if (
            inline is not None
            and not boundary
            and source.arn is None
            and inline["AttachmentType"] == source.source_type
            and inline["PolicyName"].lower() == source.source_id.lower()
            and fnmatchcase(
                source.policy.policy_id.split("/")[1].lower(),
                inline["AttachmentName"].lower().replace("[", "[[]"),
            )
        ):
            return True
    return False


def check_exclusions(identifiers: Sequence[Mapping[str, Any]]) -> None:
    """Syntactically invalid identifiers fail the request (AWS: InvalidInput)."""
    for identifier in identifiers:
        arn_pattern = identifier.get("PolicyArn")
        if arn_pattern is not None:
            prefix, _, _ = arn_pattern.partition(":policy/")
            if (
                not arn_pattern.startswith("arn:aws:iam::")
                or ":policy/" not in arn_pattern
                or "*" in prefix
                or "?" in prefix
            ):
                raise InvalidInput(f"Invalid policy ARN in PolicyExclusionList: {arn_pattern}")
            if arn_pattern.count("*") > 1:
                raise InvalidInput(
                    f"Invalid policy ARN in PolicyExclusionList: {arn_pattern} "
                    "(at most one * is allowed)"
                )
        inline = identifier.get("InlinePolicyIdentifier")
        if inline is not None and inline.get("AttachmentName", "").count("*") > 1:
            raise InvalidInput(
                "Invalid AttachmentName in PolicyExclusionList (at most one * is allowed)"
            )
