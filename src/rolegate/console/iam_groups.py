"""The console's IAM group pages: the list, a group's page (members, policies), creating and
deleting groups, members, and the group's policies (shared with users and roles)."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import iam_attach
from .aws import AwsCallError
from .iam_support import (
    GROUP,
    USER,
    change,
    create_page,
    entity_action,
    form_text,
    list_page,
    with_times,
)
from .web import Console, Identity, page

__all__ = ["GROUP", "routes"]

_LISTING: Final = GROUP.listing("User groups", "CreateDate")


def routes(console: Console) -> list[Route]:
    async def groups_page(request: Request, identity: Identity) -> Response:
        return await list_page(console, request, identity, _LISTING)

    create_form = create_page(console, "iam_group_create.html", "Create group")

    async def create_group_form(request: Request, identity: Identity) -> Response:
        return create_form(request, identity, {"path": "/"})

    async def create_group(request: Request, identity: Identity) -> Response:
        form = await request.form()
        values = {name: form_text(form, name, 512) for name in ("name", "path")}
        return await change(
            console,
            request,
            identity,
            "create_group",
            done=GROUP.done(values["name"], "group-created"),
            failed=lambda error: create_form(request, identity, values, error),
            GroupName=values["name"],
            Path=values["path"] or "/",
        )

    async def detail(
        request: Request,
        identity: Identity,
        name: str,
        error: AwsCallError | None = None,
        status: int = 200,
    ) -> Response:
        found = await iam_attach.get_entity(console, request, identity, GROUP, name, error)
        if isinstance(found, Response):
            return found
        return await iam_attach.entity_page(
            console,
            request,
            identity,
            GROUP,
            name,
            error,
            status,
            group=with_times(found.get("Group", {}), "CreateDate"),
            members=[USER.row(user) for user in found.get("Users", [])],
        )

    action = entity_action(console, GROUP, detail)

    async def membership(request: Request, identity: Identity, operation: str) -> Response:
        user = form_text(await request.form(), "user", 128)
        notice = "member-added" if operation.startswith("add") else "member-removed"
        return await action(request, identity, operation, notice, UserName=user)

    async def add_member(request: Request, identity: Identity) -> Response:
        return await membership(request, identity, "add_user_to_group")

    async def remove_member(request: Request, identity: Identity) -> Response:
        return await membership(request, identity, "remove_user_from_group")

    base = f"{GROUP.list_url}/{{name}}"
    return [
        Route(GROUP.list_url, page(console, groups_page), methods=["GET"]),
        Route("/console/iam/create/group", page(console, create_group_form), methods=["GET"]),
        Route("/console/iam/create/group", page(console, create_group), methods=["POST"]),
        Route(f"{base}/members/add", page(console, add_member), methods=["POST"]),
        Route(f"{base}/members/remove", page(console, remove_member), methods=["POST"]),
        *iam_attach.routes(console, GROUP, detail),
    ]
