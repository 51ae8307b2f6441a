"""What every console page shares: the signed-in identity (from the session cookie), CSRF
tokens, cookies, rendering, and how AWS errors are shown.

The session cookie holds sealed state (`seal_console_state`): the console session's id, the
user's own session token (`base`), and while a role is active that role session's token with
its display name and colour. Every request reopens it, checks that the session row is still
active (sign-out and expiry end it on every node), and uses the active token's credentials
for the page's AWS calls.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..iam.signin import account_label, console_session_active
from ..server.gateway import Gateway
from ..sts.tokens import SessionClaims, TokenError, open_console_state, open_token
from ..sts.tokens import seal_console_state as seal_state
from .aws import AwsCallError, ConsoleAws, Credentials

__all__ = [
    "COLORS",
    "HISTORY_COOKIE",
    "HISTORY_SIZE",
    "SESSION_COOKIE",
    "Console",
    "Identity",
    "Page",
    "check_csrf",
    "console_path",
    "error_context",
    "error_dict",
    "format_time",
    "page",
    "role_history",
    "safe_destination",
]

SESSION_COOKIE: Final = "rolegate-console"
HISTORY_COOKIE: Final = "rolegate-role-history"
HISTORY_SIZE: Final = 5
# AWS's Switch Role palette (hex without '#'): red, orange, yellow, green, blue.
COLORS: Final = {
    "F2B0A9": "Red",
    "FBBF93": "Orange",
    "FAD791": "Yellow",
    "B7CA9D": "Green",
    "99BCE3": "Blue",
}
_PREFIXES: Final = ("/console", "/signin", "/switchrole", "/federation")
# Pages that need a signed-in user (not a federated role session).
_USER_ONLY_PATHS: Final = frozenset({"/switchrole"})


@dataclass(frozen=True)
class Identity:
    """Who the browser is signed in as, and which credentials its pages use now."""

    session_id: str
    base: SessionClaims
    base_token: str
    csrf: str
    base_account_label: str
    role: SessionClaims | None = None
    role_token: str | None = None
    display_name: str | None = None
    color: str | None = None
    role_account_label: str | None = None

    @property
    def active(self) -> SessionClaims:
        return self.role if self.role is not None else self.base

    @property
    def credentials(self) -> Credentials:
        claims = self.active
        token = self.role_token if self.role is not None else self.base_token
        assert token is not None
        return Credentials(claims.access_key_id, claims.secret_access_key, token)

    @property
    def base_credentials(self) -> Credentials:
        """The user's own console credentials (what every Switch Role is authorized with)."""
        claims = self.base
        return Credentials(claims.access_key_id, claims.secret_access_key, self.base_token)

    @property
    def in_role(self) -> bool:
        return self.role is not None

    @property
    def is_root(self) -> bool:
        return self.base.principal_id == self.base.account_id

    @property
    def federated(self) -> bool:
        """Opened by the federation endpoint from role credentials: the base IS a role
        session, with no user behind it to switch roles from or go back to."""
        return self.base.kind == "AssumedRole"

    @property
    def user_name(self) -> str:
        return self.base.principal_name

    @property
    def account_id(self) -> str:
        return self.active.account_id

    @property
    def nav_label(self) -> str:
        """`user @ account` (alias when the account has one), `displayName @ account` in a
        role, `role/session @ account` for a federated session."""
        if self.role is not None:
            return f"{self.display_name} @ {self.role_account_label or self.role.account_id}"
        if self.federated:
            session = f"{self.base.principal_name}/{self.base.session_name}"
            return f"{session} @ {self.base_account_label}"
        return f"{self.user_name} @ {self.base_account_label}"

    @property
    def arn(self) -> str:
        if self.role is not None:
            return (
                f"arn:aws:sts::{self.role.account_id}:assumed-role/"
                f"{self.role.principal_name}/{self.role.session_name}"
            )
        if self.federated:
            return (
                f"arn:aws:sts::{self.base.account_id}:assumed-role/"
                f"{self.base.principal_name}/{self.base.session_name}"
            )
        return self.base.caller_arn

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.active.expires_at, tz=UTC)

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"sid": self.session_id, "base": self.base_token, "csrf": self.csrf}
        if self.role_token is not None:
            state.update(role=self.role_token, display=self.display_name, color=self.color)
        return state


