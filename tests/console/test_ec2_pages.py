"""The console's EC2 instances page, used through the TerminateInstances role after Switch
Role: carol (Admins, MFA) terminates a production instance and is refused a staging one, with
AWS's message and the engine's explanation. httpx (forms like a browser) and chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Dialog, expect

from rolegate.mfa import base32_to_seed, totp

from .browser import Tab, open_tab
from .conftest import ConsoleClient, ConsoleServer

INSTANCES = "/console/ec2/instances"
ROLE_ARN_PART = "assumed-role/TerminateInstances/carol"


def carol_code(console: ConsoleServer) -> str:
    """carol's next MFA code (the server's clock moves one 30 s step first: a code works
    once)."""
    console.server.clock.advance(30)
    seed = base32_to_seed(console.world["Users"]["carol"]["MfaSeed"])
    return totp(seed, console.server.clock.now().timestamp())


def _instance(console: ConsoleServer, name: str) -> str:
    return str(console.world["Instances"][name])


@pytest.fixture
def carol(console: ConsoleServer) -> Iterator[ConsoleClient]:
    client = console.client()
    client.get("/signin")
    response = client.post(
        "/signin",
        {
            "kind": "iam",
            "account": "development",
            "username": "carol",
            "password": console.password("carol"),
        },
    )
    assert response.url.path == "/signin/mfa"
    client.post("/signin/mfa", {"code": carol_code(console)})
    yield client
    client.close()


def _row(html: str, instance_id: str) -> str:
    found = re.search(
        rf'<tr data-testid="instance-row" data-instance-id="{instance_id}">(.*?)</tr>', html, re.S
    )
    assert found is not None, f"no row for {instance_id}"
    return found.group(1)


def test_instances_page_through_the_terminate_role(
    carol: ConsoleClient, console: ConsoleServer
) -> None:
    own = carol.get(INSTANCES)
    assert own.status_code == 200 and 'data-testid="no-instances"' in own.text  # development
    switched = carol.switch_role("TerminateInstances")
    assert switched.url.path == "/console"
    listing = carol.get(INSTANCES)
    assert listing.status_code == 200
    for name in ("web-1", "web-2", "staging-web-1", "staging-web-2"):
        assert _instance(console, name) in listing.text
    assert "env=staging" in _row(listing.text, _instance(console, "staging-web-2"))

    staging = _instance(console, "staging-web-2")
    refused = carol.post(f"{INSTANCES}/action", {"action": "terminate", "instance_id": staging})
    assert refused.status_code == 403
    assert "UnauthorizedOperation" in refused.text
    assert "Why the policy engine refused it" in refused.text
    assert f"instance/{staging}" in refused.text and ROLE_ARN_PART in refused.text
    assert ">running<" in _row(refused.text, staging)

    web = _instance(console, "web-2")
    done = carol.post(f"{INSTANCES}/action", {"action": "terminate", "instance_id": web})
    assert done.status_code == 200 and done.url.params["done"] == "terminate"
    assert f"Terminating instance {web}." in done.text
    assert ">shutting-down<" in _row(done.text, web)
    stop = carol.post(
        f"{INSTANCES}/action", {"action": "stop", "instance_id": _instance(console, "web-1")}
    )
    assert stop.status_code == 403 and "ec2:StopInstances" in stop.text
    bogus = carol.post(f"{INSTANCES}/action", {"action": "explode", "instance_id": web})
    assert bogus.status_code == 400


def test_a_developer_may_not_list_instances(alice: ConsoleClient) -> None:
    refused = alice.get(INSTANCES)
    assert refused.status_code == 403
    assert "UnauthorizedOperation" in refused.text and "ec2:DescribeInstances" in refused.text


def _sign_in_carol(tab: Tab) -> None:
    page = tab.goto("/signin")
    page.check("input[name=kind][value=iam]")
    page.fill("input[name=account]", "development")
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", tab.console.password("carol"))
    tab.testid("signin-submit").click()
    expect(page).to_have_url(re.compile(r"/signin/mfa$"))
    page.fill("input[name=code]", carol_code(tab.console))
    tab.testid("mfa-submit").click()
    expect(page).to_have_url(re.compile(r"/console$"))


def _terminate(tab: Tab, instance_id: str, confirms: list[str]) -> None:
    page = tab.page
    page.remove_listener("dialog", tab._on_dialog)

    def confirm(dialog: Dialog) -> None:
        confirms.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    row = page.locator(f'[data-testid="instance-row"][data-instance-id="{instance_id}"]')
    row.get_by_test_id("terminate-instance").click()
    page.wait_for_load_state()
    page.on("dialog", tab._on_dialog)


def test_browser_switches_to_the_role_and_terminates_production_only(
    chromium: Browser, console: ConsoleServer
) -> None:
    with open_tab(chromium, console) as tab:
        _sign_in_carol(tab)
        page = tab.goto(
            "/switchrole?account=production&roleName=TerminateInstances"
            "&displayName=Terminate&color=F2B0A9"
        )
        tab.testid("switch-submit").click()
        expect(page).to_have_url(re.compile(r"/console$"))
        expect(tab.testid("nav-identity")).to_have_text("Terminate @ production")
        page.get_by_role("link", name="EC2", exact=True).click()
        expect(page).to_have_url(re.compile(r"/console/ec2/instances$"))
        web = _instance(console, "web-1")
        staging = _instance(console, "staging-web-1")
        confirms: list[str] = []
        _terminate(tab, web, confirms)
        expect(page).to_have_url(re.compile(r"done=terminate"))
        row = page.locator(f'[data-testid="instance-row"][data-instance-id="{web}"]')
        expect(row.get_by_test_id("instance-state")).to_have_text("shutting-down")
        expect(row.get_by_test_id("terminate-instance")).to_have_count(0)

        _terminate(tab, staging, confirms)
        error = tab.testid("aws-error")
        expect(error).to_contain_text("UnauthorizedOperation")
        expect(error).to_contain_text(f"instance/{staging}")
        explanation = tab.testid("explanation")
        expect(explanation).to_contain_text("Why the policy engine refused it")
        expect(explanation).to_contain_text("ec2:TerminateInstances")
        staging_row = page.locator(f'[data-testid="instance-row"][data-instance-id="{staging}"]')
        expect(staging_row.get_by_test_id("instance-state")).to_have_text("running")
        assert confirms == [
            f"Terminate web-1 ({web})? A terminated instance cannot be started again.",
            f"Terminate staging-web-1 ({staging})? A terminated instance cannot be started again.",
        ]
