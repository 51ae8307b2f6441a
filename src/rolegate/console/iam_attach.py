"""What the pages of users, groups and roles share: reading one (or the page saying why it
cannot be read), its page with its permission policies, and the routes of those policies:
attached managed policies (attach/detach) and inline policies (the editor, put, delete).

A refused inline document shows IAM's message with the engine's validation issues, each at
its JSON pointer and line/column in the submitted text, which stays in the editor.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..policy import PolicyKind
from .aws import AwsCallError
from .iam_support import (
    MAX_DOCUMENT,
    NEW_POLICY,
    DetailPage,
    Kind,
    act,
    attempt,
    change,
    entity_action,
    error_dict,
    form_page,
    form_text,
    iam_call,
    list_all,
    notice,
    policy_json,
    policy_problems,
    policy_url,
)
from .web import Console, Identity, page

__all__ = ["entity_page", "get_entity", "load_policies", "policy_choices", "routes"]


async def get_entity(
    console: Console,
    request: Request,
    identity: Identity,
    kind: Kind,
    name: str,
    error: AwsCallError | None,
) -> dict[str, Any] | Response:
    """Get{Label}'s answer for `name`, or the page saying why it cannot be shown (`error`,
    the refusal the page was to show, or else Get{Label}'s own)."""
    found, get_error = await attempt(
        console, request, identity, kind.op("get_{}"), **{kind.param: name}
    )
    if found is not None:
        return found
    assert get_error is not None
    shown = error or get_error
    return console.render(
        request,
        "iam_missing.html",
        identity,
        status=shown.status,
        title=name,
        kind=kind,
        name=name,
        error=error_dict(shown),
    )


async def entity_page(
    console: Console,
    request: Request,
    identity: Identity,
    kind: Kind,
    name: str,
    error: AwsCallError | None,
    status: int,
    **context: Any,
) -> Response:
    """The page of a user, group or role (`iam_{key}.html`, its URL as `{key}_url`), with
    its permission policies, a refused action's error and the notice of a done one."""
    policies = await load_policies(console, request, identity, kind, name)
    return console.render(
        request,
        f"iam_{kind.key}.html",
        identity,
        status=status,
        title=name,
        name=name,
        **{f"{kind.key}_url": kind.url(name)},
        policies=policies,
        error=error_dict(error),
        notice=notice(request),
        **context,
    )


async def load_policies(
    console: Console, request: Request, identity: Identity, kind: Kind, name: str
) -> dict[str, Any]:
    """The attached and inline policies of `name` (with their documents), each list with the
    error that kept it from being read."""
    params = {kind.param: name}
    context: dict[str, Any] = {"attached": [], "attached_error": None}
    try:
        attached = await list_all(
            console,
            request,
            identity,
            kind.op("list_attached_{}_policies"),
            "AttachedPolicies",
            **params,
        )
    except AwsCallError as error:
        context["attached_error"] = error_dict(error)
    else:
        context["attached"] = [
            {**item, "url": policy_url(str(item.get("PolicyArn", "")))} for item in attached
        ]
    inline: list[dict[str, Any]] = []
    inline_error = None
    try:
        names = await list_all(
            console, request, identity, kind.op("list_{}_policies"), "PolicyNames", **params
        )
    except AwsCallError as error:
        inline_error = error_dict(error)
    else:
        for policy_name in names:
            result, failure = await attempt(
                console,
                request,
                identity,
                kind.op("get_{}_policy"),
                PolicyName=policy_name,
                **params,
            )
            inline.append(
                {
                    "name": policy_name,
                    "json": policy_json(result.get("PolicyDocument")) if result else "",
                    "error": error_dict(failure),
                }
            )
    context["inline"] = inline
    context["inline_error"] = inline_error
    context["policy_choices"] = await policy_choices(console, request, identity)
    return context


