"""The console's managed policy pages: the list (customer managed, or with AWS's too), a
policy's page (versions, a version's document, what it is attached to), creating policies,
new versions, the default version, and deleting versions and policies.

A policy is named by its ARN in the query string (`?arn=`): ARNs hold slashes and colons.
A refused document shows IAM's message with the engine's validation issues, located in the
submitted text, which stays in the editor.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..policy import PolicyKind
from .aws import AwsCallError
from .iam_support import (
    GROUP,
    MAX_DOCUMENT,
    NEW_POLICY,
    ROLE,
    USER,
    Listing,
    act,
    attempt,
    change,
    create_page,
    error_dict,
    form_page,
    form_text,
    iam_call,
    list_page,
    notice,
    policy_json,
    policy_problems,
    policy_url,
    with_times,
)
from .web import Console, Identity, page

__all__ = ["SCOPES", "routes"]

SCOPES: Final = {"Local": "Customer managed", "AWS": "AWS managed", "All": "All"}
_ARN_LIMIT: Final = 2048
_AWS_MANAGED: Final = "arn:aws:iam::aws:"
_LISTING: Final = Listing(
    "iam_policies.html",
    "Policies",
    "list_policies",
    "Policies",
    "policies",
    lambda policy: {
        **with_times(policy, "UpdateDate"),
        "url": policy_url(str(policy.get("Arn", ""))),
        "aws": str(policy.get("Arn", "")).startswith(_AWS_MANAGED),
    },
)


def routes(console: Console) -> list[Route]:
    async def policies_page(request: Request, identity: Identity) -> Response:
        scope = request.query_params.get("scope", "Local")
        scope = scope if scope in SCOPES else "Local"
        return await list_page(
            console,
            request,
            identity,
            _LISTING,
            params={"Scope": scope},
            scope=scope,
            scopes=SCOPES,
        )

    # ------------------------------------------------------------------ create
    create_form = create_page(console, "iam_policy_create.html", "Create policy", "document")

    async def create_policy_form(request: Request, identity: Identity) -> Response:
        return create_form(request, identity, {"path": "/", "document": NEW_POLICY})

    async def create_policy(request: Request, identity: Identity) -> Response:
        form = await request.form()
        values = {name: form_text(form, name, 1024) for name in ("name", "path", "description")}
        values["document"] = form_text(form, "document", MAX_DOCUMENT, strip=False)
        params: dict[str, Any] = {
            "PolicyName": values["name"],
            "Path": values["path"] or "/",
            "PolicyDocument": values["document"],
        }
        if values["description"]:
            params["Description"] = values["description"]
        try:
            result = await iam_call(console, request, identity, "create_policy", **params)
        except AwsCallError as error:
            return create_form(request, identity, values, error)
        arn = str(result.get("Policy", {}).get("Arn", ""))
        return RedirectResponse(policy_url(arn, done="policy-created"), 303)

    # ------------------------------------------------------------------ one policy
    async def detail(
        request: Request,
        identity: Identity,
        arn: str,
        error: AwsCallError | None = None,
        status: int = 200,
    ) -> Response:
        found, get_error = await attempt(console, request, identity, "get_policy", PolicyArn=arn)
        if found is None:
            assert get_error is not None
            shown = error or get_error
            return console.render(
                request,
                "iam_policy_missing.html",
                identity,
                status=shown.status,
                title="Policy",
                arn=arn,
                error=error_dict(shown),
            )
        policy = found.get("Policy", {})
        versions, versions_error = await attempt(
            console, request, identity, "list_policy_versions", PolicyArn=arn
        )
        shown_version = request.query_params.get("version") or str(
            policy.get("DefaultVersionId", "")
        )
        document, document_error = await attempt(
            console,
            request,
            identity,
            "get_policy_version",
            PolicyArn=arn,
            VersionId=shown_version,
        )
        entities, entities_error = await attempt(
            console, request, identity, "list_entities_for_policy", PolicyArn=arn
        )
        attachments: list[dict[str, str]] = []
        for key, kind, field in (
            ("PolicyUsers", USER, "UserName"),
            ("PolicyGroups", GROUP, "GroupName"),
            ("PolicyRoles", ROLE, "RoleName"),
        ):
            for entity in (entities or {}).get(key, []):
                name = str(entity.get(field, ""))
                attachments.append({"kind": kind.label, "name": name, "url": kind.url(name)})
        return console.render(
            request,
            "iam_policy.html",
            identity,
            status=status,
            title=str(policy.get("PolicyName", "Policy")),
            policy=with_times(policy, "CreateDate", "UpdateDate"),
            arn=arn,
            aws_managed=arn.startswith(_AWS_MANAGED),
            versions=[
                {
                    **with_times(version, "CreateDate"),
                    "url": policy_url(arn, version=str(version.get("VersionId", ""))),
                }
                for version in (versions or {}).get("Versions", [])
            ],
            versions_error=error_dict(versions_error),
            shown_version=shown_version,
            document=policy_json((document or {}).get("PolicyVersion", {}).get("Document", ""))
            if document
            else "",
            document_error=error_dict(document_error),
            attachments=attachments,
            entities_error=error_dict(entities_error),
            new_version_url=policy_url(arn).replace("/view?", "/versions/new?", 1),
            error=error_dict(error),
            notice=notice(request),
        )

    async def policy_page(request: Request, identity: Identity) -> Response:
        return await detail(request, identity, request.query_params.get("arn", "")[:_ARN_LIMIT])

    async def policy_action(
        request: Request, identity: Identity, operation: str, done_notice: str, *fields: str
    ) -> Response:
        form = await request.form()
        arn = form_text(form, "arn", _ARN_LIMIT)
        params = {"VersionId": form_text(form, "version", 128)} if "version" in fields else {}
        if operation == "delete_policy":
            done = f"/console/iam/policies?done={done_notice}"
        else:
            done = policy_url(arn, done=done_notice)
        return await act(
            console, request, identity, detail, arn, operation, done=done, PolicyArn=arn, **params
        )

    async def delete_policy(request: Request, identity: Identity) -> Response:
        return await policy_action(request, identity, "delete_policy", "policy-deleted")

    async def set_default(request: Request, identity: Identity) -> Response:
        return await policy_action(
            request, identity, "set_default_policy_version", "version-default", "version"
        )

    async def delete_version(request: Request, identity: Identity) -> Response:
        return await policy_action(
            request, identity, "delete_policy_version", "version-deleted", "version"
        )

    # ------------------------------------------------------------------ new version
    def version_editor(
        request: Request,
        identity: Identity,
        arn: str,
        text: str,
        *,
        set_default: bool = True,
        error: AwsCallError | None = None,
    ) -> Response:
        return form_page(
            console,
            request,
            identity,
            "iam_policy_version.html",
            "New policy version",
            error,
            arn=arn,
            policy_url=policy_url(arn),
            text=text,
            set_default=set_default,
            problems=policy_problems(error, text, PolicyKind.IDENTITY),
        )

    async def new_version_form(request: Request, identity: Identity) -> Response:
        arn = request.query_params.get("arn", "")[:_ARN_LIMIT]
        try:
            found = await iam_call(console, request, identity, "get_policy", PolicyArn=arn)
            version = await iam_call(
                console,
                request,
                identity,
                "get_policy_version",
                PolicyArn=arn,
                VersionId=str(found.get("Policy", {}).get("DefaultVersionId", "")),
            )
        except AwsCallError as error:
            return await detail(request, identity, arn, error, error.status)
        text = policy_json(version.get("PolicyVersion", {}).get("Document", ""))
        return version_editor(request, identity, arn, text)

    async def create_version(request: Request, identity: Identity) -> Response:
        form = await request.form()
        arn = form_text(form, "arn", _ARN_LIMIT)
        text = form_text(form, "document", MAX_DOCUMENT, strip=False)
        make_default = bool(form_text(form, "set_default"))
        return await change(
            console,
            request,
            identity,
            "create_policy_version",
            done=policy_url(arn, done="version-created"),
            failed=lambda error: version_editor(
                request, identity, arn, text, set_default=make_default, error=error
            ),
            PolicyArn=arn,
            PolicyDocument=text,
            SetAsDefault=make_default,
        )

    return [
        Route("/console/iam/policies", page(console, policies_page), methods=["GET"]),
        Route("/console/iam/create/policy", page(console, create_policy_form), methods=["GET"]),
        Route("/console/iam/create/policy", page(console, create_policy), methods=["POST"]),
        Route("/console/iam/policies/view", page(console, policy_page), methods=["GET"]),
        Route("/console/iam/policies/delete", page(console, delete_policy), methods=["POST"]),
        Route(
            "/console/iam/policies/versions/new", page(console, new_version_form), methods=["GET"]
        ),
        Route(
            "/console/iam/policies/versions/new", page(console, create_version), methods=["POST"]
        ),
        Route(
            "/console/iam/policies/versions/default", page(console, set_default), methods=["POST"]
        ),
        Route(
            "/console/iam/policies/versions/delete", page(console, delete_version), methods=["POST"]
        ),
    ]
