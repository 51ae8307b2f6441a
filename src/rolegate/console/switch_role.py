"""Switch Role and Back to <user> (`../shared/aws-behaviour.md` section 6).

A switch calls STS AssumeRole through the API with the user's ORIGINAL console credentials,
never the active role's (switching from one role to another goes through the user: no
chaining, and permissions never accumulate). The role session name is the user name; the
sign-in's MFA facts travel in the user's session token. Any refusal shows AWS's one message,
with the engine's explanation below it. The last five roles are kept per signed-in user in a
sealed `rolegate-role-history` cookie, most recent first.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..audit.record import identity_for_session
from ..iam.accounts import find_account
from ..sts.tokens import TokenError, open_token
from .aws import AwsCallError
from .web import (
    COLORS,
    HISTORY_COOKIE,
    HISTORY_SIZE,
    Console,
    Identity,
    client_ip,
    page,
    role_history,
    safe_destination,
    set_cookie,
)

__all__ = ["INVALID_INFORMATION", "routes"]

INVALID_INFORMATION: Final = (
    "Invalid information in one or more fields. Check your information or contact your "
    "administrator."
)
CONSOLE_ROLE_SESSION_SECONDS: Final = 3600
_ROLE_NAME: Final = re.compile(r"^(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_MAX_PATH_AND_NAME: Final = 64 + 512


def _form_value(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip()[:1024] if isinstance(value, str) else ""


def routes(console: Console) -> list[Route]:
    def form_page(
        request: Request,
        identity: Identity,
        values: dict[str, str],
        *,
        error: str | None = None,
        explanation: Any = None,
        status: int = 200,
    ) -> Response:
        return console.render(
            request,
            "switchrole.html",
            identity,
            status=status,
            title="Switch Role",
            form=values,
            error=error,
            explanation=explanation,
        )

    async def switch_role(request: Request, identity: Identity) -> Response:
        source = request.query_params if request.method == "GET" else await request.form()
        values = {
            name: _form_value(source, name)
            for name in ("account", "roleName", "displayName", "color")
        }
        values["color"] = values["color"].upper().lstrip("#")
        if values["color"] not in COLORS:
            values["color"] = ""
        if request.method == "GET":
            if identity.is_root:
                return form_page(
                    request,
                    identity,
                    values,
                    error="You are signed in as the root user. The root user cannot switch "
                    "roles: sign in as an IAM user.",
                    status=403,
                )
            return form_page(request, identity, values)

        role_name = values["roleName"].strip("/")
        display = values["displayName"] or role_name.rsplit("/", 1)[-1]

        def refused(explanation: Any = None) -> Response:
            return form_page(
                request,
                identity,
                values,
                error=INVALID_INFORMATION,
                explanation=explanation,
                status=400,
            )

        if (
            identity.is_root
            or not values["account"]
            or not _ROLE_NAME.match(role_name)
            or len(role_name) > _MAX_PATH_AND_NAME
            or len(display) > 64
        ):
            return refused()

        def resolve() -> str | None:
            with console.database.read() as uow:
                row = find_account(uow, values["account"])
                return str(row.id) if row is not None else None

        account_id = await run_in_threadpool(resolve)
        if account_id is None:
            return refused()
        path, _, name = role_name.rpartition("/")
        role_arn = f"arn:aws:iam::{account_id}:role/{path + '/' if path else ''}{name}"
        try:
            result = await console.aws.call(
                identity.base_credentials,
                client_ip(request),
                "sts",
                "assume_role",
                RoleArn=role_arn,
                RoleSessionName=identity.user_name,
                DurationSeconds=CONSOLE_ROLE_SESSION_SECONDS,
            )
        except AwsCallError as error:
            return refused(error.explanation)
        token = str(result["Credentials"]["SessionToken"])
        try:
            role = open_token(token, console.keys)
        except TokenError:
            return refused()
        switched = replace(
            identity,
            role=role,
            role_token=token,
            display_name=display,
            color=values["color"] or None,
        )
        destination = safe_destination(_form_value(source, "redirect_uri"), "/console")
        await console.record_sign_in_event(
            request,
            "SwitchRole",
            identity_for_session(role),
            role.account_id,
            additional={
                "SwitchFrom": identity.base.caller_arn,
                "RedirectTo": str(request.base_url).rstrip("/") + destination,
            },
        )
        response = RedirectResponse(destination, 303)
        console.set_session(response, request, switched)
        entry = {
            "a": values["account"],
            "r": role_name,
            "d": display,
            "c": values["color"],
        }
        history = [
            item
            for item in role_history(console, request, identity)
            if (item["a"], item["r"]) != (entry["a"], entry["r"])
        ]
        state = {
            "bn": identity.user_name,
            "ba": identity.base.account_id,
            "rl": [entry, *history][:HISTORY_SIZE],
        }
        set_cookie(response, request, HISTORY_COOKIE, console.seal(state), max_age=400 * 86400)
        return response

    async def exit_role(request: Request, identity: Identity) -> Response:
        if identity.role is not None:
            await console.record_sign_in_event(
                request,
                "ExitRole",
                identity_for_session(identity.role),
                identity.role.account_id,
                additional={"RedirectTo": str(request.base_url).rstrip("/") + "/console"},
            )
        back = replace(
            identity,
            role=None,
            role_token=None,
            display_name=None,
            color=None,
            role_account_label=None,
        )
        response = RedirectResponse("/console", 303)
        console.set_session(response, request, back)
        return response

    return [
        Route("/switchrole", page(console, switch_role), methods=["GET", "POST"]),
        Route("/console/exit-role", page(console, exit_role), methods=["POST"]),
    ]
