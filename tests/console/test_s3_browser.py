"""The S3 pages' JavaScript in a real browser (Debian's chromium under Playwright): an upload
S3 refuses shows S3's message with the engine's explanation, hostile names stay text (no
script runs: `Tab.close` fails on any dialog, page error or CSP violation), and an upload
reloads the listing in place."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect

from .browser import Tab, open_tab
from .conftest import ConsoleServer

BROWSE = "/console/s3/buckets/productionapp"


@pytest.fixture
def tab(chromium: Browser, console: ConsoleServer) -> Iterator[Tab]:
    with open_tab(chromium, console) as opened:
        yield opened


def test_a_refused_upload_shows_the_engines_explanation(tab: Tab, tmp_path: Path) -> None:
    tab.sign_in("alice")
    page = tab.goto(BROWSE)
    listing = tab.testid("listing")
    expect(listing.get_by_test_id("aws-error")).to_contain_text("AccessDenied")
    source = tmp_path / f"denied-{secrets.token_hex(3)}.txt"
    source.write_bytes(b"not allowed")
    tab.testid("upload-input").set_input_files(source)
    tab.testid("upload-submit").click()
    status = tab.testid("upload-status")
    error = status.get_by_test_id("aws-error")
    expect(error).to_contain_text("AccessDenied")
    expect(error).to_contain_text("Access Denied")
    explanation = status.get_by_test_id("explanation")
    expect(explanation).to_contain_text("s3:PutObject")
    expect(explanation).to_contain_text("arn:aws:iam::111122223333:user/alice")
    assert page.url.endswith(BROWSE)


def test_hostile_names_upload_and_stay_text(tab: Tab, tmp_path: Path) -> None:
    tab.sign_in("alice")
    page = tab.goto("/switchrole?account=production&roleName=UpdateApp")
    tab.testid("switch-submit").click()
    expect(tab.testid("nav-identity")).to_have_text("UpdateApp @ production")
    folder = f"x{secrets.token_hex(4)}"
    page = tab.goto(BROWSE)
    page.fill(
        "input[name=name][data-testid=folder-name]", f'<img src=x onerror="alert(1)">{folder}'
    )
    tab.testid("create-folder").click()
    link = tab.testid("folder-link").filter(has_text=folder)
    expect(link).to_have_count(1)
    link.click()
    folder_key = f'<img src=x onerror="alert(1)">{folder}/'
    expect(tab.testid("current-prefix")).to_have_text(f'<img src=x onerror="alert(1)">{folder}/')
    name = "<script>alert('x')<\\script> ü 100%.txt"
    source = tmp_path / name
    source.write_bytes(b"hostile but harmless")
    tab.testid("upload-input").set_input_files(source)
    tab.testid("upload-submit").click()
    expect(tab.testid("upload-status")).to_have_text(re.compile(r"Uploaded\s*$"))
    # The listing was reloaded in place: the new object is there without a page load.
    objects = tab.testid("object-link")
    expect(objects).to_have_count(1)
    expect(objects).to_have_text(name)
    objects.click()
    expect(tab.testid("object-key")).to_contain_text(name)
    with page.expect_download() as downloading:
        tab.testid("download-link").click()
    download = downloading.value
    # filename* carries the exact name; chromium itself replaces what file systems refuse.
    assert download.suggested_filename == re.sub(r"[<>\\]", "_", name)
    assert Path(download.path()).read_bytes() == b"hostile but harmless"
    # The delete button asks first (data-confirm): accept that one dialog only.
    page.remove_listener("dialog", tab._on_dialog)
    confirms: list[str] = []

    def confirm(dialog: Dialog) -> None:
        confirms.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    tab.testid("delete-object").click()
    expect(tab.page).to_have_url(re.compile(r"done=object-deleted"))
    page.on("dialog", tab._on_dialog)
    assert confirms == [f"Delete {folder_key}{name}? This cannot be undone."]
    expect(tab.testid("empty-listing")).to_be_visible()
