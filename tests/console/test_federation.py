"""The federation endpoint the way scripts use it: AssumeRole with boto3, then
getSigninToken and the login link with httpx; what it refuses, always with a 400."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import boto3
import httpx
import pytest

from rolegate.iam.accounts import create_account

from .conftest import ConsoleClient, ConsoleServer

ONLY_ROLES = (
    "Only federation tokens or assume role tokens may be used for federated login. Please "
    "contact your administrator."
)
_ALIASES = itertools.count(1)


def _client(console: ConsoleServer, service: str, key: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=key.get("AccessKeyId"),
        aws_secret_access_key=key.get("SecretAccessKey"),
        aws_session_token=key.get("SessionToken"),
    )


def _assume_update_app(console: ConsoleServer, **extra: Any) -> dict[str, Any]:
    """UpdateApp credentials, assumed with alice's long-term keys (as from the CLI)."""
    sts = _client(console, "sts", console.world["Users"]["alice"])
    credentials: dict[str, Any] = sts.assume_role(
        RoleArn=console.world["Roles"]["UpdateApp"], RoleSessionName="alice-cli", **extra
    )["Credentials"]
    return credentials


def _session(credentials: dict[str, Any]) -> str:
    return json.dumps(
        {
            "sessionId": credentials.get("AccessKeyId"),
            "sessionKey": credentials.get("SecretAccessKey"),
            "sessionToken": credentials.get("SessionToken"),
        }
    )


def _get_token(http: httpx.Client, credentials: dict[str, Any], **extra: str) -> httpx.Response:
    return http.get(
        "/federation",
        params={"Action": "getSigninToken", "Session": _session(credentials), **extra},
    )


def _login_url(token: str, destination: str = "/console") -> str:
    return (
        f"/federation?Action=login&Issuer={quote('https://portal.example.com/', safe='')}"
        f"&Destination={quote(destination, safe='')}&SigninToken={quote(token, safe='')}"
    )


def _nav(html: str) -> str:
    found = re.search(r'data-testid="nav-identity"[^>]*>([^<]*)<', html)
    assert found, "no navigation identity on the page"
    return found.group(1)


def _expires(html: str) -> datetime:
    found = re.search(r"<dt>Session expires</dt><dd>([^<]*) UTC</dd>", html)
    assert found
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


@pytest.fixture
def http(console: ConsoleServer) -> Any:
    with httpx.Client(base_url=console.url, timeout=30) as client:
        yield client


def test_role_credentials_become_a_console_session(
    console: ConsoleServer, http: httpx.Client, browser_client: ConsoleClient
) -> None:
    credentials = _assume_update_app(console)
    answer = _get_token(http, credentials)
    assert answer.status_code == 200
    token = answer.json()["SigninToken"]
    assert set(answer.json()) == {"SigninToken"}

    home = browser_client.get(_login_url(token))
    assert home.url.path == "/console"
    assert _nav(home.text) == "UpdateApp/alice-cli @ production"
    # Who am I comes from GetCallerIdentity with the session's credentials: the role session.
    assert "arn:aws:sts::444455556666:assumed-role/UpdateApp/alice-cli" in home.text
    # The session lasts as long as the credentials did (1 h by default).
    expected = credentials["Expiration"].astimezone(UTC)
    assert abs((_expires(home.text) - expected).total_seconds()) < 30

    # No user behind it: Switch Role is refused, there is no role history.
    refused = browser_client.get("/switchrole")
    assert refused.status_code == 403
    assert "switching roles needs an IAM user" in refused.text
    assert (
        browser_client.post(
            "/switchrole", {"account": "production", "roleName": "UpdateAppMFA"}
        ).status_code
        == 403
    )

    # Sign-out ends it like any console session.
    browser_client.post("/console/signout")
    assert browser_client.get("/console").url.path == "/signin"


def test_session_duration_sets_the_console_session_length(
    console: ConsoleServer, http: httpx.Client, browser_client: ConsoleClient
) -> None:
    credentials = _assume_update_app(console, DurationSeconds=900)
    token = _get_token(http, credentials, SessionDuration="43200").json()["SigninToken"]
    home = browser_client.get(_login_url(token))
    now = console.server.clock.now()
    assert abs((_expires(home.text) - now).total_seconds() - 43200) < 30


def test_destinations_stay_on_the_console(
    console: ConsoleServer, http: httpx.Client, browser_client: ConsoleClient
) -> None:
    credentials = _assume_update_app(console)
    for destination, landed in (
        ("/console/s3", "/console/s3"),
        (f"{console.url}/console/s3?prefix=a", "/console/s3"),
        ("https://evil.example.com/console", "/console"),
        ("//evil.example.com/console", "/console"),
        ("/not-the-console", "/console"),
    ):
        token = _get_token(http, credentials).json()["SigninToken"]
        answer = http.get(_login_url(token, destination))
        assert answer.status_code == 303, destination
        assert answer.headers["location"].split("?")[0] == landed, destination


