"""The console's IAM role pages: the list, a role's page (trust policy, permission policies,
maximum session duration, its Switch Role link), creating and deleting roles, editing the
trust policy (UpdateAssumeRolePolicy) and the role's description and session duration.

A refused trust policy (MalformedPolicyDocument) shows IAM's message and the engine's
validation issues, each at its JSON pointer and line/column in the text, which stays in the
editor.
"""

from __future__ import annotations

import json
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..policy import PolicyKind
from . import iam_attach
from .aws import AwsCallError
from .iam_support import (
    MAX_DOCUMENT,
    ROLE,
    attempt,
    change,
    create_page,
    entity_action,
    form_page,
    form_text,
    format_time,
    list_page,
    policy_json,
    policy_problems,
    switch_role_url,
)
from .web import Console, Identity, page

__all__ = ["ROLE", "default_trust", "routes"]

_LISTING: Final = ROLE.listing("Roles", "CreateDate")
_OTHER_ACCOUNT: Final = "123456789012"


def default_trust(account_id: str = _OTHER_ACCOUNT) -> str:
    """The create form's trust policy: the other account's principals may assume the role
    (those of its users and roles that their own account's policies allow to)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        indent=2,
    )


def _duration(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def routes(console: Console) -> list[Route]:
    async def roles_page(request: Request, identity: Identity) -> Response:
        return await list_page(console, request, identity, _LISTING)

    # ------------------------------------------------------------------ create
    create_form = create_page(
        console, "iam_role_create.html", "Create role", "trust", PolicyKind.TRUST
    )

    async def create_role_form(request: Request, identity: Identity) -> Response:
        values = {"path": "/", "duration": "3600", "trust": default_trust()}
        return create_form(request, identity, values)

    async def create_role(request: Request, identity: Identity) -> Response:
        form = await request.form()
        values = {
            name: form_text(form, name, 1024)
            for name in ("name", "path", "description", "duration", "tag_key", "tag_value")
        }
        values["trust"] = form_text(form, "trust", MAX_DOCUMENT, strip=False)
        params: dict[str, Any] = {
            "RoleName": values["name"],
            "Path": values["path"] or "/",
            "AssumeRolePolicyDocument": values["trust"],
        }
        if values["description"]:
            params["Description"] = values["description"]
        if values["duration"]:
            params["MaxSessionDuration"] = _duration(values["duration"])
        if values["tag_key"]:
            params["Tags"] = [{"Key": values["tag_key"], "Value": values["tag_value"]}]
        return await change(
            console,
            request,
            identity,
            "create_role",
            done=ROLE.done(values["name"], "role-created"),
            failed=lambda error: create_form(request, identity, values, error),
            **params,
        )

    # ------------------------------------------------------------------ one role
    async def detail(
        request: Request,
        identity: Identity,
        name: str,
        error: AwsCallError | None = None,
        status: int = 200,
    ) -> Response:
        found = await iam_attach.get_entity(console, request, identity, ROLE, name, error)
        if isinstance(found, Response):
            return found
        role = found.get("Role", {})
        last_used = role.get("RoleLastUsed") or {}
        return await iam_attach.entity_page(
            console,
            request,
            identity,
            ROLE,
            name,
            error,
            status,
            role={
                **role,
                "CreateDateText": format_time(role.get("CreateDate")),
                "LastUsedText": format_time(last_used.get("LastUsedDate")),
            },
            trust=policy_json(role.get("AssumeRolePolicyDocument", "")),
            switch_url=switch_role_url(
                identity.account_id, str(role.get("Path", "/")), str(role.get("RoleName", name))
            ),
        )

    action = entity_action(console, ROLE, detail)

    async def update_role(request: Request, identity: Identity) -> Response:
        form = await request.form()
        params: dict[str, Any] = {"Description": form_text(form, "description", 1024)}
        duration = form_text(form, "duration", 16)
        if duration:
            params["MaxSessionDuration"] = _duration(duration)
        return await action(request, identity, "update_role", "role-updated", **params)

    # ------------------------------------------------------------------ trust policy
    def trust_editor(
        request: Request,
        identity: Identity,
        name: str,
        text: str,
        error: AwsCallError | None = None,
    ) -> Response:
        return form_page(
            console,
            request,
            identity,
            "iam_trust.html",
            f"Trust policy of {name}",
            error,
            name=name,
            role_url=ROLE.url(name),
            text=text,
            problems=policy_problems(error, text, PolicyKind.TRUST),
        )

    async def trust_form(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        found, error = await attempt(console, request, identity, "get_role", RoleName=name)
        if found is None:
            assert error is not None
            return await detail(request, identity, name, error, error.status)
        text = policy_json(found.get("Role", {}).get("AssumeRolePolicyDocument", ""))
        return trust_editor(request, identity, name, text)

    async def update_trust(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        text = form_text(await request.form(), "document", MAX_DOCUMENT, strip=False)
        return await change(
            console,
            request,
            identity,
            "update_assume_role_policy",
            done=ROLE.done(name, "trust-updated"),
            failed=lambda error: trust_editor(request, identity, name, text, error),
            RoleName=name,
            PolicyDocument=text,
        )

    base = f"{ROLE.list_url}/{{name}}"
    return [
        Route(ROLE.list_url, page(console, roles_page), methods=["GET"]),
        Route("/console/iam/create/role", page(console, create_role_form), methods=["GET"]),
        Route("/console/iam/create/role", page(console, create_role), methods=["POST"]),
        Route(f"{base}/update", page(console, update_role), methods=["POST"]),
        Route(f"{base}/trust", page(console, trust_form), methods=["GET"]),
        Route(f"{base}/trust", page(console, update_trust), methods=["POST"]),
        *iam_attach.routes(console, ROLE, detail),
    ]