async def policy_choices(
    console: Console, request: Request, identity: Identity
) -> list[dict[str, str]]:
    """Managed policies to offer in an attach form (none when they cannot be listed: the
    ARN can still be typed)."""
    try:
        found = await list_all(console, request, identity, "list_policies", "Policies")
    except AwsCallError:
        return []
    return [
        {"arn": str(item.get("Arn", "")), "name": str(item.get("PolicyName", ""))} for item in found
    ]


def routes(console: Console, kind: Kind, detail: DetailPage) -> list[Route]:
    base = f"{kind.list_url}/{{name}}"

    action = entity_action(console, kind, detail)

    async def entity(request: Request, identity: Identity) -> Response:
        return await detail(request, identity, request.path_params["name"], None, 200)

    async def delete(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        done = f"{kind.list_url}?done={kind.key}-deleted"
        return await act(
            console,
            request,
            identity,
            detail,
            name,
            kind.op("delete_{}"),
            done=done,
            **{kind.param: name},
        )

    async def change_attachment(request: Request, identity: Identity, operation: str) -> Response:
        arn = form_text(await request.form(), "policy_arn", 2048)
        done = "attached" if operation.startswith("attach") else "detached"
        return await action(request, identity, operation, done, PolicyArn=arn)

    async def attach(request: Request, identity: Identity) -> Response:
        return await change_attachment(request, identity, "attach_{}_policy")

    async def detach(request: Request, identity: Identity) -> Response:
        return await change_attachment(request, identity, "detach_{}_policy")

    def editor(
        request: Request,
        identity: Identity,
        name: str,
        policy_name: str,
        text: str,
        *,
        existing: bool,
        error: AwsCallError | None = None,
    ) -> Response:
        return form_page(
            console,
            request,
            identity,
            "iam_inline.html",
            f"Inline policy of {name}",
            error,
            kind=kind,
            name=name,
            entity_url=kind.url(name),
            policy_name=policy_name,
            text=text,
            existing=existing,
            problems=policy_problems(error, text, PolicyKind.IDENTITY),
        )

    async def inline_form(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        policy_name = request.query_params.get("policy", "")[:128]
        if not policy_name:
            return editor(request, identity, name, "", NEW_POLICY, existing=False)
        try:
            result = await iam_call(
                console,
                request,
                identity,
                kind.op("get_{}_policy"),
                PolicyName=policy_name,
                **{kind.param: name},
            )
        except AwsCallError as error:
            return await detail(request, identity, name, error, error.status)
        text = policy_json(result.get("PolicyDocument"))
        return editor(request, identity, name, policy_name, text, existing=True)

    async def inline_save(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        policy_name = form_text(form, "policy_name", 256)
        text = form_text(form, "document", MAX_DOCUMENT, strip=False)
        existing = form_text(form, "existing") == "1"
        return await change(
            console,
            request,
            identity,
            kind.op("put_{}_policy"),
            done=kind.done(name, "inline-saved"),
            failed=lambda error: editor(
                request, identity, name, policy_name, text, existing=existing, error=error
            ),
            PolicyName=policy_name,
            PolicyDocument=text,
            **{kind.param: name},
        )

    async def inline_delete(request: Request, identity: Identity) -> Response:
        policy_name = form_text(await request.form(), "policy_name", 256)
        return await action(
            request, identity, "delete_{}_policy", "inline-deleted", PolicyName=policy_name
        )

    return [
        Route(base, page(console, entity), methods=["GET"]),
        Route(f"{base}/delete", page(console, delete), methods=["POST"]),
        Route(f"{base}/attach", page(console, attach), methods=["POST"]),
        Route(f"{base}/detach", page(console, detach), methods=["POST"]),
        Route(f"{base}/inline", page(console, inline_form), methods=["GET"]),
        Route(f"{base}/inline", page(console, inline_save), methods=["POST"]),
        Route(f"{base}/inline/delete", page(console, inline_delete), methods=["POST"]),
    ]
