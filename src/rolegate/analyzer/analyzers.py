"""Analyzers and archive rules: create, describe, list, delete, and the zone of trust.

An analyzer is regional (`arn:aws:access-analyzer:REGION:ACCOUNT:analyzer/NAME`), of type
`ACCOUNT` (the zone of trust is the account) or `ORGANIZATION`. rolegate has no
Organizations service: an organization analyzer's members are the account ids listed in its
tag `rolegate:organization-accounts` (comma- or space-separated), and its organization id
(what `aws:PrincipalOrgID` names) is the tag `rolegate:organization-id`. One ACCOUNT analyzer
per account and region (AWS's quota), up to five ORGANIZATION ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, func, insert, select, update

from ..store.database import UnitOfWork, as_utc
from ..store.schema import analyzed_resources, analyzer_archive_rules, analyzer_findings, analyzers
from .errors import AnalyzerConflict, AnalyzerNotFound, AnalyzerQuotaExceeded, AnalyzerValidation
from .external import Zone
from .filters import check_archive_filter

__all__ = [
    "EXTERNAL_TYPES",
    "ORGANIZATION_ACCOUNTS_TAG",
    "ORGANIZATION_ID_TAG",
    "Analyzer",
    "ArchiveRule",
    "analyzer_arn",
    "analyzers_covering",
    "archive_rules",
    "create_analyzer",
    "create_archive_rule",
    "delete_analyzer",
    "delete_archive_rule",
    "get_analyzer",
    "get_analyzer_by_arn",
    "get_archive_rule",
    "list_analyzers",
    "touch_analyzer",
    "update_archive_rule",
]

EXTERNAL_TYPES: Final = ("ACCOUNT", "ORGANIZATION")
ORGANIZATION_ACCOUNTS_TAG: Final = "rolegate:organization-accounts"
ORGANIZATION_ID_TAG: Final = "rolegate:organization-id"
_QUOTAS: Final = {"ACCOUNT": 1, "ORGANIZATION": 5}
_ACCOUNT_ID: Final = re.compile(r"^[0-9]{12}$")
ANALYZER_TYPE: Final = "AWS::AccessAnalyzer::Analyzer"
RULE_TYPE: Final = "AWS::AccessAnalyzer::ArchiveRule"


@dataclass(frozen=True)
class Analyzer:
    arn: str
    account_id: str
    region: str
    name: str
    type: str
    status: str
    tags: dict[str, str]
    created_at: datetime
    last_resource_analyzed: str | None
    last_resource_analyzed_at: datetime | None

    @property
    def zone(self) -> Zone:
        members: frozenset[str] = frozenset()
        org_id = None
        if self.type == "ORGANIZATION":
            listed = re.split(r"[\s,]+", self.tags.get(ORGANIZATION_ACCOUNTS_TAG, ""))
            members = frozenset(a for a in listed if _ACCOUNT_ID.match(a))
            org_id = self.tags.get(ORGANIZATION_ID_TAG) or None
        return Zone(self.account_id, members, org_id)

    def summary(self) -> dict[str, Any]:
        """AWS's AnalyzerSummary."""
        shape: dict[str, Any] = {
            "arn": self.arn,
            "name": self.name,
            "type": self.type,
            "createdAt": self.created_at,
            "status": self.status,
            "tags": self.tags,
        }
        if self.last_resource_analyzed is not None:
            shape["lastResourceAnalyzed"] = self.last_resource_analyzed
            shape["lastResourceAnalyzedAt"] = self.last_resource_analyzed_at
        return shape


@dataclass(frozen=True)
class ArchiveRule:
    analyzer_arn: str
    name: str
    filter: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "ruleName": self.name,
            "filter": self.filter,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


def analyzer_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:access-analyzer:{region}:{account_id}:analyzer/{name}"


def _analyzer(row: Any) -> Analyzer:
    return Analyzer(
        arn=row.arn,
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        type=row.type,
        status=row.status,
        tags=json.loads(row.tags),
        created_at=as_utc(row.created_at),
        last_resource_analyzed=row.last_resource_analyzed,
        last_resource_analyzed_at=(
            as_utc(row.last_resource_analyzed_at)
            if row.last_resource_analyzed_at is not None
            else None
        ),
    )


