"""Console sign-in through its HTTP forms: users with and without MFA, one message for any
wrong input, rate limits per user and per address, password reset and expiry (the change goes
through the ChangePassword API), the root user, sign-out and session expiry.

Tests that fail sign-ins on purpose do it from their own loopback address (127.0.0.x), so that
the per-address limit never blocks the other tests' clients (127.0.0.1).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, update

from rolegate.cli import main
from rolegate.iam.accounts import create_account
from rolegate.iam.signin import SIGNIN_FAILED
from rolegate.store.schema import login_profiles, signin_failures, users

from .conftest import ConsoleClient, ConsoleServer

THROTTLED = "Too many failed sign-in attempts. Wait a few minutes, then try again."
STRONG = "Str0ng!Passw0rd"
_ADDRESSES = itertools.count(10)
_ALIASES = itertools.count(1)


def _nav(html: str) -> str:
    found = re.search(r'data-testid="nav-identity"[^>]*>([^<]*)<', html)
    assert found, "no navigation identity on the page"
    return found.group(1)


def _signin_error(html: str) -> str:
    found = re.search(r'data-testid="signin-error">([^<]*)<', html)
    assert found, "no sign-in error on the page"
    return found.group(1).strip()


def _client_at(console: ConsoleServer, address: str) -> ConsoleClient:
    client = console.client()
    client.http.close()
    client.http = httpx.Client(
        base_url=console.url,
        follow_redirects=True,
        timeout=30,
        transport=httpx.HTTPTransport(local_address=address),
    )
    return client


@pytest.fixture
def elsewhere(console: ConsoleServer) -> Iterator[Callable[[], ConsoleClient]]:
    """Clients each on a loopback address of their own; their failure counts are removed
    afterwards."""
    made: list[tuple[str, ConsoleClient]] = []

    def make() -> ConsoleClient:
        address = f"127.0.0.{next(_ADDRESSES)}"
        client = _client_at(console, address)
        made.append((address, client))
        return client

    yield make
    with console.server.database.write() as uow:
        uow.connection.execute(
            delete(signin_failures).where(
                signin_failures.c.key.in_([f"ip:{address}" for address, _ in made])
            )
        )
    for _, client in made:
        client.close()


class Account:
    """A fresh account on the console server, with its root's IAM client."""

    def __init__(self, console: ConsoleServer) -> None:
        self.console = console
        self.alias = f"signin-test-{next(_ALIASES)}"
        with console.server.database.write() as uow:
            created = create_account(uow, self.alias)
        self.id = created.account_id
        self.iam = boto3.client(
            "iam",
            endpoint_url=console.url,
            region_name="us-east-1",
            aws_access_key_id=created.access_key_id,
            aws_secret_access_key=created.secret_access_key,
        )

    def user(self, name: str, password: str = STRONG, *, reset: bool = False) -> None:
        self.iam.create_user(UserName=name)
        self.iam.create_login_profile(UserName=name, Password=password, PasswordResetRequired=reset)

    def allow(self, user: str, *statements: dict[str, Any]) -> None:
        self.iam.put_user_policy(
            UserName=user,
            PolicyName="inline",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        )

    def age_password(self, user: str, days: int) -> None:
        with self.console.server.database.write() as uow:
            user_id = uow.connection.execute(
                users.select()
                .with_only_columns(users.c.id)
                .where(users.c.account_id == self.id, users.c.name == user)
            ).scalar_one()
            uow.connection.execute(
                update(login_profiles)
                .where(login_profiles.c.user_id == user_id)
                .values(password_changed_at=uow.now - timedelta(days=days))
            )


@pytest.fixture
def account(console: ConsoleServer) -> Account:
    return Account(console)


def _sign_in(
    client: ConsoleClient, account: str, user: str, password: str, kind: str = "iam"
) -> httpx.Response:
    client.get("/signin")
    return client.post(
        "/signin", {"kind": kind, "account": account, "username": user, "password": password}
    )


# -- success -------------------------------------------------------------------------------


def test_alice_signs_in_with_mfa(console: ConsoleServer, browser_client: ConsoleClient) -> None:
    first = _sign_in(browser_client, "development", "alice", console.password("alice"))
    assert first.url.path == "/signin/mfa"
    home = browser_client.post("/signin/mfa", {"code": console.mfa_code()})
    assert home.url.path == "/console"
    assert _nav(home.text) == "alice @ development"
    assert "Used at sign-in" in home.text


def test_bob_signs_in_without_mfa(console: ConsoleServer, browser_client: ConsoleClient) -> None:
    home = _sign_in(browser_client, "111122223333", "bob", console.password("bob"))
    assert home.url.path == "/console"
    assert _nav(home.text) == "bob @ development"
    assert "Not used" in home.text


