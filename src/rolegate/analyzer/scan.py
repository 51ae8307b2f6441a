"""Which resources an analyzer looks at, analyzing them, and the hooks that keep findings
current when a policy changes.

Resources: the IAM roles (trust policies) and S3 buckets (bucket policies) of the accounts
in an analyzer's zone of trust; roles are global and so analyzed by the analyzers of every
Region, buckets by those of the bucket's Region. The hooks run inside the unit of work that
writes the policy: a role created or its trust policy updated (`resource_changed`), a bucket
policy put or deleted (`bucket_changed`), a role or bucket deleted (`resource_removed`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Row, select

from ..iam.principal_binding import render_principals
from ..ids import iam_arn
from ..policy import Policy, PolicyKind, PolicyValidationError, parse_policy
from ..s3.schema import s3_buckets
from ..store.database import UnitOfWork
from ..store.schema import accounts, roles
from .analyzers import Analyzer, analyzers_covering
from .external import BUCKET_TYPE, ROLE_TYPE, Analysis, Target, analyze_policy
from .findings import record_analysis, resolve_resource

__all__ = [
    "Resource",
    "analyze_resource",
    "bucket_changed",
    "find_resource",
    "resource_changed",
    "resource_removed",
    "resources_of",
    "scan_analyzer",
]

_S3_PREFIX: Final = "arn:aws:s3:::"


@dataclass(frozen=True)
class Resource:
    """An analyzable resource and its policy (None: it has none)."""

    target: Target
    region: str | None  # None: global (IAM)
    policy: Policy | None

    def seen_by(self, analyzer: Analyzer) -> bool:
        return self.region is None or self.region == analyzer.region


def _parsed(text: str | None, kind: PolicyKind, policy_id: str) -> Policy | None:
    if text is None:
        return None
    try:
        return parse_policy(text, kind, policy_id=policy_id, max_size=0)
    except PolicyValidationError:
        return None  # never stored by rolegate's own writers


def _role(uow: UnitOfWork, row: Row[Any]) -> Resource:
    arn = iam_arn(row.account_id, "role", row.path, row.name)
    document = render_principals(uow, row.trust_policy)
    target = Target(arn, ROLE_TYPE, row.account_id)
    return Resource(target, None, _parsed(document, PolicyKind.TRUST, arn))


def _bucket(row: Row[Any]) -> Resource:
    arn = _S3_PREFIX + row.name
    target = Target(arn, BUCKET_TYPE, row.account_id)
    policy = _parsed(row.policy, PolicyKind.RESOURCE, f"{arn}:policy")
    return Resource(target, row.region, policy)


def resources_of(uow: UnitOfWork, account_id: str) -> Iterator[Resource]:
    for row in uow.connection.execute(
        select(roles).where(roles.c.account_id == account_id).order_by(roles.c.name_key)
    ):
        yield _role(uow, row)
    for row in uow.connection.execute(
        select(s3_buckets).where(s3_buckets.c.account_id == account_id).order_by(s3_buckets.c.name)
    ):
        yield _bucket(row)


def find_resource(uow: UnitOfWork, resource_arn: str) -> Resource | None:
    """The role or bucket an ARN names, if it exists."""
    if resource_arn.startswith(_S3_PREFIX):
        name = resource_arn[len(_S3_PREFIX) :]
        row = uow.connection.execute(select(s3_buckets).where(s3_buckets.c.name == name)).first()
        return _bucket(row) if row is not None else None
    fields = resource_arn.split(":", 5)
    if len(fields) != 6 or fields[2] != "iam" or not fields[5].startswith("role/"):
        return None
    for row in uow.connection.execute(select(roles).where(roles.c.account_id == fields[4])):
        resource = _role(uow, row)
        if resource.target.arn == resource_arn:
            return resource
    return None


def analyze_resource(uow: UnitOfWork, analyzer: Analyzer, resource: Resource) -> Analysis:
    """Analyze one resource for one analyzer and record its findings."""
    if resource.policy is None:
        analysis = Analysis((), used_solver=False)
    else:
        analysis = analyze_policy(resource.policy, resource.target, analyzer.zone)
    record_analysis(uow, analyzer, resource.target, analysis.grants)
    return analysis


def _zone_accounts(uow: UnitOfWork, analyzer: Analyzer) -> list[str]:
    listed = sorted(analyzer.zone.trusted)
    known = uow.connection.execute(select(accounts.c.id).where(accounts.c.id.in_(listed)))
    return sorted(row.id for row in known)


def scan_analyzer(uow: UnitOfWork, analyzer: Analyzer) -> int:
    """Analyze every resource in the analyzer's zone (its first scan); how many there were."""
    count = 0
    for account_id in _zone_accounts(uow, analyzer):
        for resource in resources_of(uow, account_id):
            if resource.seen_by(analyzer):
                analyze_resource(uow, analyzer, resource)
                count += 1
    return count


def resource_changed(uow: UnitOfWork, owner: str, resource_arn: str) -> None:
    """Re-analyze a resource whose policy was just written, for every analyzer covering it."""
    covering = analyzers_covering(uow, owner)
    if not covering:
        return
    resource = find_resource(uow, resource_arn)
    for analyzer in covering:
        if resource is None:
            resolve_resource(uow, resource_arn, analyzer.arn)
        elif resource.seen_by(analyzer):
            analyze_resource(uow, analyzer, resource)


def bucket_changed(uow: UnitOfWork, bucket: str) -> None:
    """`resource_changed` for a bucket known by name (its policy was put or deleted)."""
    owner = uow.connection.execute(
        select(s3_buckets.c.account_id).where(s3_buckets.c.name == bucket)
    ).scalar()
    if owner is not None:
        resource_changed(uow, owner, _S3_PREFIX + bucket)


def resource_removed(uow: UnitOfWork, resource_arn: str) -> None:
    """A role or bucket was deleted: its findings are resolved in every analyzer."""
    resolve_resource(uow, resource_arn)
