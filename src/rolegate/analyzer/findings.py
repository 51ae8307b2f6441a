"""Findings and analyzed resources in the store: recording an analysis, reading, updating.

An analysis of one resource by one analyzer (`record_analysis`) reconciles its findings by
grant (principal and conditions): a grant seen before updates its finding (a RESOLVED one
becomes active again), a new one creates a finding (ARCHIVED when an archive rule matches,
else ACTIVE), a finding whose grant is gone becomes RESOLVED.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import delete, insert, select, update

from ..store.database import UnitOfWork, as_utc
from ..store.schema import analyzed_resources, analyzer_findings
from .analyzers import Analyzer, archive_rules, touch_analyzer
from .errors import AnalyzerNotFound, AnalyzerValidation
from .external import BUCKET_TYPE, Grant, Target
from .filters import matches

__all__ = [
    "FINDING_TYPE",
    "AnalyzedResource",
    "apply_archive_rule",
    "finding_view",
    "get_analyzed_resource",
    "get_finding",
    "list_analyzed_resources",
    "list_findings",
    "record_analysis",
    "resolve_resource",
    "update_findings",
]

FINDING_TYPE: Final = "AWS::AccessAnalyzer::Finding"
_SORTABLE: Final = frozenset(
    {
        "id",
        "resource",
        "resourceType",
        "resourceOwnerAccount",
        "status",
        "isPublic",
        "createdAt",
        "analyzedAt",
        "updatedAt",
    }
)


def finding_view(row: Any) -> dict[str, Any]:
    """A finding row in AWS's Finding shape (plus `witness`, rolegate's, not on the wire)."""
    shape: dict[str, Any] = {
        "id": row.id,
        "principal": json.loads(row.principal),
        "action": json.loads(row.actions),
        "resource": row.resource_arn,
        "isPublic": bool(row.is_public),
        "resourceType": row.resource_type,
        "condition": json.loads(row.condition),
        "createdAt": as_utc(row.created_at),
        "analyzedAt": as_utc(row.analyzed_at),
        "updatedAt": as_utc(row.updated_at),
        "status": row.status,
        "resourceOwnerAccount": row.resource_owner_account,
    }
    if row.sources is not None:
        shape["sources"] = json.loads(row.sources)
    if row.witness is not None:
        shape["witness"] = json.loads(row.witness)
    return shape


def _findings(uow: UnitOfWork, analyzer_arn: str, resource_arn: str | None = None) -> list[Any]:
    query = select(analyzer_findings).where(analyzer_findings.c.analyzer_arn == analyzer_arn)
    if resource_arn is not None:
        query = query.where(analyzer_findings.c.resource_arn == resource_arn)
    return list(uow.connection.execute(query.order_by(analyzer_findings.c.created_at)))


def _archived_by_rules(uow: UnitOfWork, analyzer_arn: str, view: Mapping[str, Any]) -> bool:
    return any(matches(rule.filter, view) for rule in archive_rules(uow, analyzer_arn))


def record_analysis(
    uow: UnitOfWork, analyzer: Analyzer, target: Target, grants: Sequence[Grant]
) -> None:
    """Reconcile the analyzer's findings on `target` with a fresh analysis."""
    now = uow.now
    existing = {row.grant_key: row for row in _findings(uow, analyzer.arn, target.arn)}
    sources = json.dumps([{"type": "POLICY"}]) if target.resource_type == BUCKET_TYPE else None
    for grant in grants:
        values = {
            "principal": json.dumps(grant.principal, sort_keys=True),
            "actions": json.dumps(list(grant.actions)),
            "condition": json.dumps(grant.condition, sort_keys=True),
            "is_public": grant.is_public,
            "sources": sources,
            "witness": json.dumps(grant.witness.as_json()) if grant.witness else None,
            "analyzed_at": now,
        }
        row = existing.pop(grant.key, None)
        if row is None:
            values.update(
                id=str(uuid.uuid4()),
                analyzer_arn=analyzer.arn,
                resource_arn=target.arn,
                resource_type=target.resource_type,
                resource_owner_account=target.owner,
                grant_key=grant.key,
                status="ACTIVE",
                created_at=now,
                updated_at=now,
            )
            view = finding_view(_Row(values))
            if _archived_by_rules(uow, analyzer.arn, view):
                values["status"] = "ARCHIVED"
            uow.connection.execute(insert(analyzer_findings).values(**values))
            continue
        changed = (
            row.status == "RESOLVED"
            or row.actions != values["actions"]
            or bool(row.is_public) != grant.is_public
        )
        if row.status == "RESOLVED":
            values["status"] = "ACTIVE"
        if changed:
            values["updated_at"] = now
        uow.connection.execute(
            update(analyzer_findings).where(analyzer_findings.c.id == row.id).values(**values)
        )
    for row in existing.values():
        if row.status != "RESOLVED":
            uow.connection.execute(
                update(analyzer_findings)
                .where(analyzer_findings.c.id == row.id)
                .values(status="RESOLVED", updated_at=now, analyzed_at=now)
            )
    _record_resource(uow, analyzer, target, grants)
    touch_analyzer(uow, analyzer.arn, target.arn)


