"""The seed story clicked through in a real browser (Debian's chromium under Playwright).

alice signs in with her password and MFA code, follows a pre-filled Switch Role link to
UpdateApp in production, sees the role in the nav bar in its colour, uploads a file of a few
MB to `productionapp` from the browser, finds it listed, downloads it back byte for byte, is
refused on a production bucket the role may not touch (with the engine's explanation), goes
Back to alice and is refused on `productionapp` itself; her role history remembers UpdateApp.
bob, a tester, is refused the switch with AWS's message and the explanation.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from playwright.sync_api import Browser, expect

from .browser import Tab, open_tab
from .conftest import ConsoleServer

INVALID = (
    "Invalid information in one or more fields. Check your information or contact your "
    "administrator."
)
RED = "F2B0A9"
UPLOAD_BYTES = 3 * 1024 * 1024 + 12_345


def s3_client(console: ConsoleServer, account: str) -> Any:
    root = console.world["Roots"][account]
    return boto3.client(
        "s3",
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=root["AccessKeyId"],
        aws_secret_access_key=root["SecretAccessKey"],
    )


@pytest.fixture
def tab(chromium: Browser, console: ConsoleServer) -> Iterator[Tab]:
    with open_tab(chromium, console) as opened:
        yield opened


@pytest.fixture
def other_tab(chromium: Browser, console: ConsoleServer) -> Iterator[Tab]:
    with open_tab(chromium, console) as opened:
        yield opened


@pytest.fixture(scope="module")
def closed_bucket(console: ConsoleServer) -> str:
    """A production bucket UpdateApp's policy does not cover."""
    name = f"prod-ledger-{secrets.token_hex(4)}"
    s3 = s3_client(console, "production")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="ledger.csv", Body=b"date,amount\n")
    return name


def _rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({red}, {green}, {blue})"


def sign_in_alice(tab: Tab) -> None:
    page = tab.goto("/signin")
    expect(page.locator("input[name=kind][value=iam]")).to_be_checked()
    page.fill("input[name=account]", "development")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", tab.console.password("alice"))
    tab.testid("signin-submit").click()
    expect(page).to_have_url(re.compile(r"/signin/mfa$"))
    page.fill("input[name=code]", tab.console.mfa_code())
    tab.testid("mfa-submit").click()
    expect(page).to_have_url(re.compile(r"/console$"))
    expect(tab.testid("caller-identity")).to_contain_text("arn:aws:iam::111122223333:user/alice")
    assert tab.nav_identity() == "alice @ development"


def switch_to_update_app(tab: Tab) -> None:
    page = tab.goto(
        f"/switchrole?account=production&roleName=UpdateApp&displayName=UpdateApp&color={RED}"
    )
    expect(page.locator("form.switch-form input[name=account]")).to_have_value("production")
    expect(page.locator("form.switch-form input[name=roleName]")).to_have_value("UpdateApp")
    expect(page.locator("form.switch-form input[name=displayName]")).to_have_value("UpdateApp")
    expect(page.locator(f"input[name=color][value={RED}]")).to_be_checked()
    tab.testid("switch-submit").click()
    expect(page).to_have_url(re.compile(r"/console$"))
    nav = tab.testid("nav-identity")
    expect(nav).to_have_text("UpdateApp @ production")
    expect(nav).to_have_css("background-color", _rgb(RED))
    expect(tab.testid("caller-identity")).to_contain_text(
        "arn:aws:sts::444455556666:assumed-role/UpdateApp/alice"
    )


