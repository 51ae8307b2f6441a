"""Sign-in (IAM user or root, then the MFA code when the user has a device, then a new
password when one is due) and sign-out.

Wrong input of any kind gets one generic message; failures are rate-limited per user name and
per client address (`iam.signin`). Between the steps the browser holds a sealed, five-minute
`rolegate-signin` cookie naming who passed the password (and when the MFA code, if any, was
accepted). When the login profile requires a reset, or the password is older than the
account policy's MaxPasswordAge, that cookie also carries the password just typed: the new
password goes through the ChangePassword API operation, called in process with five-minute
credentials of the user that open no console, so iam:ChangePassword and
AllowUsersToChangePassword decide exactly as for an API call. The session starts after it.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..audit.record import identity_for_session
from ..iam.accounts import find_account
from ..iam.passwords import effective_policy, requirements
from ..iam.signin import (
    CHANGE_EXPIRED,
    PasswordExpired,
    SignInFailed,
    SignInThrottled,
    VerifiedPassword,
    end_console_session,
    password_change_credentials,
    sign_in_mfa,
    sign_in_password,
    start_console_session,
)
from .aws import AwsCallError, Credentials
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
_PENDING_KIND: Final = "signin"
_FORM_EXPIRED: Final = "Your sign-in form expired. Please try again."
_REASONS: Final = {
    CHANGE_EXPIRED: "Your password has expired. Choose a new password to continue.",
}
_RESET_REASON: Final = (
    "Your administrator requires you to choose a new password before you continue."
)
# The console's words when ChangePassword refuses (AWS's console says the same).
_CHANGE_REFUSED: Final = (
    "Either you are not authorized to perform iam:ChangePassword or the new password does not "
    "comply with the account password policy set by your administrator."
)
_SIGNIN_ERRORS: Final = (SignInFailed, SignInThrottled, PasswordExpired)


@dataclass(frozen=True)
class _Pending:
    """A sign-in between its steps."""

    verified: VerifiedPassword
    redirect: str
    mfa_at: float | None = None
    old_password: str | None = None  # only while a new password is due


def _form_text(form: Any, name: str, limit: int = 256) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _pre_session_csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or new_csrf()


def _csrf_ok(request: Request, form: Any) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = form.get("csrf")
    if not cookie or not isinstance(sent, str):
        return False
    return hmac.compare_digest(cookie, sent)


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

    def hold(response: Response, request: Request, pending: _Pending) -> Response:
        state = {
            "k": _PENDING_KIND,
            "v": asdict(pending.verified),
            "at": console.now(),
            "r": pending.redirect,
            "mfa": pending.mfa_at,
            "op": pending.old_password,
        }
        set_cookie(response, request, PENDING_COOKIE, console.seal(state), max_age=PENDING_SECONDS)
        return response

    def pending_sign_in(request: Request) -> _Pending | None:
        state = console.open(request.cookies.get(PENDING_COOKIE))
        if state is None or state.get("k") != _PENDING_KIND:
            return None
        try:
            if console.now() - float(state["at"]) > PENDING_SECONDS:
                return None
            mfa_at = state.get("mfa")
            old_password = state.get("op")
            return _Pending(
                VerifiedPassword(**state["v"]),
                str(state.get("r") or ""),
                float(mfa_at) if mfa_at is not None else None,
                str(old_password) if old_password is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    async def next_step(request: Request, pending: _Pending) -> Response:
        """After a step: the MFA code, a new password, or the session."""
        verified = pending.verified
        if verified.needs_mfa and pending.mfa_at is None:
            return hold(RedirectResponse("/signin/mfa", 303), request, pending)
        if verified.change_reason is not None:
            return hold(RedirectResponse("/signin/password", 303), request, pending)
        return await finish_sign_in(console, request, verified, pending.mfa_at, pending.redirect)

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
            return signin_form(request, error=_FORM_EXPIRED, status=403, **values)
        password = _form_text(form, "password", 128)
        try:
            verified = await run_in_threadpool(
                sign_in_password,
                console.database,
                values["account"],
                values["username"],
                password,
                client_ip(request),
                root=values["kind"] == "root",
            )
        except _SIGNIN_ERRORS as error:
            if isinstance(error, SignInFailed):
                await record_failed_sign_in(console, request, values["account"], values["username"])
            return signin_form(request, error=error.message, status=error.http_status, **values)
        old_password = password if verified.change_reason is not None else None
        return await next_step(
            request, _Pending(verified, values["redirect_uri"], old_password=old_password)
        )

    async def signin_mfa(request: Request) -> Response:
        pending = pending_sign_in(request)
        if pending is None or not pending.verified.needs_mfa or pending.mfa_at is not None:
            return RedirectResponse("/signin", 303)
        csrf = _pre_session_csrf(request)
        if request.method == "GET":
            response = console.render(request, "signin_mfa.html", title="MFA", csrf=csrf)
            set_cookie(response, request, CSRF_COOKIE, csrf)
            return response
        form = await request.form()
        error: str | None = None
        status = 200
        if not _csrf_ok(request, form):
            error, status = _FORM_EXPIRED, 403
        else:
            try:
                mfa_at = await run_in_threadpool(
                    sign_in_mfa,
                    console.database,
                    pending.verified,
                    _form_text(form, "code", 16),
                    client_ip(request),
                    console.now(),
                )
            except _SIGNIN_ERRORS as failure:
                error, status = failure.message, failure.http_status
                if isinstance(failure, SignInFailed):
                    verified = pending.verified
                    await record_failed_sign_in(
                        console, request, verified.account_id, verified.user_name, mfa_used=True
                    )
            else:
                return await next_step(request, replace(pending, mfa_at=mfa_at))
        response = console.render(
            request, "signin_mfa.html", title="MFA", csrf=csrf, error=error, status=status
        )
        set_cookie(response, request, CSRF_COOKIE, csrf)
        return response

    async def signin_password(request: Request) -> Response:
        pending = pending_sign_in(request)
        if pending is None or pending.verified.change_reason is None or not pending.old_password:
            return RedirectResponse("/signin", 303)
        verified = pending.verified
        if verified.needs_mfa and pending.mfa_at is None:
            return RedirectResponse("/signin/mfa", 303)

        def needs() -> list[str]:
            with console.database.read() as uow:
                return requirements(effective_policy(uow, verified.account_id))

        csrf = _pre_session_csrf(request)

        async def form_page(status: int = 200, **context: Any) -> Response:
            response = console.render(
                request,
                "signin_password.html",
                status=status,
                title="Choose a new password",
                csrf=csrf,
                reason=_REASONS.get(verified.change_reason or "", _RESET_REASON),
                requirements=await run_in_threadpool(needs),
                **context,
            )
            set_cookie(response, request, CSRF_COOKIE, csrf)
            return response

        if request.method == "GET":
            return await form_page()
        form = await request.form()
        if not _csrf_ok(request, form):
            return await form_page(403, error=_FORM_EXPIRED)
        new_password = _form_text(form, "new_password", 129)
        if not new_password or new_password != _form_text(form, "confirm_password", 129):
            return await form_page(400, error="The new passwords do not match.")
        claims, token = password_change_credentials(
            console.keys, verified, mfa_at=pending.mfa_at, now=console.now()
        )
        try:
            await console.aws.call(
                Credentials(claims.access_key_id, claims.secret_access_key, token),
                client_ip(request),
                "iam",
                "change_password",
                OldPassword=pending.old_password,
                NewPassword=new_password,
            )
        except AwsCallError as error:
            message = error.message if error.code != "AccessDenied" else _CHANGE_REFUSED
            return await form_page(
                error.status,
                error=message,
                error_code=error.code,
                explanation=error.explanation,
            )
        return await finish_sign_in(
            console,
            request,
            replace(verified, change_reason=None),
            pending.mfa_at,
            pending.redirect,
        )

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
        Route("/signin/password", signin_password, methods=["GET", "POST"]),
        Route("/console/signout", page(console, signout), methods=["POST"]),
    ]


async def record_failed_sign_in(
    console: Console, request: Request, account: str, user_name: str, *, mfa_used: bool = False
) -> None:
    """ConsoleLogin `Failure` in the account typed (when it exists): CloudTrail's shape, no
    arn, an empty accessKeyId, no errorCode."""

    def account_id() -> str | None:
        with console.database.read() as uow:
            row = find_account(uow, account.strip()) if account.strip() else None
            return str(row.id) if row is not None else None

    found = await run_in_threadpool(account_id)
    if found is None:
        return
    await console.record_sign_in_event(
        request,
        "ConsoleLogin",
        {
            "type": "IAMUser",
            "principalId": "",
            "accountId": found,
            "accessKeyId": "",
            "userName": user_name or "HIDDEN_DUE_TO_SECURITY_REASONS",
        },
        found,
        success=False,
        additional={"MobileVersion": "No", "MFAUsed": "Yes" if mfa_used else "No"},
    )


async def finish_sign_in(
    console: Console,
    request: Request,
    verified: VerifiedPassword,
    mfa_at: float | None,
    redirect: str,
) -> Response:
    """Start the console session and set its cookie (the last step of every sign-in)."""
    assert verified.change_reason is None, "a new password is due before the session"

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
    destination = safe_destination(redirect)
    await console.record_sign_in_event(
        request,
        "ConsoleLogin",
        identity_for_session(identity.base),
        verified.account_id,
        additional={
            "LoginTo": str(request.base_url).rstrip("/") + destination,
            "MobileVersion": "No",
            "MFAUsed": "Yes" if mfa_at is not None else "No",
        },
    )
    response = RedirectResponse(destination, 303)
    console.set_session(response, request, identity)
    clear_cookie(response, request, PENDING_COOKIE)
    return response
