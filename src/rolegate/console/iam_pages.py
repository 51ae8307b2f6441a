"""The console's IAM pages: the dashboard here, and the routes of every IAM page.

Users (`iam_users`), groups (`iam_groups`), roles (`iam_roles`), managed policies
(`iam_policies`), and the permission policies users, groups and roles share (`iam_attach`).
Every action is an IAM call through the API as the signed-in identity (`console.call`):
the real handlers and the policy engine decide, and a refusal shows IAM's message with the
engine's explanation under the error's HTTP status.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import iam_groups, iam_policies, iam_roles, iam_users
from .iam_support import attempt, error_dict
from .web import Console, Identity, page

__all__ = ["SUMMARY_ROWS", "routes"]

SUMMARY_ROWS: Final = (
    ("Users", "Users", "/console/iam/users"),
    ("User groups", "Groups", "/console/iam/groups"),
    ("Roles", "Roles", "/console/iam/roles"),
    ("Customer managed policies", "Policies", "/console/iam/policies"),
    ("MFA devices", "MFADevices", "/console/iam/mfa"),
    ("MFA devices in use", "MFADevicesInUse", ""),
)


def routes(console: Console) -> list[Route]:
    async def dashboard(request: Request, identity: Identity) -> Response:
        summary, summary_error = await attempt(console, request, identity, "get_account_summary")
        aliases, aliases_error = await attempt(console, request, identity, "list_account_aliases")
        counts: dict[str, Any] = (summary or {}).get("SummaryMap", {})
        return console.render(
            request,
            "iam_dashboard.html",
            identity,
            status=summary_error.status if summary_error else 200,
            title="IAM",
            account_id=identity.account_id,
            rows=[
                {"label": label, "count": counts.get(key, 0), "url": url}
                for label, key, url in SUMMARY_ROWS
            ],
            root_mfa=counts.get("AccountMFAEnabled"),
            summary_error=error_dict(summary_error),
            aliases=(aliases or {}).get("AccountAliases", []),
            aliases_error=error_dict(aliases_error),
        )

    return [
        Route("/console/iam", page(console, dashboard), methods=["GET"]),
        *iam_users.routes(console),
        *iam_groups.routes(console),
        *iam_roles.routes(console),
        *iam_policies.routes(console),
    ]
