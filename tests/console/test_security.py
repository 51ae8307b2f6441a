"""The console's web security, each case checked where it is decided: in the browser (cookies a
page's script can read, what a cross-site page can make the browser do, whether injected
markup runs) or over HTTP (status codes, headers, redirect targets).

- CSRF: every state-changing POST needs the session's token (403 without it or with a wrong
  one), and a form auto-submitted by a page of another origin changes nothing.
- Cookies: HttpOnly, SameSite=Lax, invisible to `document.cookie`; Secure over https.
- No open redirect through `redirect_uri`; no framing (X-Frame-Options, CSP frame-ancestors)
  on any console page; a session cookie is dead after sign-out and after expiry.
- Hostile names (paths, descriptions, object keys, statement ids, display names, form
  values) appear literally and never run.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
import httpx
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from playwright.sync_api import Browser, expect

from rolegate.server.app import create_app

from .browser import Tab, open_tab
from .conftest import ConsoleClient, ConsoleServer

T = TypeVar("T")
SESSION_COOKIE = "rolegate-console"
SCRIPT = '"><script>alert(1)</script>'
IMG = "<img src=x onerror=alert(1)>"
IMG_NO_SPACES = "<img/src=x/onerror=alert(1)>"
HOSTILE_TARGETS = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "/\\/evil.example/console",
    "https:evil.example",
    " //evil.example",
    "/console@evil.example",
]


def root_client(console: ConsoleServer, service: str, account: str = "development") -> Any:
    root = console.world["Roots"][account]
    return boto3.client(
        service,
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=root["AccessKeyId"],
        aws_secret_access_key=root["SecretAccessKey"],
    )


def _is_html(response: httpx.Response) -> bool:
    return "text/html" in response.headers.get("content-type", "")


def _nav(html: str) -> str:
    found = re.search(r'data-testid="nav-identity"[^>]*>([^<]*)<', html)
    assert found, "no navigation identity on the page"
    return found.group(1)


@pytest.fixture
def tab(chromium: Browser, console: ConsoleServer) -> Iterator[Tab]:
    with open_tab(chromium, console) as opened:
        yield opened


# ---------------------------------------------------------------------------------- CSRF
@pytest.mark.parametrize("token", [None, "", "forged-token-of-the-right-length-xxxxx"])
def test_state_changing_posts_need_the_sessions_token(
    alice: ConsoleClient, token: str | None
) -> None:
    alice.switch_role()
    assert _nav(alice.get("/console").text) == "UpdateApp @ production"
    extra = {} if token is None else {"csrf": token}
    for path, form in (
        ("/console/exit-role", {}),
        ("/console/signout", {}),
        ("/switchrole", {"account": "production", "roleName": "UpdateAppMFA"}),
    ):
        refused = alice.http.post(path, data={**form, **extra}, follow_redirects=False)
        assert refused.status_code == 403, path
        assert "did not come from this console" in refused.text
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    # Still in UpdateApp, still signed in: none of the three happened.
    home = alice.get("/console")
    assert _nav(home.text) == "UpdateApp @ production"
    assert "assumed-role/UpdateApp/alice" in home.text


def test_a_token_is_only_good_for_its_own_session(console: ConsoleServer) -> None:
    first, second = console.client(), console.client()
    try:
        first.sign_in("alice")
        second.sign_in("bob")
        assert first.csrf and second.csrf and first.csrf != second.csrf
        refused = second.http.post(
            "/console/signout", data={"csrf": first.csrf}, follow_redirects=False
        )
        assert refused.status_code == 403
        assert _nav(second.get("/console").text) == "bob @ development"
    finally:
        first.close()
        second.close()


def test_sign_in_needs_its_form_token(console: ConsoleServer) -> None:
    """Login CSRF: a cross-site form cannot sign the browser in as someone else."""
    with httpx.Client(base_url=console.url, timeout=30) as http:
        form = {
            "kind": "iam",
            "account": "development",
            "username": "bob",
            "password": console.password("bob"),
        }
        refused = http.post("/signin", data=form)
        assert refused.status_code == 403
        assert SESSION_COOKIE not in http.cookies
        http.get("/signin")
        refused = http.post("/signin", data={**form, "csrf": "guessed"})
        assert refused.status_code == 403
        assert SESSION_COOKIE not in http.cookies


# ------------------------------------------------------------------ cross-site pages
@dataclass
class AttackerSite:
    """A tiny web server of another origin: `/form?...` pages auto-submit a form."""

    origin: str
    pages: dict[str, str]

    def page(self, name: str, html: str) -> str:
        self.pages[f"/{name}"] = html
        return f"{self.origin}/{name}"


def _serve(host: str) -> tuple[ThreadingHTTPServer, AttackerSite]:
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?", 1)[0])
            data = (body or "not found").encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    origin = f"http://{host}:{server.server_address[1]}"
    return server, AttackerSite(origin, pages)


@pytest.fixture(scope="module", params=["127.0.0.2", "127.0.0.1"], ids=["cross-site", "same-site"])
def attacker(request: pytest.FixtureRequest) -> Iterator[AttackerSite]:
    """127.0.0.2 is another site (the session cookie, SameSite=Lax, is not sent on its POSTs);
    127.0.0.1 on another port is the same site, another origin (the cookie is sent: only the
    CSRF token stops it)."""
    server, site = _serve(str(request.param))
    thread = threading.Thread(target=server.serve_forever, name="attacker-site", daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _session_cookie(tab: Tab) -> str | None:
    return next((c["value"] for c in tab.context.cookies() if c["name"] == SESSION_COOKIE), None)


def _auto_submit(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )
    return (
        "<!doctype html><title>You won a prize</title>"
        f'<form id="f" method="post" action="{escape(action)}">{inputs}</form>'
        "<script>document.getElementById('f').submit()</script>"
    )


def test_a_cross_origin_form_post_changes_nothing(
    tab: Tab, console: ConsoleServer, attacker: AttackerSite
) -> None:
    tab.sign_in("alice")
    tab.goto("/switchrole?account=production&roleName=UpdateApp")
    tab.testid("switch-submit").click()
    expect(tab.testid("nav-identity")).to_have_text("UpdateApp @ production")
    cookie = _session_cookie(tab)
    assert cookie is not None
    for name, path, fields in (
        ("exit", "/console/exit-role", {}),
        ("signout", "/console/signout", {}),
        ("switch", "/switchrole", {"account": "production", "roleName": "UpdateAppMFA"}),
        ("forged", "/console/signout", {"csrf": "x" * 32}),
    ):
        url = attacker.page(name, _auto_submit(console.url + path, fields))
        tab.page.goto(url)
        tab.page.wait_for_url(lambda landed: landed.startswith(console.url))
        tab.page.wait_for_load_state()
        landed = urlsplit(tab.page.url).path
        if attacker.origin.startswith("http://127.0.0.2"):
            # Another site: the browser did not send the session with the POST, which was
            # answered with the sign-in page; the browser, still signed in, goes on to the
            # console's home (never to the form's target).
            assert landed == "/console", (name, tab.page.url)
        else:
            # The same site: the cookie went along, the missing token refused it.
            assert landed == path, (name, tab.page.url)
            expect(tab.page.locator("main")).to_contain_text("did not come from this console")
        still = _session_cookie(tab)
        assert still is not None, (
            f"{name}: the {attacker.origin} page's POST made the browser drop the session "
            "cookie (a sign-in redirect for a request without the cookie deletes it)"
        )
        assert still == cookie, f"{name}: the session cookie was changed"
        tab.goto("/console")
        expect(tab.testid("nav-identity")).to_have_text("UpdateApp @ production")
        expect(tab.testid("caller-identity")).to_contain_text("assumed-role/UpdateApp/alice")


def test_no_console_page_can_be_framed(
    tab: Tab, console: ConsoleServer, attacker: AttackerSite
) -> None:
    tab.sign_in("alice")
    frames = "".join(
        f'<iframe src="{console.url}{path}" width="600" height="300"></iframe>'
        for path in ("/console", "/signin", "/switchrole")
    )
    tab.page.goto(attacker.page("frames", f"<!doctype html>{frames}"))
    tab.page.wait_for_load_state()
    children = tab.page.frames[1:]
    assert len(children) == 3
    for frame in children:
        assert frame.locator("[data-testid=nav-identity], form").count() == 0, frame.url
    refused = [error for error in tab.errors if "frame-ancestors" in error or "X-Frame" in error]
    assert refused, f"chromium did not report refusing the frames: {tab.errors}"
    tab.errors.clear()


# ---------------------------------------------------------------------------------- cookies
def test_session_cookies_are_http_only_and_same_site(tab: Tab) -> None:
    tab.sign_in("alice")
    tab.goto("/switchrole?account=production&roleName=UpdateApp")
    tab.testid("switch-submit").click()
    expect(tab.testid("nav-identity")).to_have_text("UpdateApp @ production")
    cookies = {cookie["name"]: cookie for cookie in tab.context.cookies()}
    assert {SESSION_COOKIE, "rolegate-role-history"} <= set(cookies)
    for name, cookie in cookies.items():
        assert cookie["httpOnly"], name
        assert cookie["sameSite"] == "Lax", name
        assert cookie["path"] == "/", name
        assert not cookie["secure"], f"{name}: plain http here, Secure only over https"
    assert tab.page.evaluate("() => document.cookie") == ""


def test_cookies_are_secure_over_https(console: ConsoleServer) -> None:
    """The same app over an https ASGI scope (as behind a TLS proxy with --proxy-headers):
    every cookie of a full sign-in with MFA carries Secure."""
    app = create_app(console.server.database)

    async def sign_in() -> list[str]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as http:
            set_cookies: list[str] = []

            async def step(method: str, path: str, **kwargs: Any) -> httpx.Response:
                response = await http.request(method, path, **kwargs)
                set_cookies.extend(response.headers.get_list("set-cookie"))
                return response

            def token(response: httpx.Response) -> str:
                found = re.search(r'name="csrf" value="([^"]+)"', response.text)
                assert found
                return found.group(1)

            form = await step("GET", "/signin")
            answer = await step(
                "POST",
                "/signin",
                data={
                    "csrf": token(form),
                    "kind": "iam",
                    "account": "development",
                    "username": "alice",
                    "password": console.password("alice"),
                },
            )
            assert answer.headers["location"] == "/signin/mfa"
            form = await step("GET", "/signin/mfa")
            answer = await step(
                "POST", "/signin/mfa", data={"csrf": token(form), "code": console.mfa_code()}
            )
            assert answer.headers["location"] == "/console"
            home = await step("GET", "/console")
            assert _nav(home.text) == "alice @ development"
            await step(
                "POST",
                "/switchrole",
                data={"csrf": token(home), "account": "production", "roleName": "UpdateApp"},
            )
            return set_cookies

    set_cookies = _run_in_thread(sign_in)
    names = {header.split("=", 1)[0] for header in set_cookies}
    assert {"rolegate-csrf", "rolegate-signin", SESSION_COOKIE, "rolegate-role-history"} <= names
    for header in set_cookies:
        attributes = {part.strip().split("=", 1)[0].lower() for part in header.split(";")}
        assert {"secure", "httponly", "samesite"} <= attributes, header
        assert "samesite=lax" in header.lower(), header


def _run_in_thread(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run` in a thread of its own: in this one, Playwright's loop counts as running."""
    results: list[T] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            results.append(asyncio.run(coroutine()))
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=run, name="asgi-https")
    thread.start()
    thread.join(timeout=60)
    if failures:
        raise failures[0]
    assert results, "the https sign-in did not finish"
    return results[0]