def _not_found(name: str) -> AnalyzerNotFound:
    return AnalyzerNotFound(f"Analyzer {name} not found.", name, ANALYZER_TYPE)


def get_analyzer(uow: UnitOfWork, account_id: str, region: str, name: str) -> Analyzer:
    row = uow.connection.execute(
        select(analyzers).where(analyzers.c.arn == analyzer_arn(region, account_id, name))
    ).first()
    if row is None:
        raise _not_found(name)
    return _analyzer(row)


def get_analyzer_by_arn(uow: UnitOfWork, account_id: str, region: str, arn: str) -> Analyzer:
    """The caller's analyzer of this region named by `arn` (another account's: not found)."""
    row = uow.connection.execute(select(analyzers).where(analyzers.c.arn == arn)).first()
    if row is None or row.account_id != account_id or row.region != region:
        raise AnalyzerNotFound(f"Analyzer {arn} not found.", arn, ANALYZER_TYPE)
    return _analyzer(row)


def list_analyzers(
    uow: UnitOfWork, account_id: str, region: str, analyzer_type: str | None = None
) -> list[Analyzer]:
    query = select(analyzers).where(
        analyzers.c.account_id == account_id, analyzers.c.region == region
    )
    if analyzer_type is not None:
        query = query.where(analyzers.c.type == analyzer_type)
    return [_analyzer(row) for row in uow.connection.execute(query.order_by(analyzers.c.name))]


def analyzers_covering(uow: UnitOfWork, owner: str, region: str | None = None) -> list[Analyzer]:
    """The analyzers whose zone of trust holds `owner`'s resources (in `region`, or all)."""
    query = select(analyzers).where(
        (analyzers.c.account_id == owner) | (analyzers.c.type == "ORGANIZATION")
    )
    if region is not None:
        query = query.where(analyzers.c.region == region)
    found = [_analyzer(row) for row in uow.connection.execute(query)]
    return [a for a in found if owner in a.zone.trusted]


def create_analyzer(
    uow: UnitOfWork,
    account_id: str,
    region: str,
    name: str,
    analyzer_type: str,
    *,
    tags: Mapping[str, str] | None = None,
    archive_rules: Sequence[Mapping[str, Any]] = (),
) -> Analyzer:
    """Create the analyzer and its inline archive rules (the caller then scans)."""
    if analyzer_type not in EXTERNAL_TYPES:
        raise AnalyzerValidation(
            f"rolegate supports external access analyzers only (ACCOUNT, ORGANIZATION), "
            f"not {analyzer_type}.",
            reason="notSupported",
        )
    uow.lock_account(account_id)
    arn = analyzer_arn(region, account_id, name)
    if uow.connection.execute(select(analyzers.c.arn).where(analyzers.c.arn == arn)).first():
        raise AnalyzerConflict(f"Analyzer {name} already exists.", name, ANALYZER_TYPE)
    count = uow.connection.execute(
        select(func.count())
        .select_from(analyzers)
        .where(
            analyzers.c.account_id == account_id,
            analyzers.c.region == region,
            analyzers.c.type == analyzer_type,
        )
    ).scalar_one()
    if count >= _QUOTAS[analyzer_type]:
        raise AnalyzerQuotaExceeded(
            f"You can create only {_QUOTAS[analyzer_type]} analyzer(s) of type "
            f"{analyzer_type} per account per Region.",
            name,
            ANALYZER_TYPE,
        )
    uow.connection.execute(
        insert(analyzers).values(
            arn=arn,
            account_id=account_id,
            region=region,
            name=name,
            type=analyzer_type,
            status="ACTIVE",
            tags=json.dumps(dict(tags or {}), sort_keys=True),
            created_at=uow.now,
        )
    )
    for rule in archive_rules:
        create_archive_rule(uow, account_id, region, name, rule["ruleName"], rule["filter"])
    return get_analyzer(uow, account_id, region, name)