class _Row:
    """Column values as attributes (a finding about to be inserted, for `finding_view`)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


def _record_resource(
    uow: UnitOfWork, analyzer: Analyzer, target: Target, grants: Sequence[Grant]
) -> None:
    actions: list[str] = []
    for grant in grants:
        actions.extend(a for a in grant.actions if a not in actions)
    values = {
        "is_public": any(grant.is_public for grant in grants),
        "actions": json.dumps(actions),
        "analyzed_at": uow.now,
        "updated_at": uow.now,
    }
    key = (
        analyzed_resources.c.analyzer_arn == analyzer.arn,
        analyzed_resources.c.resource_arn == target.arn,
    )
    found = uow.connection.execute(select(analyzed_resources.c.resource_arn).where(*key)).first()
    if found is None:
        uow.connection.execute(
            insert(analyzed_resources).values(
                analyzer_arn=analyzer.arn,
                resource_arn=target.arn,
                resource_type=target.resource_type,
                resource_owner_account=target.owner,
                created_at=uow.now,
                **values,
            )
        )
    else:
        uow.connection.execute(update(analyzed_resources).where(*key).values(**values))


def resolve_resource(uow: UnitOfWork, resource_arn: str, analyzer_arn: str | None = None) -> None:
    """The resource is gone: its findings are RESOLVED, it is no longer an analyzed one."""
    findings = analyzer_findings.c
    where = [findings.resource_arn == resource_arn, findings.status != "RESOLVED"]
    resources = [analyzed_resources.c.resource_arn == resource_arn]
    if analyzer_arn is not None:
        where.append(findings.analyzer_arn == analyzer_arn)
        resources.append(analyzed_resources.c.analyzer_arn == analyzer_arn)
    uow.connection.execute(
        update(analyzer_findings).where(*where).values(status="RESOLVED", updated_at=uow.now)
    )
    uow.connection.execute(delete(analyzed_resources).where(*resources))


# --------------------------------------------------------------------------- reading


def list_findings(
    uow: UnitOfWork,
    analyzer: Analyzer,
    criteria: Mapping[str, Mapping[str, Any]] | None = None,
    sort: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    views = [finding_view(row) for row in _findings(uow, analyzer.arn)]
    if criteria:
        views = [view for view in views if matches(criteria, view)]
    attribute = (sort or {}).get("attributeName")
    if attribute is not None:
        if attribute not in _SORTABLE:
            raise AnalyzerValidation(f"Cannot sort findings by {attribute}.", "sort")
        descending = (sort or {}).get("orderBy") == "DESC"
        views.sort(key=lambda view: (view[attribute], view["id"]), reverse=descending)
    return views


def get_finding(uow: UnitOfWork, analyzer: Analyzer, finding_id: str) -> dict[str, Any]:
    row = uow.connection.execute(
        select(analyzer_findings).where(
            analyzer_findings.c.id == finding_id,
            analyzer_findings.c.analyzer_arn == analyzer.arn,
        )
    ).first()
    if row is None:
        raise AnalyzerNotFound(f"Finding {finding_id} not found.", finding_id, FINDING_TYPE)
    return finding_view(row)


def update_findings(
    uow: UnitOfWork,
    analyzer: Analyzer,
    status: str,
    ids: Sequence[str] | None = None,
    resource_arn: str | None = None,
) -> None:
    """Archive or unarchive findings (by id, or every finding of a resource); RESOLVED
    findings keep their status."""
    if status not in ("ACTIVE", "ARCHIVED"):
        raise AnalyzerValidation("status must be ACTIVE or ARCHIVED.", "status")
    if not ids and resource_arn is None:
        raise AnalyzerValidation("Specify either ids or resourceArn.", "ids")
    uow.lock_account(analyzer.account_id)
    rows = _findings(uow, analyzer.arn, resource_arn)
    if ids:
        by_id = {row.id: row for row in rows}
        for finding_id in ids:
            if finding_id not in by_id:
                raise AnalyzerNotFound(f"Finding {finding_id} not found.", finding_id, FINDING_TYPE)
        rows = [by_id[finding_id] for finding_id in ids]
    for row in rows:
        if row.status in ("RESOLVED", status):
            continue
        uow.connection.execute(
            update(analyzer_findings)
            .where(analyzer_findings.c.id == row.id)
            .values(status=status, updated_at=uow.now)
        )


def apply_archive_rule(uow: UnitOfWork, analyzer: Analyzer, criteria: Mapping[str, Any]) -> None:
    """Archive every ACTIVE finding the rule's filter matches."""
    uow.lock_account(analyzer.account_id)
    for row in _findings(uow, analyzer.arn):
        if row.status == "ACTIVE" and matches(criteria, finding_view(row)):
            uow.connection.execute(
                update(analyzer_findings)
                .where(analyzer_findings.c.id == row.id)
                .values(status="ARCHIVED", updated_at=uow.now)
            )


