"""Console fixtures: a real server on loopback (SQLite) with the demo world, and signed-in
HTTP clients (httpx) that fill the forms' CSRF tokens the way a browser would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from e2e.server import RunningServer
from rolegate.demo import DEVELOPMENT, PRODUCTION, build_world, create_demo_bucket
from rolegate.iam.accounts import create_account
from rolegate.mfa import base32_to_seed, totp

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleServer:
    """The running server, its demo world, and fresh MFA codes on the server's clock."""

    def __init__(self, server: RunningServer, world: dict[str, Any]) -> None:
        self.server = server
        self.world = world
        self.url = server.url

    def password(self, user: str) -> str:
        return str(self.world["Users"][user]["Password"])

    def mfa_code(self) -> str:
        """alice's next code: the server's clock moves on one 30 s step first (a code works
        once, and tests sign in many times)."""
        self.server.clock.advance(30)
        seed = base32_to_seed(self.world["Users"]["alice"]["MfaSeed"])
        return totp(seed, self.server.clock.now().timestamp())

    def client(self) -> ConsoleClient:
        return ConsoleClient(self)


class ConsoleClient:
    """A browser-like HTTP client: keeps cookies, remembers the last page's CSRF token."""

    def __init__(self, console: ConsoleServer) -> None:
        self.console = console
        self.http = httpx.Client(base_url=console.url, follow_redirects=True, timeout=30)
        self.csrf: str | None = None

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        self._remember(response)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        form = {"csrf": self.csrf or "", **(data or {})}
        response = self.http.post(path, data=form, **kwargs)
        self._remember(response)
        return response

    def _remember(self, response: httpx.Response) -> None:
        found = (
            _CSRF.search(response.text)
            if "text/html" in response.headers.get("content-type", "")
            else None
        )
        if found:
            self.csrf = found.group(1)

    def sign_in(self, user: str, *, account: str = "development") -> httpx.Response:
        """Sign in as a demo user (with alice's MFA code); the final page."""
        self.get("/signin")
        response = self.post(
            "/signin",
            {
                "kind": "iam",
                "account": account,
                "username": user,
                "password": self.console.password(user),
            },
        )
        if response.url.path == "/signin/mfa":
            response = self.post("/signin/mfa", {"code": self.console.mfa_code()})
        return response

    def switch_role(
        self, role: str = "UpdateApp", account: str = "production", **extra: str
    ) -> httpx.Response:
        self.get("/switchrole")
        return self.post("/switchrole", {"account": account, "roleName": role, **extra})

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    server = RunningServer.sqlite(tmp_path_factory.mktemp("rolegate-console")).start()
    with server.database.write() as uow:
        development = create_account(uow, "development", DEVELOPMENT).to_json()
        production = create_account(uow, "production", PRODUCTION).to_json()
    world = build_world(server.url, development, production)
    create_demo_bucket(world)
    yield ConsoleServer(server, world)
    server.stop()


@pytest.fixture
def browser_client(console: ConsoleServer) -> Iterator[ConsoleClient]:
    """A fresh cookie jar: nobody signed in."""
    client = console.client()
    yield client
    client.close()


@pytest.fixture
def alice(console: ConsoleServer) -> Iterator[ConsoleClient]:
    client = console.client()
    client.sign_in("alice")
    yield client
    client.close()


@pytest.fixture
def bob(console: ConsoleServer) -> Iterator[ConsoleClient]:
    client = console.client()
    client.sign_in("bob")
    yield client
    client.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright (tests/console/browser.py). One per test module, not
    per session: while Playwright's sync API is alive its event loop counts as running in this
    thread, so `asyncio.run` in any later test would fail."""
    from .browser import launch_chromium

    with launch_chromium() as browser:
        yield browser
