"""Playwright (sync API) driving Debian's chromium against the console test server.

Only the machine's `/usr/bin/chromium` is used (never a browser Playwright downloads): without
it the browser tests fail with a message saying how to install it (`.ci/run` does).

A `Tab` is one browser context (its own cookie jar) with one page. It records what must never
happen on a console page and `Tab.close` asserts it did not: a JavaScript dialog (an injected
script ran), an uncaught page error, or a Content-Security-Policy violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    expect,
    sync_playwright,
)

from .conftest import ConsoleServer

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "Tab", "launch_chromium", "open_tab"]

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS: Final = 10_000
# Chrome logs every 4xx/5xx document it loads; a console denial is one (403 with the reason).
_HTTP_STATUS_LOG: Final = re.compile(r"^Failed to load resource: the server responded with")


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Headless Debian chromium under Playwright; fails (does not skip) when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the console's browser tests drive Debian's chromium "
            "(`apt-get install chromium`; .ci/run installs it). Playwright's own downloaded "
            "browsers are not used.",
            pytrace=False,
        )
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class Tab:
    """One signed-out browser context with one page on the console server."""

    def __init__(
        self, browser: Browser, console: ConsoleServer, *, viewport: tuple[int, int] = (1280, 800)
    ) -> None:
        self.console = console
        self.context: BrowserContext = browser.new_context(
            base_url=console.url,
            accept_downloads=True,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("console", self._on_console)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not _HTTP_STATUS_LOG.match(message.text):
            self.errors.append(f"console error: {message.text}")

    # ------------------------------------------------------------------ navigation
    def goto(self, path: str) -> Page:
        self.page.goto(path)
        return self.page

    def testid(self, name: str) -> Locator:
        return self.page.get_by_test_id(name)

    def sign_in(
        self, user: str, *, account: str = "development", password: str | None = None
    ) -> None:
        """The sign-in form (and the MFA step for alice), ending on Console Home."""
        page = self.goto("/signin")
        page.check("input[name=kind][value=iam]")
        page.fill("input[name=account]", account)
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password or self.console.password(user))
        self.testid("signin-submit").click()
        page.wait_for_load_state()
        if page.url.endswith("/signin/mfa"):
            page.fill("input[name=code]", self.console.mfa_code())
            self.testid("mfa-submit").click()
        expect(page).to_have_url(re.compile(r"/console$"))

    def open_menu(self) -> Locator:
        """Open the account menu (a `<details>`): its summary is the nav identity."""
        menu = self.page.locator("details.account-menu")
        if menu.get_attribute("open") is None:
            self.testid("nav-identity").click()
        expect(menu).to_have_attribute("open", "")
        return menu

    def nav_identity(self) -> str:
        return self.testid("nav-identity").inner_text().strip()

    def close(self) -> None:
        try:
            assert not self.dialogs, f"a script ran in the console: {self.dialogs}"
            assert not self.errors, f"the console page had errors: {self.errors}"
        finally:
            self.context.close()


@contextmanager
def open_tab(browser: Browser, console: ConsoleServer) -> Iterator[Tab]:
    tab = Tab(browser, console)
    try:
        yield tab
    except BaseException:
        tab.context.close()
        raise
    else:
        tab.close()