def test_sign_in_goes_back_to_the_page_asked_for(
    console: ConsoleServer, browser_client: ConsoleClient
) -> None:
    asked = browser_client.get("/switchrole?account=production&roleName=UpdateApp")
    assert asked.url.path == "/signin"
    browser_client.get(f"/signin?{asked.url.query.decode()}")
    landed = browser_client.post(
        "/signin",
        {
            "kind": "iam",
            "account": "development",
            "username": "bob",
            "password": console.password("bob"),
            "redirect_uri": "/switchrole?account=production&roleName=UpdateApp",
        },
    )
    assert landed.url.path == "/switchrole"
    assert 'name="roleName" value="UpdateApp"' in landed.text


# -- failures ------------------------------------------------------------------------------


def test_wrong_input_gets_one_message(
    console: ConsoleServer, elsewhere: Callable[[], ConsoleClient]
) -> None:
    client = elsewhere()
    for account, user, password, kind in (
        ("development", "bob", "not bob's password", "iam"),
        ("development", "nosuchuser", console.password("bob"), "iam"),
        ("nosuchaccount", "bob", console.password("bob"), "iam"),
        ("development", "", "not the root password", "root"),
    ):
        refused = _sign_in(client, account, user, password, kind)
        assert refused.status_code == 401
        assert refused.url.path == "/signin"
        assert _signin_error(refused.text) == SIGNIN_FAILED
    # The form keeps the account typed, never the password.
    assert 'name="account" value="development"' in refused.text
    assert "not the root password" not in refused.text


def test_a_wrong_mfa_code_can_be_retried(
    console: ConsoleServer, elsewhere: Callable[[], ConsoleClient]
) -> None:
    client = elsewhere()
    _sign_in(client, "development", "alice", console.password("alice"))
    code = console.mfa_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = client.post("/signin/mfa", {"code": wrong})
    assert refused.status_code == 401
    assert _signin_error(refused.text) == SIGNIN_FAILED
    assert client.post("/signin/mfa", {"code": code}).url.path == "/console"


def test_the_mfa_step_needs_the_password_step(browser_client: ConsoleClient) -> None:
    assert browser_client.get("/signin/mfa").url.path == "/signin"
    assert browser_client.get("/signin/password").url.path == "/signin"


def test_failures_are_limited_per_user(
    account: Account, elsewhere: Callable[[], ConsoleClient]
) -> None:
    account.user("target")
    for _ in range(5):  # each from another address: the user's own count
        refused = _sign_in(elsewhere(), account.id, "target", "wrong password")
        assert refused.status_code == 401
    # Even the right password, from a fresh address, and with the alias instead of the id.
    throttled = _sign_in(elsewhere(), account.alias, "TARGET", STRONG)
    assert throttled.status_code == 429
    assert _signin_error(throttled.text) == THROTTLED


def test_failures_are_limited_per_address(
    console: ConsoleServer, elsewhere: Callable[[], ConsoleClient]
) -> None:
    client = elsewhere()
    for number in range(5):
        refused = _sign_in(client, "development", f"guess{number}", "wrong password")
        assert refused.status_code == 401
    throttled = _sign_in(client, "development", "bob", console.password("bob"))
    assert throttled.status_code == 429
    assert _signin_error(throttled.text) == THROTTLED
    # bob himself is not locked out elsewhere.
    assert _sign_in(elsewhere(), "development", "bob", console.password("bob")).url.path == (
        "/console"
    )


# -- new passwords -------------------------------------------------------------------------


def test_a_reset_goes_through_change_password(
    account: Account, browser_client: ConsoleClient
) -> None:
    account.iam.update_account_password_policy(
        MinimumPasswordLength=12, RequireNumbers=True, AllowUsersToChangePassword=True
    )
    account.user("newhire", "Initial-12345", reset=True)
    form = _sign_in(browser_client, account.alias, "newhire", "Initial-12345")
    assert form.url.path == "/signin/password"
    assert "administrator requires you to choose a new password" in form.text
    assert "at least 12 characters" in form.text and "a number (0-9)" in form.text
    # Nothing is signed in yet.
    assert browser_client.get("/console").url.path == "/signin"
    form = browser_client.get("/signin/password")

    mismatch = browser_client.post(
        "/signin/password", {"new_password": "Chosen-123456", "confirm_password": "other"}
    )
    assert mismatch.status_code == 400
    assert "do not match" in mismatch.text
    weak = browser_client.post(
        "/signin/password", {"new_password": "short1", "confirm_password": "short1"}
    )
    assert weak.status_code == 400
    assert "PasswordPolicyViolation" in weak.text
    assert "Password does not conform to the account password policy." in weak.text

    home = browser_client.post(
        "/signin/password",
        {"new_password": "Chosen-123456", "confirm_password": "Chosen-123456"},
    )
    assert home.url.path == "/console"
    assert _nav(home.text) == f"newhire @ {account.alias}"
    profile = account.iam.get_login_profile(UserName="newhire")["LoginProfile"]
    assert profile["PasswordResetRequired"] is False

    browser_client.post("/console/signout")
    again = _sign_in(browser_client, account.alias, "newhire", "Chosen-123456")
    assert again.url.path == "/console"