class Console:
    """The console's shared parts: the gateway (store, key ring, clock), the in-process AWS
    client and the templates."""

    def __init__(self, gateway: Gateway, aws: ConsoleAws) -> None:
        self.gateway = gateway
        self.database = gateway.database
        self.keys = gateway.keys
        self.aws = aws
        self.templates = Environment(
            loader=PackageLoader("rolegate.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["colors"] = COLORS
        self.templates.filters["urlquote"] = lambda value: quote(str(value), safe="")
        self.templates.filters["split_encoded"] = split_encoded_message

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        return self.gateway.clock.now().timestamp()

    # ------------------------------------------------------------------ identity
    async def identity(self, request: Request) -> Identity | None:
        """The signed-in identity of this request, or None (no cookie, ended, expired)."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            state = open_console_state(raw, self.keys)
            base = open_token(str(state["base"]), self.keys)
            role_token = state.get("role")
            role = open_token(str(role_token), self.keys) if role_token else None
            session_id, csrf = str(state["sid"]), str(state["csrf"])
        except (TokenError, KeyError, TypeError):
            return None
        now = self.now()
        if base.expires_at <= now:
            return None

        def load() -> tuple[bool, str, str | None]:
            with self.database.read() as uow:
                active = console_session_active(uow, session_id)
                base_label = account_label(uow, base.account_id)
                role_label = account_label(uow, role.account_id) if role is not None else None
                return active, base_label, role_label

        active, base_label, role_label = await run_in_threadpool(load)
        if not active:
            return None
        identity = Identity(
            session_id=session_id,
            base=base,
            base_token=str(state["base"]),
            csrf=csrf,
            base_account_label=base_label,
        )
        if role is not None and role.expires_at > now:
            identity = replace(
                identity,
                role=role,
                role_token=str(role_token),
                display_name=str(state.get("display") or role.principal_name),
                color=_color(state.get("color")),
                role_account_label=role_label,
            )
        return identity

    def set_session(self, response: Response, request: Request, identity: Identity) -> None:
        set_cookie(
            response,
            request,
            SESSION_COOKIE,
            seal_state(identity.state(), self.keys),
            max_age=int(identity.base.expires_at - self.now()),
        )

    def seal(self, state: Mapping[str, Any]) -> str:
        return seal_state(state, self.keys)

    def open(self, raw: str | None) -> dict[str, Any] | None:
        if not raw:
            return None
        try:
            return open_console_state(raw, self.keys)
        except TokenError:
            return None

    # ------------------------------------------------------------------ rendering
    def render(
        self,
        request: Request,
        template: str,
        identity: Identity | None = None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        if (
            identity is not None
            and "role_history" not in context
            and not (identity.is_root or identity.federated)
        ):
            context["role_history"] = role_history(self, request, identity)
        body = self.templates.get_template(template).render(
            request=request, identity=identity, path=request.url.path, **context
        )
        return HTMLResponse(body, status)

    async def record_sign_in_event(
        self,
        request: Request,
        event_name: str,
        user_identity: Mapping[str, Any],
        recipient: str,
        *,
        success: bool = True,
        additional: Mapping[str, Any] | None = None,
    ) -> None:
        """A `signin.amazonaws.com` audit event (ConsoleLogin, SwitchRole, ExitRole)."""
        await run_in_threadpool(
            lambda: self.gateway.audit.record_console_event(
                event_name=event_name,
                identity=user_identity,
                event_time=self.gateway.clock.now(),
                recipient=recipient,
                source_ip=client_ip(request),
                user_agent=request.headers.get("user-agent"),
                success=success,
                additional=additional,
            )
        )

    async def call(
        self, request: Request, identity: Identity, service: str, operation: str, **params: Any
    ) -> dict[str, Any]:
        """An AWS call as the page's identity (AwsCallError on an error answer)."""
        return await self.aws.call(
            identity.credentials, client_ip(request), service, operation, **params
        )


def role_history(console: Console, request: Request, identity: Identity) -> list[dict[str, str]]:
    """The signed-in user's recent roles (another user's history in this browser is not
    theirs)."""
    state = console.open(request.cookies.get(HISTORY_COOKIE))
    if state is None or state.get("bn") != identity.user_name:
        return []
    if state.get("ba") != identity.base.account_id:
        return []
    entries = state.get("rl")
    if not isinstance(entries, list):
        return []
    return [
        {key: str(entry.get(key, "")) for key in ("a", "r", "d", "c")}
        for entry in entries[:HISTORY_SIZE]
        if isinstance(entry, dict)
    ]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "127.0.0.1"


def set_cookie(
    response: Response, request: Request, name: str, value: str, *, max_age: int | None = None
) -> None:
    """HttpOnly, SameSite=Lax, Secure over TLS, for the whole origin."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )


def _color(value: object) -> str | None:
    text = str(value or "").upper()
    return text if text in COLORS else None


def check_csrf(identity_csrf: str, form: Mapping[str, Any]) -> bool:
    sent = form.get("csrf")
    return isinstance(sent, str) and hmac.compare_digest(sent, identity_csrf)


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def console_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _PREFIXES)


def safe_destination(target: str | None, default: str = "/console") -> str:
    """`target` when it is a path of the console itself, else `default` (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 0x20 for ch in target):
        return default
    return target if console_path(parts.path) else default


Page = Callable[[Request, Identity], Awaitable[Response]]


def page(console: Console, handler: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page that needs a signed-in identity: without one, the sign-in page (coming back
    here afterwards); a state-changing request also needs the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        identity = await console.identity(request)
        if identity is None:
            # Back to this page after signing in (a form's target is no page: the home).
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                target = "/console"
            response: Response = RedirectResponse(
                f"/signin?redirect_uri={quote(target, safe='')}", 303
            )
            # Only a cookie this request carried is cleared: a cross-site form post (sent
            # without the SameSite=Lax cookie) must not sign the user out.
            if request.cookies.get(SESSION_COOKIE):
                clear_cookie(response, request, SESSION_COOKIE)
            return response
        if identity.federated and request.url.path in _USER_ONLY_PATHS:
            return console.render(
                request,
                "error.html",
                identity,
                status=403,
                title="Switch Role",
                message="This console session was opened from role credentials (federation): "
                "switching roles needs an IAM user's sign-in.",
            )
        if request.method == "POST":
            form = await request.form()
            if not check_csrf(identity.csrf, form):
                return console.render(
                    request,
                    "error.html",
                    identity,
                    status=403,
                    title="Request refused",
                    message="The form has expired or did not come from this console. "
                    "Reload the page and try again.",
                )
        return await handler(request, identity)

    return endpoint


_ENCODED_MARK: Final = "Encoded authorization failure message:"


def split_encoded_message(message: str) -> tuple[str, str | None]:
    """AWS's message without the trailing encoded authorization failure message, and that
    blob (the page shows it folded: the explanation under it says the same in words)."""
    head, mark, blob = str(message).partition(_ENCODED_MARK)
    return (head.rstrip(), blob.strip() or None) if mark else (str(message), None)


def format_time(value: Any) -> str:
    """A time as the console shows it (UTC)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value or "")


def error_dict(error: AwsCallError | None) -> dict[str, Any] | None:
    """What `_macros.html` `aws_error` shows, or None."""
    return error_context(error) if error is not None else None


def error_context(error: AwsCallError) -> dict[str, Any]:
    """What `_macros.html` `aws_error` shows: code, message, and the engine's reasons."""
    return {"code": error.code, "message": error.message, "explanation": error.explanation}