@dataclass(frozen=True)
class AnalyzedResource:
    row: Any
    status: str | None

    def summary(self) -> dict[str, Any]:
        return {
            "resourceArn": self.row.resource_arn,
            "resourceOwnerAccount": self.row.resource_owner_account,
            "resourceType": self.row.resource_type,
        }

    def details(self) -> dict[str, Any]:
        row = self.row
        shape: dict[str, Any] = {
            "resourceArn": row.resource_arn,
            "resourceType": row.resource_type,
            "createdAt": as_utc(row.created_at),
            "analyzedAt": as_utc(row.analyzed_at),
            "updatedAt": as_utc(row.updated_at),
            "isPublic": bool(row.is_public),
            "actions": json.loads(row.actions),
            "resourceOwnerAccount": row.resource_owner_account,
        }
        if self.status is not None:
            shape["status"] = self.status
        if row.resource_type == BUCKET_TYPE and shape["actions"]:
            shape["sharedVia"] = ["POLICY"]
        return shape


def list_analyzed_resources(
    uow: UnitOfWork, analyzer: Analyzer, resource_type: str | None = None
) -> list[AnalyzedResource]:
    query = select(analyzed_resources).where(analyzed_resources.c.analyzer_arn == analyzer.arn)
    if resource_type is not None:
        query = query.where(analyzed_resources.c.resource_type == resource_type)
    rows = uow.connection.execute(query.order_by(analyzed_resources.c.resource_arn))
    return [AnalyzedResource(row, None) for row in rows]


def get_analyzed_resource(
    uow: UnitOfWork, analyzer: Analyzer, resource_arn: str
) -> AnalyzedResource:
    row = uow.connection.execute(
        select(analyzed_resources).where(
            analyzed_resources.c.analyzer_arn == analyzer.arn,
            analyzed_resources.c.resource_arn == resource_arn,
        )
    ).first()
    if row is None:
        raise AnalyzerNotFound(
            f"Analyzed resource {resource_arn} not found.", resource_arn, "AnalyzedResource"
        )
    statuses = {finding.status for finding in _findings(uow, analyzer.arn, resource_arn)}
    status = next((s for s in ("ACTIVE", "ARCHIVED", "RESOLVED") if s in statuses), None)
    return AnalyzedResource(row, status)
