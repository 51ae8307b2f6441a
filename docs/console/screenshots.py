"""Screenshots of the console's main pages, from a throwaway server with the demo world.

    .venv/bin/python docs/console/screenshots.py [OUT_DIR]     # default: docs/console/

Drives Debian's chromium (/usr/bin/chromium) through Playwright, like tests/console. The
story is the demo's: alice signs in with MFA, switches to UpdateApp in production, uploads to
`productionapp`, is refused elsewhere; bob is refused the switch; the roots see IAM.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import boto3  # type: ignore[import-untyped]  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from console.browser import Tab, launch_chromium  # noqa: E402
from console.conftest import ConsoleServer  # noqa: E402
from e2e.server import RunningServer  # noqa: E402
from rolegate.demo import DEVELOPMENT, PRODUCTION, build_world, create_demo_bucket  # noqa: E402
from rolegate.iam.accounts import create_account, set_root_password  # noqa: E402

ROOT_PASSWORD = f"Root-{secrets.token_urlsafe(12)}!"
CLOSED_BUCKET = "production-ledger"


def _s3(console: ConsoleServer, account: str) -> Any:
    root = console.world["Roots"][account]
    return boto3.client(
        "s3",
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=root["AccessKeyId"],
        aws_secret_access_key=root["SecretAccessKey"],
    )


def _world(server: RunningServer) -> ConsoleServer:
    with server.database.write() as uow:
        development = create_account(uow, "development", DEVELOPMENT).to_json()
        production = create_account(uow, "production", PRODUCTION).to_json()
        for account in ("development", "production"):
            set_root_password(uow, account, ROOT_PASSWORD)
    world = build_world(server.url, development, production)
    create_demo_bucket(world)
    console = ConsoleServer(server, world)
    s3 = _s3(console, "production")
    for key, body in (
        ("releases/2024-06-01/app.tar.gz", b"x" * 48_213),
        ("releases/2024-06-14/app.tar.gz", b"x" * 51_877),
        ("config/settings.json", b'{"feature": true}\n'),
        ("index.html", b"<h1>production app</h1>\n"),
    ):
        s3.put_object(Bucket="productionapp", Key=key, Body=body)
    s3.create_bucket(Bucket=CLOSED_BUCKET)
    s3.put_object(Bucket=CLOSED_BUCKET, Key="2024/q2.csv", Body=b"date,amount\n")
    return console


def _root_sign_in(tab: Tab, account: str) -> None:
    page = tab.goto("/signin")
    page.check("input[name=kind][value=root]")
    page.fill("input[name=account]", account)
    page.fill("input[name=password]", ROOT_PASSWORD)
    tab.testid("signin-submit").click()
    page.wait_for_url("**/console")


def shoot(console: ConsoleServer, out: Path) -> list[Path]:
    shots: list[Path] = []

    def snap(tab: Tab, name: str, *, full: bool = False) -> None:
        tab.page.wait_for_load_state("networkidle")
        path = out / f"{name}.png"
        tab.page.screenshot(path=str(path), full_page=full)
        shots.append(path)

    with launch_chromium() as browser:
        alice = Tab(browser, console)
        page = alice.goto("/signin")
        page.fill("input[name=account]", "development")
        page.fill("input[name=username]", "alice")
        snap(alice, "signin")
        page.fill("input[name=password]", console.password("alice"))
        alice.testid("signin-submit").click()
        page.wait_for_url("**/signin/mfa")
        snap(alice, "signin-mfa")
        page.fill("input[name=code]", console.mfa_code())
        alice.testid("mfa-submit").click()
        page.wait_for_url("**/console")
        snap(alice, "home")

        alice.goto("/switchrole?account=production&roleName=UpdateAppMFA&color=99BCE3")
        alice.testid("switch-submit").click()
        page.wait_for_url("**/console")
        alice.goto(
            "/switchrole?account=production&roleName=UpdateApp&displayName=UpdateApp&color=F2B0A9"
        )
        snap(alice, "switch-role")
        alice.testid("switch-submit").click()
        page.wait_for_url("**/console")
        alice.open_menu()
        snap(alice, "role-menu")
        page.keyboard.press("Escape")

        alice.goto("/console/s3")
        snap(alice, "s3-buckets-as-role", full=True)
        alice.goto("/console/s3/buckets/productionapp")
        upload = out / "release-notes.txt"
        upload.write_text("Release notes\n" * 2000)
        try:
            alice.testid("upload-input").set_input_files(upload)
            alice.testid("upload-submit").click()
            expect(alice.testid("upload-status")).to_contain_text("Uploaded", timeout=30_000)
        finally:
            upload.unlink()
        snap(alice, "s3-objects", full=True)
        alice.goto("/console/s3/buckets/productionapp")
        alice.testid("object-link").filter(has_text="README.txt").click()
        snap(alice, "s3-object", full=True)
        alice.goto(f"/console/s3/buckets/{CLOSED_BUCKET}")
        snap(alice, "s3-denied", full=True)
        alice.close()

        bob = Tab(browser, console)
        bob.sign_in("bob")
        bob.goto("/switchrole?account=production&roleName=UpdateApp")
        bob.testid("switch-submit").click()
        expect(bob.testid("switch-error")).to_be_visible()
        snap(bob, "switch-refused", full=True)
        bob.close()

        production = Tab(browser, console)
        _root_sign_in(production, "production")
        production.goto("/console/s3")
        snap(production, "s3-buckets", full=True)
        production.goto("/console/iam/roles/UpdateApp")
        snap(production, "iam-role", full=True)
        console.server.gateway.audit.flush()
        production.goto("/console/cloudtrail")
        snap(production, "cloudtrail-events", full=True)
        production.goto("/console/ec2/instances")
        snap(production, "ec2-instances", full=True)
        production.goto("/console/access-analyzer")
        production.testid("create-analyzer").click()
        expect(production.testid("finding-list")).to_be_visible()
        snap(production, "access-analyzer-findings", full=True)
        production.close()

        development = Tab(browser, console)
        _root_sign_in(development, "development")
        development.goto("/console/iam")
        snap(development, "iam-dashboard", full=True)
        development.goto("/console/iam/users/alice")
        snap(development, "iam-user", full=True)
        development.close()
    return shots


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rolegate-screenshots-") as directory:
        server = RunningServer.sqlite(Path(directory)).start()
        try:
            shots = shoot(_world(server), out)
        finally:
            server.stop()
    for path in shots:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    print(f"{len(shots)} screenshots in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