# ---------------------------------------------------------------------- open redirects
def _follow_same_origin(http: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow redirects by hand, asserting each one stays on this origin."""
    for _ in range(10):
        if not response.is_redirect:
            return response
        location = response.headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        assert urlsplit(location).netloc == "", location
        response = http.get(location)
    raise AssertionError("too many redirects")


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_sign_in_never_redirects_off_the_console(console: ConsoleServer, target: str) -> None:
    client = console.client()
    try:
        http = client.http
        http.follow_redirects = False
        form = client.get("/signin", params={"redirect_uri": target})
        assert form.status_code == 200
        assert 'name="redirect_uri" value="/console"' in form.text
        # The form field forged back to the hostile target: still the console.
        answer = client.post(
            "/signin",
            {
                "kind": "iam",
                "account": "development",
                "username": "alice",
                "password": console.password("alice"),
                "redirect_uri": target,
            },
        )
        assert answer.headers["location"] == "/signin/mfa"
        client.get("/signin/mfa")
        answer = client.post("/signin/mfa", {"code": console.mfa_code()})
        assert answer.headers["location"] == "/console"
        landed = _follow_same_origin(http, answer)
        assert landed.url.path == "/console" and landed.url.host == "127.0.0.1"
        # Signed in already: the same target sends her to the console too.
        again = http.get("/signin", params={"redirect_uri": target})
        assert again.status_code == 303 and again.headers["location"] == "/console"
        client._remember(landed)
        switched = client.post(
            "/switchrole",
            {"account": "production", "roleName": "UpdateApp", "redirect_uri": target},
        )
        assert switched.headers["location"] == "/console"
    finally:
        client.close()


def test_a_console_redirect_uri_is_kept(console: ConsoleServer) -> None:
    client = console.client()
    try:
        landed = client.get("/switchrole?account=production&roleName=UpdateApp")
        assert landed.url.path == "/signin"
        assert 'name="redirect_uri" value="/switchrole?account=production&amp;roleName' in (
            landed.text
        )
        client.sign_in("alice")
    finally:
        client.close()


def test_the_browser_lands_on_the_console(tab: Tab, console: ConsoleServer) -> None:
    for target in ("//evil.example", "javascript:alert(1)"):
        page = tab.goto(f"/signin?redirect_uri={target}")
        page.fill("input[name=account]", "development")
        page.fill("input[name=username]", "bob")
        page.fill("input[name=password]", console.password("bob"))
        tab.testid("signin-submit").click()
        expect(page).to_have_url(f"{console.url}/console")
        tab.open_menu()
        tab.testid("sign-out").click()
        expect(page).to_have_url(re.compile(r"/signin$"))


# ------------------------------------------------------------------- clickjacking headers
def _check_framing(response: httpx.Response) -> None:
    assert response.headers.get("x-frame-options") == "DENY", response.url
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", ""), (
        response.url
    )


def _crawl(client: ConsoleClient, starts: list[str], limit: int = 80) -> set[str]:
    """Every console page reachable by GET links from `starts` (checking each answer)."""
    http = client.http
    seen: set[str] = set()
    queue = list(starts)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = http.get(path, follow_redirects=False)
        _check_framing(response)
        if not _is_html(response):
            continue
        for href in re.findall(r'href="([^"#]+)"', response.text):
            href = href.replace("&amp;", "&")
            if href.startswith("/") and not href.startswith("//") and href not in seen:
                queue.append(href)
    return seen


def test_every_console_page_refuses_framing(
    console: ConsoleServer, browser_client: ConsoleClient, alice: ConsoleClient
) -> None:
    # `/` (a browser's GET of the server's address) only redirects to the console.
    start = browser_client.http.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert start.status_code in (302, 303, 307) and start.headers["location"] == "/console"
    signed_out = [
        "/signin",
        "/signin/mfa",
        "/console",
        "/switchrole",
        "/console/s3",
        "/console/iam",
        "/console/no-such-page",
        "/federation",
    ]
    for path in signed_out:
        _check_framing(
            browser_client.http.get(path, headers={"accept": "text/html"}, follow_redirects=False)
        )
    _check_framing(browser_client.http.post("/signin", data={}))
    seen = _crawl(alice, ["/console", "/switchrole", "/console/no-such-page"])
    alice.switch_role()
    seen |= _crawl(alice, ["/console", "/console/s3", "/console/s3/buckets/productionapp"])
    _check_framing(alice.http.post("/console/signout", data={}))
    assert {"/console", "/switchrole", "/console/s3", "/console/iam"} <= seen
    assert any(path.startswith("/console/s3/buckets/productionapp") for path in seen)


# ------------------------------------------------------------------ dead session cookies
def test_a_cookie_replayed_after_sign_out_is_refused(
    console: ConsoleServer, alice: ConsoleClient
) -> None:
    alice.switch_role()
    stolen = alice.http.cookies[SESSION_COOKIE]
    token = alice.csrf
    out = alice.post("/console/signout")
    assert out.url.path == "/signin"
    with httpx.Client(base_url=console.url, timeout=30) as replay:
        replay.cookies.set(SESSION_COOKIE, stolen)
        home = replay.get("/console")
        assert home.status_code == 303
        assert home.headers["location"].startswith("/signin?redirect_uri=")
        for path in ("/console/exit-role", "/console/signout", "/switchrole"):
            answer = replay.post(path, data={"csrf": token or ""})
            assert answer.status_code == 303 and answer.headers["location"].startswith("/signin"), (
                path
            )
        assert replay.get("/console/s3").status_code == 303


def test_an_expired_session_is_refused(console: ConsoleServer, alice: ConsoleClient) -> None:
    alice.switch_role()
    assert _nav(alice.get("/console").text) == "UpdateApp @ production"
    # The role session (1 h) ends first: the console is the user again.
    console.server.clock.advance(3600 + 5)
    assert _nav(alice.get("/console").text) == "alice @ development"
    # Then the user's console session (12 h).
    console.server.clock.advance(12 * 3600)
    home = alice.http.get("/console", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == "/signin?redirect_uri=%2Fconsole"


# ---------------------------------------------------------------------- HTML injection
@dataclass
class HostileWorld:
    user: str
    password: str
    path: str
    bucket: str
    role: str
    refused: dict[str, str]


@pytest.fixture(scope="module")
def hostile(console: ConsoleServer) -> HostileWorld:
    """mallory (development), whose path is a script; a group and a role with hostile paths
    and description; a bucket of hostile keys with a Deny whose Sid is markup."""
    iam = root_client(console, "iam")
    s3 = root_client(console, "s3")
    suffix = secrets.token_hex(3)
    user, path = f"mallory-{suffix}", f"/{SCRIPT}/"
    bucket, role = f"hostile-{suffix}", f"Plain-{suffix}"
    password = f"Mallory-{secrets.token_urlsafe(12)}"
    development = console.world["Accounts"]["development"]
    iam.create_user(UserName=user, Path=path)
    iam.create_login_profile(UserName=user, Password=password)
    iam.create_group(GroupName=f"Hostile-{suffix}", Path=f"/{IMG_NO_SPACES}/")
    iam.add_user_to_group(GroupName=f"Hostile-{suffix}", UserName=user)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{development}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), Description=IMG)
    iam.create_role(
        RoleName=f"Pathy-{suffix}",
        Path=f"/{IMG_NO_SPACES}/",
        AssumeRolePolicyDocument=json.dumps(trust),
        Description=SCRIPT,
    )
    bucket_arn = f"arn:aws:s3:::{bucket}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": [bucket_arn, f"{bucket_arn}/*"]},
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{development}:role/{role}",
            },
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="console", PolicyDocument=json.dumps(policy))
    s3.create_bucket(Bucket=bucket)
    # (SCRIPT has a '/' of its own: under the '/' delimiter it would be folder and object.)
    for key in (IMG, f"{IMG}/inner.txt", "secret.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"hostile\n")
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": IMG,
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"{bucket_arn}/secret.txt",
                    }
                ],
            }
        ),
    )
    # What IAM itself refuses (as AWS does), so no page can ever show it.
    refused: dict[str, str] = {}
    attempts: dict[str, Any] = {
        "user name": lambda: iam.create_user(UserName=IMG_NO_SPACES),
        "group name": lambda: iam.create_group(GroupName=IMG_NO_SPACES),
        "role name": lambda: iam.create_role(
            RoleName=IMG_NO_SPACES, AssumeRolePolicyDocument=json.dumps(trust)
        ),
        "tag key": lambda: iam.tag_user(UserName=user, Tags=[{"Key": SCRIPT, "Value": "x"}]),
        "tag value": lambda: iam.tag_user(UserName=user, Tags=[{"Key": "note", "Value": IMG}]),
        "policy Sid": lambda: iam.put_user_policy(
            UserName=user,
            PolicyName="sid",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Sid": IMG, "Effect": "Deny", "Action": "*", "Resource": "*"}],
                }
            ),
        ),
    }
    for label, attempt in attempts.items():
        with pytest.raises(ClientError) as caught:
            attempt()
        refused[label] = caught.value.response["Error"]["Code"]
    return HostileWorld(user, password, path, bucket, role, refused)


def _assert_inert(tab: Tab) -> None:
    """No element the payloads would have made, no script of theirs."""
    page = tab.page
    assert page.locator("img[src=x]").count() == 0, page.url
    scripts = page.evaluate(
        "() => [...document.scripts].filter(s => s.textContent.includes('alert')).length"
    )
    assert scripts == 0, page.url
    assert not tab.dialogs, tab.dialogs


def test_hostile_names_are_refused_where_aws_refuses_them(hostile: HostileWorld) -> None:
    assert hostile.refused == {
        "user name": "ValidationError",
        "group name": "ValidationError",
        "role name": "ValidationError",
        "tag key": "ValidationError",
        "tag value": "ValidationError",
        "policy Sid": "MalformedPolicyDocument",
    }


def test_hostile_text_shows_literally_and_never_runs(
    tab: Tab, console: ConsoleServer, hostile: HostileWorld
) -> None:
    tab.sign_in(hostile.user, password=hostile.password)
    page = tab.page
    development = console.world["Accounts"]["development"]
    expect(tab.testid("caller-identity")).to_contain_text(
        f"arn:aws:iam::{development}:user{hostile.path}{hostile.user}"
    )
    _assert_inert(tab)

    # A hostile display name: the nav bar, the menu and the role history.
    page = tab.goto(
        f"/switchrole?account=development&roleName={hostile.role}"
        f"&displayName={SCRIPT.replace('<', '%3C').replace('>', '%3E')}&color=99BCE3"
    )
    expect(page.locator("form.switch-form input[name=displayName]")).to_have_value(SCRIPT)
    tab.testid("switch-submit").click()
    expect(tab.testid("nav-identity")).to_have_text(f"{SCRIPT} @ development")
    menu = tab.open_menu()
    expect(menu.get_by_test_id("role-history")).to_contain_text(SCRIPT)
    expect(menu.locator(".menu-strong")).to_have_text(SCRIPT)
    _assert_inert(tab)
    tab.testid("awsc-exit-role").click()
    expect(tab.testid("nav-identity")).to_have_text(f"{hostile.user} @ development")

    # Hostile values typed into the Switch Role form come back literally with the refusal.
    page = tab.goto("/switchrole")
    form = page.locator("form.switch-form")
    form.locator("input[name=account]").fill(IMG)
    form.locator("input[name=roleName]").fill(SCRIPT)
    form.locator("input[name=displayName]").fill(IMG)
    tab.testid("switch-submit").click()
    expect(tab.testid("switch-error")).to_be_visible()
    expect(form.locator("input[name=account]")).to_have_value(IMG)
    expect(form.locator("input[name=roleName]")).to_have_value(SCRIPT)
    _assert_inert(tab)

    # S3: hostile keys and a folder in the listing, the object page, a Deny with a hostile Sid.
    tab.goto(f"/console/s3/buckets/{hostile.bucket}")
    expect(tab.testid("object-link").filter(has_text=IMG)).to_have_count(1)
    expect(tab.testid("folder-link").filter(has_text=IMG)).to_have_count(1)
    _assert_inert(tab)
    tab.testid("folder-link").filter(has_text=IMG).click()
    expect(tab.testid("object-link").filter(has_text="inner.txt")).to_have_count(1)
    expect(tab.testid("breadcrumbs")).to_contain_text(IMG)
    _assert_inert(tab)
    tab.goto(f"/console/s3/buckets/{hostile.bucket}")
    tab.testid("object-link").filter(has_text=IMG).click()
    expect(tab.testid("object-key")).to_have_text(IMG)
    _assert_inert(tab)
    tab.goto(f"/console/s3/buckets/{hostile.bucket}")
    tab.testid("object-link").filter(has_text="secret.txt").click()
    expect(tab.testid("aws-error")).to_contain_text("AccessDenied")
    expect(tab.testid("explanation")).to_contain_text(IMG)
    _assert_inert(tab)

    # IAM: the user's path, the group's path, the roles' path and descriptions.
    main = page.locator("main")
    tab.goto("/console/iam/users")
    tab.testid("user-link").filter(has_text=hostile.user).click()
    expect(main).to_contain_text(f"user{hostile.path}{hostile.user}")
    _assert_inert(tab)
    tab.goto("/console/iam/groups")
    tab.testid("group-link").filter(has_text="Hostile-").click()
    expect(main).to_contain_text(f"/{IMG_NO_SPACES}/")
    _assert_inert(tab)
    tab.goto("/console/iam/roles")
    tab.testid("role-link").filter(has_text="Pathy-").click()
    expect(tab.testid("role-description")).to_contain_text(SCRIPT)
    expect(main).to_contain_text(f"role/{IMG_NO_SPACES}/Pathy-")
    _assert_inert(tab)
    tab.goto("/console/iam/roles")
    tab.testid("role-link").filter(has_text=hostile.role).click()
    expect(tab.testid("role-description")).to_contain_text(IMG)
    _assert_inert(tab)


def test_reflected_values_are_escaped(tab: Tab) -> None:
    page = tab.goto(f"/signin?account={SCRIPT.replace('<', '%3C')}")
    expect(page.locator("input[name=account]")).to_have_value(SCRIPT)
    page.fill("input[name=username]", IMG)
    page.fill("input[name=password]", "not-the-password")
    tab.testid("signin-submit").click()
    expect(tab.testid("signin-error")).to_be_visible()
    expect(page.locator("input[name=username]")).to_have_value(IMG)
    _assert_inert(tab)
