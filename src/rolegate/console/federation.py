"""The federation endpoint (AWS's `signin.aws.amazon.com/federation`): temporary role
credentials become a console session, the way scripts build console links from the CLI.

1. `GET /federation?Action=getSigninToken&Session=<JSON>[&SessionDuration=900..43200]`, the
   JSON being `{"sessionId", "sessionKey", "sessionToken"}` (an AssumeRole answer's
   credentials), answers `{"SigninToken": "..."}`: sealed console state naming the role
   session and the session length, valid 15 minutes. Only role session credentials work
   (long-term keys and GetSessionToken credentials are refused with AWS's message);
   SessionDuration only with credentials of an AssumeRole that was not role chaining.
2. `GET /federation?Action=login&Issuer=...&Destination=...&SigninToken=...` opens a console
   session AS that role session (new role session credentials with the same claims, lasting
   SessionDuration, else as long as the given credentials still do) and redirects to
   Destination when it is a page of this console, else to /console. Such a session has no
   user behind it: Switch Role is refused (`web.Identity.federated`).

Errors are 400s: JSON for getSigninToken (scripts read it), a page for login (browsers).
"""

from __future__ import annotations

import hmac
import json
from typing import Final
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import ServiceError
from ..iam.signin import account_label, start_federated_session
from ..ids import TEMPORARY_KEY_PREFIX
from ..sts.tokens import SessionClaims, TokenError, open_token
from .web import Console, Identity, new_csrf, safe_destination

__all__ = [
    "MAX_SESSION_DURATION",
    "MIN_SESSION_DURATION",
    "SIGNIN_TOKEN_SECONDS",
    "routes",
]

SIGNIN_TOKEN_SECONDS: Final = 15 * 60
MIN_SESSION_DURATION: Final = 900
MAX_SESSION_DURATION: Final = 43200
_TOKEN_KIND: Final = "federation"
ONLY_ROLE_CREDENTIALS: Final = (
    "Only federation tokens or assume role tokens may be used for federated login. Please "
    "contact your administrator."
)
_SYNTAX: Final = "The request sent by the client was syntactically incorrect."
_INVALID_TOKEN: Final = "The security token included in the request is invalid."
_EXPIRED_TOKEN: Final = "The security token included in the request is expired."
_BAD_LINK: Final = (
    "This sign-in link is invalid or has expired: links of the federation endpoint work for "
    "15 minutes. Ask for a new one."
)


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _credentials(raw: str | None) -> tuple[str, str, str]:
    """(sessionId, sessionKey, sessionToken) of the Session parameter."""
    if not raw:
        raise _Refused(f"{_SYNTAX} The Session parameter is required.")
    try:
        session = json.loads(raw)
    except ValueError as error:
        raise _Refused(f"{_SYNTAX} The Session parameter is not JSON.") from error
    if not isinstance(session, dict):
        raise _Refused(f"{_SYNTAX} The Session parameter is not a JSON object.")
    values = [session.get(name) for name in ("sessionId", "sessionKey", "sessionToken")]
    key_id, secret, token = (value if isinstance(value, str) else "" for value in values)
    if not key_id or not secret:
        raise _Refused(f"{_SYNTAX} The Session needs sessionId and sessionKey.")
    if not token or not key_id.startswith(TEMPORARY_KEY_PREFIX):
        raise _Refused(ONLY_ROLE_CREDENTIALS)  # long-term keys
    return key_id, secret, token


def _role_session(console: Console, raw: str | None) -> tuple[SessionClaims, str]:
    key_id, secret, token = _credentials(raw)
    try:
        claims = open_token(token, console.keys)
    except TokenError as error:
        raise _Refused(_INVALID_TOKEN) from error
    if not (
        hmac.compare_digest(claims.access_key_id, key_id)
        and hmac.compare_digest(claims.secret_access_key, secret)
    ):
        raise _Refused(_INVALID_TOKEN)
    if claims.expires_at <= console.now():
        raise _Refused(_EXPIRED_TOKEN)
    if claims.kind != "AssumedRole":
        raise _Refused(ONLY_ROLE_CREDENTIALS)  # GetSessionToken (or console) credentials
    return claims, token


def _session_duration(raw: str | None, claims: SessionClaims) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not MIN_SESSION_DURATION <= int(raw) <= MAX_SESSION_DURATION:
        raise _Refused(
            f"{_SYNTAX} SessionDuration must be a number of seconds from "
            f"{MIN_SESSION_DURATION} to {MAX_SESSION_DURATION}."
        )
    if claims.chained:
        raise _Refused(
            "Invalid credentials parameter: SessionDuration needs the credentials of an "
            "AssumeRole call made with an IAM user's long-term keys, not role chaining."
        )
    return int(raw)


def _destination(request: Request, raw: str | None) -> str:
    """A console page of this server: a path, or an absolute URL on this same host."""
    if raw and "://" in raw:
        parts = urlsplit(raw)
        if parts.scheme in ("http", "https") and parts.netloc == request.url.netloc:
            raw = (parts.path or "/console") + (f"?{parts.query}" if parts.query else "")
        else:
            return "/console"
    return safe_destination(raw)


def routes(console: Console) -> list[Route]:
    def get_signin_token(request: Request) -> Response:
        params = request.query_params
        try:
            claims, token = _role_session(console, params.get("Session"))
            duration = _session_duration(params.get("SessionDuration"), claims)
        except _Refused as refused:
            return JSONResponse({"Error": {"Message": refused.message}}, status_code=400)
        state = {"k": _TOKEN_KIND, "t": token, "sd": duration, "at": console.now()}
        return JSONResponse({"SigninToken": console.seal(state)})

    def bad_request(request: Request, message: str) -> Response:
        return console.render(
            request, "error.html", status=400, title="Federated sign-in", message=message
        )

    async def login(request: Request) -> Response:
        state = console.open(request.query_params.get("SigninToken"))
        try:
            if state is None or state.get("k") != _TOKEN_KIND:
                raise _Refused(_BAD_LINK)
            if console.now() - float(state["at"]) > SIGNIN_TOKEN_SECONDS:
                raise _Refused(_BAD_LINK)
            claims = open_token(str(state["t"]), console.keys)
            requested = state.get("sd")
            duration = int(requested) if requested else int(claims.expires_at - console.now())
        except (_Refused, TokenError, KeyError, TypeError, ValueError):
            return bad_request(request, _BAD_LINK)
        if duration <= 0:
            return bad_request(
                request, "The role credentials of this link have expired. Ask for a new link."
            )

        def start() -> Identity:
            with console.database.write() as uow:
                session = start_federated_session(uow, console.keys, claims, duration=duration)
                label = account_label(uow, claims.account_id)
            return Identity(
                session_id=session.session_id,
                base=session.claims,
                base_token=session.token,
                csrf=new_csrf(),
                base_account_label=label,
            )

        try:
            identity = await run_in_threadpool(start)
        except ServiceError as error:
            return bad_request(request, error.message)
        response = RedirectResponse(
            _destination(request, request.query_params.get("Destination")), 303
        )
        console.set_session(response, request, identity)
        return response

    async def federation(request: Request) -> Response:
        action = request.query_params.get("Action", "")
        if action == "getSigninToken":
            return get_signin_token(request)
        if action == "login":
            return await login(request)
        message = "Unknown Action: use Action=getSigninToken, then Action=login."
        return JSONResponse({"Error": {"Message": message}}, status_code=400)

    return [Route("/federation", federation, methods=["GET"])]