def test_other_credentials_are_refused(console: ConsoleServer, http: httpx.Client) -> None:
    alice = console.world["Users"]["alice"]
    long_term = {"AccessKeyId": alice["AccessKeyId"], "SecretAccessKey": alice["SecretAccessKey"]}
    refused = _get_token(http, long_term)
    assert refused.status_code == 400
    assert refused.json()["Error"]["Message"] == ONLY_ROLES

    session_token = _client(console, "sts", alice).get_session_token()["Credentials"]
    refused = _get_token(http, session_token)
    assert refused.status_code == 400
    assert refused.json()["Error"]["Message"] == ONLY_ROLES

    role = _assume_update_app(console)
    for forged in (
        {**role, "SecretAccessKey": "x" * 40},
        {**role, "AccessKeyId": "ASIAAAAAAAAAAAAAAAAA"},
        {**role, "SessionToken": role["SessionToken"][:-4] + "AAAA"},
    ):
        refused = _get_token(http, forged)
        assert refused.status_code == 400
        assert "security token included in the request is invalid" in refused.text


def test_malformed_requests_are_400s(console: ConsoleServer, http: httpx.Client) -> None:
    role = _assume_update_app(console)
    for params in (
        {},
        {"Action": "nope"},
        {"Action": "getSigninToken"},
        {"Action": "getSigninToken", "Session": "not json"},
        {"Action": "getSigninToken", "Session": "[1, 2]"},
        {"Action": "getSigninToken", "Session": '{"sessionId": 5}'},
        {"Action": "getSigninToken", "Session": _session(role), "SessionDuration": "899"},
        {"Action": "getSigninToken", "Session": _session(role), "SessionDuration": "43201"},
        {"Action": "getSigninToken", "Session": _session(role), "SessionDuration": "1h"},
    ):
        answer = http.get("/federation", params=params)
        assert answer.status_code == 400, params
        assert answer.json()["Error"]["Message"], params
    for token in ("", "garbage", quote(role["SessionToken"])):
        answer = http.get(f"/federation?Action=login&SigninToken={token}")
        assert answer.status_code == 400
        assert "sign-in link is invalid or has expired" in answer.text


def test_expired_credentials_and_links(console: ConsoleServer, http: httpx.Client) -> None:
    role = _assume_update_app(console, DurationSeconds=900)
    token = _get_token(http, role).json()["SigninToken"]
    console.server.clock.advance(901)
    refused = _get_token(http, role)
    assert refused.status_code == 400
    assert "expired" in refused.json()["Error"]["Message"]
    # The link was made while they were valid, but the session would last no longer.
    assert http.get(_login_url(token)).status_code == 400

    fresh = _assume_update_app(console)
    token = _get_token(http, fresh, SessionDuration="3600").json()["SigninToken"]
    console.server.clock.advance(15 * 60 + 1)
    late = http.get(_login_url(token))
    assert late.status_code == 400
    assert "work for 15 minutes" in late.text


def test_session_duration_needs_unchained_credentials(
    console: ConsoleServer, http: httpx.Client
) -> None:
    """A role session that assumed a role (role chaining) may log in, without a
    SessionDuration."""
    with console.server.database.write() as uow:
        created = create_account(uow, f"federation-test-{next(_ALIASES)}")
    root = {"AccessKeyId": created.access_key_id, "SecretAccessKey": created.secret_access_key}
    iam = _client(console, "iam", root)
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{created.account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    assume_any = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
        }
    )
    for role in ("First", "Second"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=role, PolicyName="assume", PolicyDocument=assume_any)
    iam.create_user(UserName="chainer")
    iam.put_user_policy(UserName="chainer", PolicyName="assume", PolicyDocument=assume_any)
    key = iam.create_access_key(UserName="chainer")["AccessKey"]
    first = _client(console, "sts", key).assume_role(
        RoleArn=f"arn:aws:iam::{created.account_id}:role/First", RoleSessionName="one"
    )["Credentials"]
    second = _client(console, "sts", first).assume_role(
        RoleArn=f"arn:aws:iam::{created.account_id}:role/Second", RoleSessionName="two"
    )["Credentials"]
    refused = _get_token(http, second, SessionDuration="3600")
    assert refused.status_code == 400
    assert refused.json()["Error"]["Message"].startswith("Invalid credentials parameter")
    assert _get_token(http, second).status_code == 200
    assert _get_token(http, first, SessionDuration="3600").status_code == 200