def open_bucket(tab: Tab, bucket: str) -> None:
    """From the S3 service link: the bucket's link when the identity may list buckets, else
    the bucket's address (what AWS's console offers a role without s3:ListAllMyBuckets)."""
    page = tab.page
    page.get_by_role("link", name="S3", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/s3$"))
    link = tab.testid("bucket-link").filter(has_text=re.compile(f"^{re.escape(bucket)}$"))
    if link.count():
        link.click()
    else:
        tab.goto(f"/console/s3/buckets/{bucket}")
    expect(page).to_have_url(re.compile(f"/console/s3/buckets/{re.escape(bucket)}"))


def upload_and_download(tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    name = f"release-{secrets.token_hex(3)}.bin"
    payload = os.urandom(UPLOAD_BYTES)
    source = tmp_path / name
    source.write_bytes(payload)
    tab.testid("upload-input").set_input_files(source)
    tab.testid("upload-submit").click()
    expect(tab.testid("upload-status")).to_have_text(re.compile(r"Uploaded\s*$"), timeout=30_000)
    page.reload()
    link = tab.testid("object-link").filter(has_text=name)
    expect(link).to_have_count(1)
    link.click()
    with page.expect_download() as downloading:
        tab.testid("download-link").click()
    download = downloading.value
    assert download.suggested_filename == name
    assert Path(download.path()).read_bytes() == payload


def expect_denied(tab: Tab, action: str) -> None:
    error = tab.testid("aws-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("AccessDenied")
    explanation = tab.testid("explanation")
    expect(explanation).to_be_visible()
    expect(explanation).to_contain_text(action)


def back_to_alice(tab: Tab) -> None:
    tab.open_menu()
    exit_button = tab.testid("awsc-exit-role")
    expect(exit_button).to_have_text("Back to alice")
    exit_button.click()
    expect(tab.page).to_have_url(re.compile(r"/console$"))
    expect(tab.testid("nav-identity")).to_have_text("alice @ development")
    expect(tab.testid("caller-identity")).to_contain_text("arn:aws:iam::111122223333:user/alice")


def test_alice_updates_the_production_app(
    tab: Tab, console: ConsoleServer, closed_bucket: str, tmp_path: Path
) -> None:
    sign_in_alice(tab)
    switch_to_update_app(tab)

    open_bucket(tab, "productionapp")
    expect(tab.testid("object-link").filter(has_text="README.txt")).to_have_count(1)
    upload_and_download(tab, tmp_path)

    tab.goto(f"/console/s3/buckets/{closed_bucket}")
    expect_denied(tab, "s3:ListBucket")
    expect(tab.testid("explanation")).to_contain_text("assumed-role/UpdateApp/alice")

    back_to_alice(tab)
    tab.goto("/console/s3/buckets/productionapp")
    expect_denied(tab, "s3:ListBucket")
    expect(tab.testid("explanation")).to_contain_text("arn:aws:iam::111122223333:user/alice")

    menu = tab.open_menu()
    history = menu.get_by_test_id("role-history")
    expect(history).to_contain_text("UpdateApp")
    expect(history.locator(".swatch").first).to_have_css("background-color", _rgb(RED))


def test_role_history_switches_back_in_one_click(tab: Tab) -> None:
    sign_in_alice(tab)
    switch_to_update_app(tab)
    back_to_alice(tab)
    menu = tab.open_menu()
    menu.get_by_test_id("role-history").get_by_role("button", name="UpdateApp").click()
    expect(tab.testid("nav-identity")).to_have_text("UpdateApp @ production")
    # The menu while in the role: who is active, who signed in, the way back, sign-out.
    menu = tab.open_menu()
    expect(menu).to_contain_text("Currently active as")
    expect(menu).to_contain_text("alice @ development")
    tab.testid("sign-out").click()
    expect(tab.page).to_have_url(re.compile(r"/signin$"))
    tab.goto("/console")
    expect(tab.page).to_have_url(re.compile(r"/signin\?redirect_uri=%2Fconsole$"))


def test_bob_is_refused_the_switch(tab: Tab) -> None:
    tab.sign_in("bob")
    assert tab.nav_identity() == "bob @ development"
    tab.open_menu().get_by_role("link", name="Switch Role").click()
    page = tab.page
    expect(page).to_have_url(re.compile(r"/switchrole$"))
    page.fill("form.switch-form input[name=account]", "production")
    page.fill("form.switch-form input[name=roleName]", "UpdateApp")
    tab.testid("switch-submit").click()
    error = tab.testid("switch-error")
    expect(error).to_contain_text(INVALID)
    explanation = tab.testid("explanation")
    expect(explanation).to_be_visible()
    expect(explanation).to_contain_text("sts:AssumeRole")
    expect(explanation).to_contain_text("arn:aws:iam::111122223333:user/bob")
    # The form keeps what bob typed; he is still himself.
    expect(page.locator("form.switch-form input[name=account]")).to_have_value("production")
    expect(tab.testid("nav-identity")).to_have_text("bob @ development")


def test_sessions_in_two_browsers_are_separate(tab: Tab, other_tab: Tab) -> None:
    sign_in_alice(tab)
    switch_to_update_app(tab)
    other_tab.sign_in("bob")
    tab.page.reload()
    expect(tab.testid("nav-identity")).to_have_text("UpdateApp @ production")
    expect(other_tab.testid("nav-identity")).to_have_text("bob @ development")