def test_a_reset_needs_permission_to_change_the_password(
    account: Account, browser_client: ConsoleClient
) -> None:
    account.user("stuck", reset=True)  # no password policy, no iam:ChangePassword
    _sign_in(browser_client, account.id, "stuck", STRONG)
    refused = browser_client.post(
        "/signin/password", {"new_password": "Chosen-123456", "confirm_password": "Chosen-123456"}
    )
    assert refused.status_code == 403
    assert "not authorized to perform iam:ChangePassword" in refused.text
    assert 'data-testid="explanation"' in refused.text
    assert browser_client.get("/console").url.path == "/signin"

    account.allow(
        "stuck",
        {
            "Effect": "Allow",
            "Action": "iam:ChangePassword",
            "Resource": f"arn:aws:iam::{account.id}:user/${{aws:username}}",
        },
    )
    home = browser_client.post(
        "/signin/password", {"new_password": "Chosen-123456", "confirm_password": "Chosen-123456"}
    )
    assert home.url.path == "/console"


def test_an_expired_password_must_be_changed(
    account: Account, browser_client: ConsoleClient
) -> None:
    account.iam.update_account_password_policy(
        MaxPasswordAge=30, AllowUsersToChangePassword=True, PasswordReusePrevention=1
    )
    account.user("old")
    account.age_password("old", 31)
    form = _sign_in(browser_client, account.alias, "old", STRONG)
    assert form.url.path == "/signin/password"
    assert "Your password has expired" in form.text
    reused = browser_client.post(
        "/signin/password", {"new_password": STRONG, "confirm_password": STRONG}
    )
    assert reused.status_code == 400
    assert "password reuse prevention" in reused.text
    home = browser_client.post(
        "/signin/password", {"new_password": "Fresh!Passw0rd", "confirm_password": "Fresh!Passw0rd"}
    )
    assert home.url.path == "/console"


def test_a_hard_expiry_refuses_sign_in(
    account: Account, elsewhere: Callable[[], ConsoleClient]
) -> None:
    client = elsewhere()
    account.iam.update_account_password_policy(
        MaxPasswordAge=30, HardExpiry=True, AllowUsersToChangePassword=True
    )
    account.user("expired")
    account.age_password("expired", 30)
    refused = _sign_in(client, account.alias, "expired", STRONG)
    assert refused.status_code == 403
    assert "administrator to reset it" in _signin_error(refused.text)
    # A wrong password still gets the generic message.
    assert _signin_error(_sign_in(client, account.alias, "expired", "nope").text) == (SIGNIN_FAILED)
    # After an administrator's reset the user signs in again.
    account.iam.update_login_profile(UserName="expired", Password="Reset!Passw0rd")
    assert _sign_in(client, account.alias, "expired", "Reset!Passw0rd").url.path == ("/console")


# -- root ----------------------------------------------------------------------------------


def test_root_signs_in_and_cannot_switch_roles(
    console: ConsoleServer, account: Account, browser_client: ConsoleClient
) -> None:
    runner = CliRunner()
    db = ["--db", console.server.database.url]
    weak = runner.invoke(
        main,
        ["account", "set-root-password", "--account", account.alias, "--password-stdin", *db],
        input="weak\n",
    )
    assert weak.exit_code == 1 and "PasswordPolicyViolation" in weak.output
    missing = runner.invoke(
        main,
        ["account", "set-root-password", "--account", "no-such-alias", "--password-stdin", *db],
        input=f"{STRONG}\n",
    )
    assert missing.exit_code == 1 and "NoSuchEntity" in missing.output
    prompted = runner.invoke(
        main,
        ["account", "set-root-password", "--account", account.alias, *db],
        input="Root!Passw0rd\nRoot!Passw0rd\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert f"Root password set for account {account.id}." in prompted.output

    home = _sign_in(browser_client, account.alias, "", "Root!Passw0rd", kind="root")
    assert home.url.path == "/console"
    assert _nav(home.text) == f"root @ {account.alias}"
    assert f"arn:aws:iam::{account.id}:root" in home.text
    switch = browser_client.get("/switchrole")
    assert switch.status_code == 403
    assert "root user cannot switch roles" in switch.text
    refused = browser_client.post("/switchrole", {"account": "production", "roleName": "UpdateApp"})
    assert refused.status_code == 400


# -- sessions ------------------------------------------------------------------------------


def test_sign_out_ends_the_session_everywhere(console: ConsoleServer, bob: ConsoleClient) -> None:
    cookie = bob.http.cookies.get("rolegate-console")
    assert cookie
    assert bob.get("/console").url.path == "/console"
    signed_out = bob.post("/console/signout")
    assert signed_out.url.path == "/signin"
    replay = console.client()
    replay.http.cookies.set("rolegate-console", cookie)
    try:
        assert replay.get("/console").url.path == "/signin"
    finally:
        replay.close()


def test_sessions_expire(console: ConsoleServer, bob: ConsoleClient) -> None:
    assert bob.get("/console").url.path == "/console"
    console.server.clock.advance(12 * 3600 + 60)
    assert bob.get("/console").url.path == "/signin"
