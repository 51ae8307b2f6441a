"""Console Home: who am I (GetCallerIdentity through the API), the account, session expiry."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .aws import AwsCallError
from .web import Console, Identity, error_context, page

__all__ = ["routes"]


def routes(console: Console) -> list[Route]:
    async def home(request: Request, identity: Identity) -> Response:
        try:
            caller = await console.call(request, identity, "sts", "get_caller_identity")
        except AwsCallError as error:
            return console.render(
                request,
                "error.html",
                identity,
                status=error.status,
                title="Console Home",
                message="rolegate could not tell who you are.",
                error=error_context(error),
            )
        label = identity.role_account_label if identity.in_role else identity.base_account_label
        return console.render(
            request,
            "home.html",
            identity,
            title="Console Home",
            caller=caller,
            account_label=label,
        )

    async def root(request: Request) -> Response:
        return RedirectResponse("/console", 303)

    return [
        Route("/console", page(console, home), methods=["GET"]),
        Route("/console/", root, methods=["GET"]),
        Route("/", root, methods=["GET"]),
    ]