def delete_analyzer(uow: UnitOfWork, account_id: str, region: str, name: str) -> None:
    """Delete the analyzer with its archive rules, findings and analyzed resources."""
    uow.lock_account(account_id)
    arn = get_analyzer(uow, account_id, region, name).arn
    for table in (analyzer_archive_rules, analyzer_findings, analyzed_resources):
        uow.connection.execute(delete(table).where(table.c.analyzer_arn == arn))
    uow.connection.execute(delete(analyzers).where(analyzers.c.arn == arn))


def touch_analyzer(uow: UnitOfWork, arn: str, resource_arn: str) -> None:
    uow.connection.execute(
        update(analyzers)
        .where(analyzers.c.arn == arn)
        .values(last_resource_analyzed=resource_arn, last_resource_analyzed_at=uow.now)
    )


# --------------------------------------------------------------------------- archive rules


def _rule(row: Any) -> ArchiveRule:
    return ArchiveRule(
        row.analyzer_arn,
        row.name,
        json.loads(row.filter),
        as_utc(row.created_at),
        as_utc(row.updated_at),
    )


def archive_rules(uow: UnitOfWork, arn: str) -> list[ArchiveRule]:
    rows = uow.connection.execute(
        select(analyzer_archive_rules)
        .where(analyzer_archive_rules.c.analyzer_arn == arn)
        .order_by(analyzer_archive_rules.c.name)
    )
    return [_rule(row) for row in rows]


def _rule_key(arn: str, rule_name: str) -> tuple[Any, Any]:
    return (
        analyzer_archive_rules.c.analyzer_arn == arn,
        analyzer_archive_rules.c.name == rule_name,
    )


def _find_rule(uow: UnitOfWork, arn: str, rule_name: str) -> Any:
    return uow.connection.execute(
        select(analyzer_archive_rules).where(*_rule_key(arn, rule_name))
    ).first()


def get_archive_rule(
    uow: UnitOfWork, account_id: str, region: str, name: str, rule_name: str
) -> ArchiveRule:
    arn = get_analyzer(uow, account_id, region, name).arn
    row = _find_rule(uow, arn, rule_name)
    if row is None:
        raise AnalyzerNotFound(f"Archive rule {rule_name} not found.", rule_name, RULE_TYPE)
    return _rule(row)


def create_archive_rule(
    uow: UnitOfWork,
    account_id: str,
    region: str,
    name: str,
    rule_name: str,
    criteria: Mapping[str, Any],
) -> None:
    check_archive_filter(criteria)
    uow.lock_account(account_id)
    arn = get_analyzer(uow, account_id, region, name).arn
    if _find_rule(uow, arn, rule_name) is not None:
        raise AnalyzerConflict(f"Archive rule {rule_name} already exists.", rule_name, RULE_TYPE)
    uow.connection.execute(
        insert(analyzer_archive_rules).values(
            analyzer_arn=arn,
            name=rule_name,
            filter=json.dumps(dict(criteria), sort_keys=True),
            created_at=uow.now,
            updated_at=uow.now,
        )
    )


def update_archive_rule(
    uow: UnitOfWork,
    account_id: str,
    region: str,
    name: str,
    rule_name: str,
    criteria: Mapping[str, Any],
) -> None:
    check_archive_filter(criteria)
    uow.lock_account(account_id)
    rule = get_archive_rule(uow, account_id, region, name, rule_name)
    uow.connection.execute(
        update(analyzer_archive_rules)
        .where(*_rule_key(rule.analyzer_arn, rule_name))
        .values(filter=json.dumps(dict(criteria), sort_keys=True), updated_at=uow.now)
    )


def delete_archive_rule(
    uow: UnitOfWork, account_id: str, region: str, name: str, rule_name: str
) -> None:
    uow.lock_account(account_id)
    rule = get_archive_rule(uow, account_id, region, name, rule_name)
    uow.connection.execute(
        delete(analyzer_archive_rules).where(*_rule_key(rule.analyzer_arn, rule_name))
    )
