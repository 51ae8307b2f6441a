"""IAM Access Analyzer adapters (REST-JSON): analyzers, archive rules, findings (V1 and V2),
analyzed resources, resource scans and the custom policy checks.

The engine authorizes each call on the analyzer's ARN (`arn:aws:access-analyzer:REGION:
ACCOUNT:analyzer/NAME`), or on `*` for ListAnalyzers and the policy checks. ListFindingsV2
and GetFindingV2 are authorized as `access-analyzer:ListFindings` / `GetFinding`, the IAM
actions AWS names for both versions. Lists are paged with an opaque `nextToken`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from ..analyzer import analyzers as store
from ..analyzer import checks
from ..analyzer.errors import AnalyzerValidation
from ..analyzer.findings import (
    apply_archive_rule,
    get_analyzed_resource,
    get_finding,
    list_analyzed_resources,
    list_findings,
    resolve_resource,
    update_findings,
)
from ..analyzer.scan import analyze_resource, find_resource, scan_analyzer
from .registry import OperationContext, operation

__all__: list[str] = []

SERVICE: Final = "access-analyzer"
_TOKEN_PREFIX: Final = "rolegate-access-analyzer:"
_DEFAULT_PAGE: Final = 100
T = TypeVar("T")


def _page(
    ctx: OperationContext, items: Sequence[T], key: str, render: Callable[[T], Any]
) -> dict[str, Any]:
    start = 0
    token = ctx.params.get("nextToken")
    if token is not None:
        try:
            text = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            text = ""
        number = text.removeprefix(_TOKEN_PREFIX)
        if not text.startswith(_TOKEN_PREFIX) or not number.isdigit():
            raise AnalyzerValidation("Invalid pagination token.", "nextToken")
        start = int(number)
    size = ctx.params.get("maxResults") or _DEFAULT_PAGE
    if size < 1:
        raise AnalyzerValidation("maxResults must be at least 1.", "maxResults")
    result: dict[str, Any] = {key: [render(item) for item in items[start : start + size]]}
    if start + size < len(items):
        next_token = f"{_TOKEN_PREFIX}{start + size}".encode()
        result["nextToken"] = base64.urlsafe_b64encode(next_token).decode()
    return result


def _named(ctx: OperationContext) -> str:
    return store.analyzer_arn(ctx.region, ctx.account_id, ctx.params["analyzerName"])


def _by_arn(ctx: OperationContext) -> str:
    return str(ctx.params["analyzerArn"])


def _everything(ctx: OperationContext) -> str:
    return "*"


def _analyzer(ctx: OperationContext) -> store.Analyzer:
    return store.get_analyzer_by_arn(ctx.uow, ctx.account_id, ctx.region, _by_arn(ctx))


def _public(finding: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in finding.items() if k != "witness"}


# --------------------------------------------------------------------------- analyzers


@operation(SERVICE, "CreateAnalyzer", resource=_named, writes=True)
def create_analyzer(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    analyzer = store.create_analyzer(
        ctx.uow,
        ctx.account_id,
        ctx.region,
        params["analyzerName"],
        params["type"],
        tags=params.get("tags"),
        archive_rules=params.get("archiveRules", ()),
    )
    scan_analyzer(ctx.uow, analyzer)
    return {"arn": analyzer.arn}


@operation(SERVICE, "GetAnalyzer", resource=_named)
def get_analyzer(ctx: OperationContext) -> dict[str, Any]:
    found = store.get_analyzer(ctx.uow, ctx.account_id, ctx.region, ctx.params["analyzerName"])
    return {"analyzer": found.summary()}


@operation(SERVICE, "ListAnalyzers", resource=_everything)
def list_analyzers(ctx: OperationContext) -> dict[str, Any]:
    found = store.list_analyzers(ctx.uow, ctx.account_id, ctx.region, ctx.params.get("type"))
    return _page(ctx, found, "analyzers", store.Analyzer.summary)


@operation(SERVICE, "DeleteAnalyzer", resource=_named, writes=True)
def delete_analyzer(ctx: OperationContext) -> None:
    store.delete_analyzer(ctx.uow, ctx.account_id, ctx.region, ctx.params["analyzerName"])


# --------------------------------------------------------------------------- archive rules


@operation(SERVICE, "CreateArchiveRule", resource=_named, writes=True)
def create_archive_rule(ctx: OperationContext) -> None:
    params = ctx.params
    store.create_archive_rule(
        ctx.uow,
        ctx.account_id,
        ctx.region,
        params["analyzerName"],
        params["ruleName"],
        params["filter"],
    )


@operation(SERVICE, "UpdateArchiveRule", resource=_named, writes=True)
def update_archive_rule(ctx: OperationContext) -> None:
    params = ctx.params
    store.update_archive_rule(
        ctx.uow,
        ctx.account_id,
        ctx.region,
        params["analyzerName"],
        params["ruleName"],
        params["filter"],
    )


@operation(SERVICE, "GetArchiveRule", resource=_named)
def get_archive_rule(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    rule = store.get_archive_rule(
        ctx.uow, ctx.account_id, ctx.region, params["analyzerName"], params["ruleName"]
    )
    return {"archiveRule": rule.summary()}


@operation(SERVICE, "ListArchiveRules", resource=_named)
def list_archive_rules(ctx: OperationContext) -> dict[str, Any]:
    analyzer = store.get_analyzer(ctx.uow, ctx.account_id, ctx.region, ctx.params["analyzerName"])
    rules = store.archive_rules(ctx.uow, analyzer.arn)
    return _page(ctx, rules, "archiveRules", store.ArchiveRule.summary)


@operation(SERVICE, "DeleteArchiveRule", resource=_named, writes=True)
def delete_archive_rule(ctx: OperationContext) -> None:
    params = ctx.params
    store.delete_archive_rule(
        ctx.uow, ctx.account_id, ctx.region, params["analyzerName"], params["ruleName"]
    )


@operation(SERVICE, "ApplyArchiveRule", resource=_by_arn, writes=True)
def apply_archive_rule_handler(ctx: OperationContext) -> None:
    analyzer = _analyzer(ctx)
    rule = store.get_archive_rule(
        ctx.uow, ctx.account_id, ctx.region, analyzer.name, ctx.params["ruleName"]
    )
    apply_archive_rule(ctx.uow, analyzer, rule.filter)


# --------------------------------------------------------------------------- findings


@operation(SERVICE, "ListFindings", resource=_by_arn)
def list_findings_handler(ctx: OperationContext) -> dict[str, Any]:
    found = list_findings(ctx.uow, _analyzer(ctx), ctx.params.get("filter"), ctx.params.get("sort"))
    return _page(ctx, found, "findings", _public)


def _summary_v2(finding: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "analyzedAt",
        "createdAt",
        "id",
        "resource",
        "resourceType",
        "resourceOwnerAccount",
        "status",
        "updatedAt",
    )
    return {**{key: finding[key] for key in keys}, "findingType": "ExternalAccess"}


def _authorize_v1(ctx: OperationContext, action: str) -> None:
    """V2 calls are authorized as the V1 IAM action (not the gateway's `service:name`)."""
    ctx.services.authorize(ctx, f"{SERVICE}:{action}", _by_arn(ctx))


@operation(SERVICE, "ListFindingsV2", resource=_by_arn, gateway_authorizes=False)
def list_findings_v2(ctx: OperationContext) -> dict[str, Any]:
    _authorize_v1(ctx, "ListFindings")
    found = list_findings(ctx.uow, _analyzer(ctx), ctx.params.get("filter"), ctx.params.get("sort"))
    return _page(ctx, found, "findings", _summary_v2)


@operation(SERVICE, "GetFinding", resource=_by_arn)
def get_finding_handler(ctx: OperationContext) -> dict[str, Any]:
    return {"finding": _public(get_finding(ctx.uow, _analyzer(ctx), ctx.params["id"]))}


@operation(SERVICE, "GetFindingV2", resource=_by_arn, gateway_authorizes=False)
def get_finding_v2(ctx: OperationContext) -> dict[str, Any]:
    _authorize_v1(ctx, "GetFinding")
    finding = get_finding(ctx.uow, _analyzer(ctx), ctx.params["id"])
    details = {
        "externalAccessDetails": {
            "action": finding["action"],
            "condition": finding["condition"],
            "isPublic": finding["isPublic"],
            "principal": finding["principal"],
            **({"sources": finding["sources"]} if "sources" in finding else {}),
        }
    }
    shape = _summary_v2(finding)
    return {**shape, **_page(ctx, [details], "findingDetails", lambda item: item)}


@operation(SERVICE, "UpdateFindings", resource=_by_arn, writes=True)
def update_findings_handler(ctx: OperationContext) -> None:
    params = ctx.params
    update_findings(
        ctx.uow, _analyzer(ctx), params["status"], params.get("ids"), params.get("resourceArn")
    )


# --------------------------------------------------------------------------- resources


@operation(SERVICE, "StartResourceScan", resource=_by_arn, writes=True)
def start_resource_scan(ctx: OperationContext) -> None:
    analyzer = _analyzer(ctx)
    arn = ctx.params["resourceArn"]
    resource = find_resource(ctx.uow, arn)
    if resource is None or resource.target.owner not in analyzer.zone.trusted:
        resolve_resource(ctx.uow, arn, analyzer.arn)
        return
    if resource.seen_by(analyzer):
        analyze_resource(ctx.uow, analyzer, resource)


@operation(SERVICE, "ListAnalyzedResources", resource=_by_arn)
def list_analyzed_resources_handler(ctx: OperationContext) -> dict[str, Any]:
    found = list_analyzed_resources(ctx.uow, _analyzer(ctx), ctx.params.get("resourceType"))
    return _page(ctx, found, "analyzedResources", lambda item: item.summary())


@operation(SERVICE, "GetAnalyzedResource", resource=_by_arn)
def get_analyzed_resource_handler(ctx: OperationContext) -> dict[str, Any]:
    found = get_analyzed_resource(ctx.uow, _analyzer(ctx), ctx.params["resourceArn"])
    return {"resource": found.details()}


# --------------------------------------------------------------------------- custom checks


@operation(SERVICE, "CheckNoNewAccess", resource=_everything)
def check_no_new_access(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    return checks.check_no_new_access(
        params["newPolicyDocument"], params["existingPolicyDocument"], params["policyType"]
    ).as_output()


@operation(SERVICE, "CheckAccessNotGranted", resource=_everything)
def check_access_not_granted(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    return checks.check_access_not_granted(
        params["policyDocument"], params["access"], params["policyType"]
    ).as_output()


@operation(SERVICE, "CheckNoPublicAccess", resource=_everything)
def check_no_public_access(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    return checks.check_no_public_access(
        params["policyDocument"], params["resourceType"]
    ).as_output()
