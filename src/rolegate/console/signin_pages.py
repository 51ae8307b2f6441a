"""Sign-in (IAM user or root, then the MFA code when the user has a device) and sign-out.

Wrong input of any kind gets one generic message; failures are rate-limited per user name and
per client address (`iam.signin`). Between the password and the MFA step the browser holds a
sealed, five-minute `rolegate-signin` cookie naming who passed the password.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..iam.signin import (
    SignInFailed,
    SignInThrottled,
    VerifiedPassword,
    end_console_session,
    start_console_session,
    verify_mfa_step,
    verify_password_step,
)
from .web import (
    SESSION_COOKIE,
    Console,
    Identity,
    clear_cookie,
    client_ip,
    new_csrf,
    page,
    safe_destination,
    set_cookie,
)

__all__ = ["finish_sign_in", "routes"]

PENDING_COOKIE: Final = "rolegate-signin"
CSRF_COOKIE: Final = "rolegate-csrf"
PENDING_SECONDS: Final = 300


def _form_text(form: Any, name: str, limit: int = 256) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _pre_session_csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or new_csrf()


def _csrf_ok(request: Request, form: Any) -> bool:
    import hmac

    cookie = request.cookies.get(CSRF_COOKIE)
    sent = form.get("csrf")
    return bool(cookie) and isinstance(sent, str) and hmac.compare_digest(cookie, sent)


def routes(console: Console) -> list[Route]:
    def signin_form(
        request: Request, *, error: str | None = None, status: int = 200, **values: str
    ) -> Response:
        csrf = _pre_session_csrf(request)
        response = console.render(
            request,
            "signin.html",
            status=status,
            title="Sign in",
            csrf=csrf,
            error=error,
            redirect_uri=values.get("redirect_uri", ""),
            account=values.get("account", request.query_params.get("account", "")),
            username=values.get("username", ""),
            kind=values.get("kind", "iam"),
        )
        set_cookie(response, request, CSRF_COOKIE, csrf)
        return response

    async def signin(request: Request) -> Response:
        if request.method == "GET":
            if await console.identity(request) is not None:
                target = safe_destination(request.query_params.get("redirect_uri"))
                return RedirectResponse(target, 303)
            return signin_form(
                request, redirect_uri=safe_destination(request.query_params.get("redirect_uri"))
            )
        form = await request.form()
        values = {
            "account": _form_text(form, "account", 63),
            "username": _form_text(form, "username", 64),
            "kind": "root" if form.get("kind") == "root" else "iam",
            "redirect_uri": safe_destination(_form_text(form, "redirect_uri", 2048)),
        }
        if not _csrf_ok(request, form):
            return signin_form(
                request, error="Your sign-in form expired. Please try again.", status=403, **values
            )
        password = _form_text(form, "password", 128)
        ip = client_ip(request)

        def check() -> VerifiedPassword:
            with console.database.write() as uow:
                return verify_password_step(
                    uow,
                    values["account"],
                    values["username"],
                    password,
                    ip,
                    root=values["kind"] == "root",
                )

        try:
            verified = await run_in_threadpool(check)
        except (SignInFailed, SignInThrottled) as error:
            return signin_form(request, error=error.message, status=error.http_status, **values)
        if verified.needs_mfa:
            pending = {**asdict(verified), "at": console.now(), "r": values["redirect_uri"]}
            response = RedirectResponse("/signin/mfa", 303)
            set_cookie(
                response, request, PENDING_COOKIE, console.seal(pending), max_age=PENDING_SECONDS
            )
            return response
        return await finish_sign_in(console, request, verified, None, values["redirect_uri"])

    def pending_sign_in(request: Request) -> tuple[VerifiedPassword, str] | None:
        state = console.open(request.cookies.get(PENDING_COOKIE))
        if state is None or console.now() - float(state.get("at", 0)) > PENDING_SECONDS:
            return None
        redirect = str(state.pop("r", ""))
        state.pop("at", None)
        try:
            return VerifiedPassword(**state), redirect
        except TypeError:
            return None

    async def signin_mfa(request: Request) -> Response:
        pending = pending_sign_in(request)
        if pending is None:
            return RedirectResponse("/signin", 303)
        verified, redirect = pending
        csrf = _pre_session_csrf(request)
        if request.method == "GET":
            response = console.render(request, "signin_mfa.html", title="MFA", csrf=csrf)
            set_cookie(response, request, CSRF_COOKIE, csrf)
            return response
        form = await request.form()
        code = _form_text(form, "code", 16)
        ip = client_ip(request)

        def check() -> float:
            with console.database.write() as uow:
                return verify_mfa_step(uow, verified, code, ip, console.now())

        error: str | None = None
        status = 200
        if not _csrf_ok(request, form):
            error, status = "Your sign-in form expired. Please try again.", 403
        else:
            try:
                mfa_at = await run_in_threadpool(check)
            except (SignInFailed, SignInThrottled) as failure:
                error, status = failure.message, failure.http_status
            else:
                return await finish_sign_in(console, request, verified, mfa_at, redirect)
        response = console.render(
            request, "signin_mfa.html", title="MFA", csrf=csrf, error=error, status=status
        )
        set_cookie(response, request, CSRF_COOKIE, csrf)
        return response

    async def signout(request: Request, identity: Identity) -> Response:
        def end() -> None:
            with console.database.write() as uow:
                end_console_session(uow, identity.session_id)

        await run_in_threadpool(end)
        response = RedirectResponse("/signin", 303)
        clear_cookie(response, request, SESSION_COOKIE)
        return response

    return [
        Route("/signin", signin, methods=["GET", "POST"]),
        Route("/signin/mfa", signin_mfa, methods=["GET", "POST"]),
        Route("/console/signout", page(console, signout), methods=["POST"]),
    ]


async def finish_sign_in(
    console: Console,
    request: Request,
    verified: VerifiedPassword,
    mfa_at: float | None,
    redirect: str,
) -> Response:
    """Start the console session and set its cookie (the last step of every sign-in)."""

    def start() -> Identity:
        with console.database.write() as uow:
            session = start_console_session(uow, console.keys, verified, mfa_at=mfa_at)
        return Identity(
            session_id=session.session_id,
            base=session.claims,
            base_token=session.token,
            csrf=new_csrf(),
            base_account_label=verified.account_id,
        )

    identity = await run_in_threadpool(start)
    response = RedirectResponse(safe_destination(redirect), 303)
    console.set_session(response, request, identity)
    clear_cookie(response, request, PENDING_COOKIE)
    return response
