"""IAM Access Analyzer: the analyzers of the Region and the findings of one of them.

Every page is an AWS client of rolegate (`console/aws.py`): ListAnalyzers, ListFindings,
CreateAnalyzer and UpdateFindings go through the API as the page's identity, so the engine
decides `access-analyzer:*` for them exactly as for boto3. The status filter is a GET form
(shareable addresses); creating an analyzer and archiving or unarchiving a finding are POST
forms with the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .aws import AwsCallError
from .web import Console, Identity, error_context, page

__all__ = ["STATUSES", "finding_row", "routes"]

STATUSES: Final = ("ACTIVE", "ARCHIVED", "RESOLVED")
_PATH: Final = "/console/access-analyzer"
_TITLE: Final = "Access Analyzer"


def finding_row(finding: Mapping[str, Any]) -> dict[str, Any]:
    """What the findings table shows of one ListFindings finding."""
    return {
        "id": finding["id"],
        "resource": finding.get("resource", ""),
        "resource_type": finding["resourceType"],
        "principal": ", ".join(f"{k}: {v}" for k, v in (finding.get("principal") or {}).items()),
        "actions": ", ".join(finding.get("action") or ()),
        "condition": ", ".join(f"{k} = {v}" for k, v in (finding.get("condition") or {}).items()),
        "public": bool(finding.get("isPublic")),
        "status": finding["status"],
        "updated": finding["updatedAt"].strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def _address(analyzer: str | None, status: str) -> str:
    query = {k: v for k, v in (("analyzer", analyzer), ("status", status)) if v}
    return _PATH + (f"?{urlencode(query)}" if query else "")


def routes(console: Console) -> list[Route]:
    async def findings(request: Request, identity: Identity) -> Response:
        wanted = request.query_params.get("analyzer") or None
        status = request.query_params.get("status") or "ACTIVE"
        context: dict[str, Any] = {
            "title": _TITLE,
            "analyzers": [],
            "analyzer": None,
            "findings": [],
            "status_filter": status,
            "statuses": (*STATUSES, "all"),
            "error": None,
        }
        try:
            listed = await console.call(request, identity, "accessanalyzer", "list_analyzers")
            context["analyzers"] = listed.get("analyzers") or []
            chosen = next((a for a in context["analyzers"] if wanted in (None, a["name"])), None)
            context["analyzer"] = chosen
            if chosen is not None:
                params: dict[str, Any] = {"analyzerArn": chosen["arn"]}
                if status in STATUSES:
                    params["filter"] = {"status": {"eq": [status]}}
                rows: list[dict[str, Any]] = []
                while True:
                    found = await console.call(
                        request, identity, "accessanalyzer", "list_findings", **params
                    )
                    rows.extend(finding_row(f) for f in found.get("findings") or ())
                    if not found.get("nextToken"):
                        break
                    params["nextToken"] = found["nextToken"]
                context["findings"] = rows
        except AwsCallError as error:
            context["error"] = error_context(error)
            return console.render(
                request, "analyzer_findings.html", identity, status=error.status, **context
            )
        return console.render(request, "analyzer_findings.html", identity, **context)

    async def create(request: Request, identity: Identity) -> Response:
        form = await request.form()
        name = str(form.get("name") or "")
        try:
            await console.call(
                request,
                identity,
                "accessanalyzer",
                "create_analyzer",
                analyzerName=name,
                type="ACCOUNT",
            )
        except AwsCallError as error:
            return console.render(
                request,
                "analyzer_findings.html",
                identity,
                status=error.status,
                title=_TITLE,
                analyzers=[],
                analyzer=None,
                findings=[],
                status_filter="ACTIVE",
                statuses=(*STATUSES, "all"),
                error=error_context(error),
            )
        return RedirectResponse(_address(name, "ACTIVE"), 303)

    async def update(request: Request, identity: Identity) -> Response:
        form = await request.form()
        analyzer = str(form.get("analyzer") or "")
        back = str(form.get("back") or "ACTIVE")
        try:
            listed = await console.call(request, identity, "accessanalyzer", "list_analyzers")
            arn = next(a["arn"] for a in listed["analyzers"] if a["name"] == analyzer)
            await console.call(
                request,
                identity,
                "accessanalyzer",
                "update_findings",
                analyzerArn=arn,
                status=str(form.get("to") or ""),
                ids=[str(form.get("id") or "")],
            )
        except (AwsCallError, StopIteration) as error:
            context = (
                error_context(error)
                if isinstance(error, AwsCallError)
                else {"code": "ResourceNotFoundException", "message": f"No analyzer {analyzer}."}
            )
            return console.render(
                request,
                "error.html",
                identity,
                status=getattr(error, "status", 404),
                title=_TITLE,
                message=f"{context['code']}: {context['message']}",
            )
        return RedirectResponse(_address(analyzer, back), 303)

    return [
        Route(_PATH, page(console, findings), methods=["GET"]),
        Route(f"{_PATH}/create", page(console, create), methods=["POST"]),
        Route(f"{_PATH}/update", page(console, update), methods=["POST"]),
    ]
