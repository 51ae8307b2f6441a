"""The console's CloudTrail Event history: an account admin sees the account's events (the
SwitchRole, AssumeRole and ConsoleLogin of a switch into it), filters them, pages through
them and opens one; a session without cloudtrail:LookupEvents is refused with the engine's
explanation; invalid filters get CloudTrail's own errors or the form's, and hostile values
are escaped."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3  # type: ignore[import-untyped]
import pytest

from rolegate.demo import DEVELOPMENT, PRODUCTION

from .conftest import ConsoleClient, ConsoleServer

ADMIN_PASSWORD = "Audit-Viewer1"
_ROW = re.compile(
    r'<details class="ct-event" data-testid="event-row" data-event-id="([^"]*)">(.*?)</details>',
    re.S,
)
_JSON = re.compile(
    r'<div data-testid="event-json"><pre class="json"><code>(.*?)</code></pre>', re.S
)


@dataclass(frozen=True)
class Row:
    event_id: str
    name: str
    user: str
    time: str
    record: dict[str, Any]


@dataclass(frozen=True)
class Admin:
    name: str
    access_key_id: str
    secret_access_key: str


def _root(console: ConsoleServer, service: str = "iam") -> Any:
    key = console.world["Roots"]["production"]
    return boto3.client(
        service,
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def _one(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.S)
    assert found, f"no match for {pattern!r}"
    return html.unescape(found.group(1)).strip()


def _rows(page: str) -> list[Row]:
    rows = []
    for event_id, body in _ROW.findall(page):
        rows.append(
            Row(
                event_id=html.unescape(event_id),
                name=_one(r'data-testid="event-link">([^<]*)<', body),
                user=_one(r'data-testid="event-user">([^<]*)<', body),
                time=_one(r'data-testid="event-time">([^<]*)<', body),
                record=json.loads(_one(_JSON.pattern, body)),
            )
        )
    return rows


def _next(page: str) -> str | None:
    found = re.search(r'<a class="button small" href="([^"]*)" data-testid="next-page"', page)
    return html.unescape(found.group(1)) if found else None


def _sign_in(console: ConsoleServer, user: str, password: str) -> ConsoleClient:
    """ConsoleClient.sign_in with this user's own password, into production."""
    client = console.client()
    client.get("/signin")
    page = client.post(
        "/signin",
        {"kind": "iam", "account": "production", "username": user, "password": password},
    )
    assert page.url.path == "/console", page.text
    return client


@pytest.fixture(scope="module")
def admin_user(console: ConsoleServer) -> Admin:
    """An administrator of production with a console password and an access key."""
    iam = _root(console)
    name = f"audit-admin-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=ADMIN_PASSWORD, PasswordResetRequired=False)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Admin(name, key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture
def admin(console: ConsoleServer, admin_user: Admin) -> Iterator[ConsoleClient]:
    client = _sign_in(console, admin_user.name, ADMIN_PASSWORD)
    yield client
    client.close()


def _history(console: ConsoleServer, client: ConsoleClient, query: str = "") -> str:
    console.server.gateway.audit.flush()
    page = client.get("/console/cloudtrail" + (f"?{query}" if query else ""))
    assert page.status_code == 200, page.text
    return page.text


def test_admin_sees_alices_switch_into_production(
    console: ConsoleServer, alice: ConsoleClient, admin: ConsoleClient, admin_user: Admin
) -> None:
    switched = alice.switch_role()
    assert switched.url.path == "/console"
    page = _history(console, admin)
    assert 'class="current">CloudTrail</a>' in page
    rows = _rows(page)
    names = [row.name for row in rows]
    switch = next(row for row in rows if row.name == "SwitchRole")
    assert switch.record["additionalEventData"]["SwitchFrom"] == (
        f"arn:aws:iam::{DEVELOPMENT}:user/alice"
    )
    assert switch.record["recipientAccountId"] == PRODUCTION
    assert switch.user == "alice"
    assume = next(row for row in rows if row.name == "AssumeRole")
    assert assume.record["eventSource"] == "sts.amazonaws.com"
    assert assume.record["userIdentity"]["accountId"] == DEVELOPMENT
    assert assume.record["sharedEventID"]
    assert names.index("AssumeRole") > names.index("SwitchRole")  # newest first
    login = next(row for row in rows if row.name == "ConsoleLogin")
    assert login.user == admin_user.name
    assert login.record["responseElements"] == {"ConsoleLogin": "Success"}
    times = [row.time for row in rows]
    assert times == sorted(times, reverse=True)
    # Pretty-printed with indent 2, as parsed from CloudTrailEvent.
    assert '\n  "eventVersion": ' in html.unescape(page)


def test_filter_by_event_name_and_user_name(
    console: ConsoleServer, alice: ConsoleClient, admin: ConsoleClient, admin_user: Admin
) -> None:
    alice.switch_role()
    page = _history(console, admin, "key=EventName&value=SwitchRole")
    rows = _rows(page)
    assert rows and {row.name for row in rows} == {"SwitchRole"}
    assert '<option value="EventName" selected>' in page
    assert 'name="value" value="SwitchRole"' in page
    mine = _rows(_history(console, admin, f"key=Username&value={admin_user.name}"))
    assert mine and {row.user for row in mine} == {admin_user.name}
    assert "ConsoleLogin" in {row.name for row in mine}
    read = _rows(_history(console, admin, "key=ReadOnly&value=true&size=5"))
    assert read and all(row.record["readOnly"] is True for row in read)
    later = _history(console, admin, "start=2999-01-01T00:00&end=2999-12-31T00:00")
    assert _rows(later) == [] and 'data-testid="no-events"' in later


def test_paging_with_next_token(
    console: ConsoleServer, admin: ConsoleClient, admin_user: Admin
) -> None:
    iam = boto3.client(
        "iam",
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=admin_user.access_key_id,
        aws_secret_access_key=admin_user.secret_access_key,
    )
    for _ in range(5):
        iam.get_user()
    query = f"key=AccessKeyId&value={admin_user.access_key_id}&size=2"
    page = _history(console, admin, query)
    seen: list[Row] = []
    sizes = []
    while True:
        rows = _rows(page)
        sizes.append(len(rows))
        seen.extend(rows)
        link = _next(page)
        if link is None:
            break
        assert link.startswith("/console/cloudtrail?")
        assert f"value={admin_user.access_key_id}" in link and "size=2" in link
        console.server.gateway.audit.flush()
        next_page = admin.get(link)
        assert next_page.status_code == 200, next_page.text
        page = next_page.text
        assert 'data-testid="first-page"' in page
        assert f'href="/console/cloudtrail?{html.escape(query)}"' in page
    assert sizes == [2, 2, 1]
    assert [row.name for row in seen] == ["GetUser"] * 5
    assert len({row.event_id for row in seen}) == 5
    assert [row.time for row in seen] == sorted((row.time for row in seen), reverse=True)
    assert all(
        row.record["userIdentity"]["accessKeyId"] == admin_user.access_key_id for row in seen
    )


def test_event_detail(console: ConsoleServer, admin: ConsoleClient, admin_user: Admin) -> None:
    rows = _rows(_history(console, admin, f"key=Username&value={admin_user.name}&size=1"))
    assert len(rows) == 1
    row = rows[0]
    detail = admin.get(f"/console/cloudtrail/event?id={row.event_id}")
    assert detail.status_code == 200
    assert _one(r'data-testid="event-name">([^<]*)<', detail.text) == row.name
    assert _one(r'data-testid="event-id">([^<]*)<', detail.text) == row.event_id
    record = json.loads(_one(_JSON.pattern, detail.text))
    assert record == row.record and record["eventID"] == row.event_id
    missing = admin.get(f"/console/cloudtrail/event?id={uuid.uuid4()}")
    assert missing.status_code == 404 and 'data-testid="event-missing"' in missing.text
    assert admin.get("/console/cloudtrail/event").status_code == 400


def test_update_app_is_refused_with_the_engines_explanation(alice: ConsoleClient) -> None:
    alice.switch_role()
    for path in ("/console/cloudtrail", "/console/cloudtrail/event?id=x"):
        refused = alice.get(path)
        assert refused.status_code in (400, 403), refused.status_code
        assert 'data-testid="aws-error"' in refused.text
        assert "AccessDenied" in refused.text
        assert 'data-testid="explanation"' in refused.text
        assert "<code>cloudtrail:LookupEvents</code>" in refused.text
        assert "assumed-role/UpdateApp/alice" in refused.text
        assert 'data-testid="event-row"' not in refused.text


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("start=yesterday", 400, "Start time is not a date and time"),
        ("end=2024-13-01T00:00", 400, "End time is not a date and time"),
        ("start=1969-12-31T23:59", 400, "Start time must be in 1970 or later"),
        ("start=9999-12-31T23:59:59", 400, "InvalidTimeRangeException"),
        ("size=lots", 400, "Page size must be a whole number"),
        ("size=0", 400, "Page size must be a whole number"),
        ("size=51", 400, "InvalidMaxResultsException"),
        ("start=2024-05-02T00:00&end=2024-05-01T00:00", 400, "InvalidTimeRangeException"),
        (f"key=EventName&value={'x' * 2001}", 400, "InvalidLookupAttributesException"),
        ("key=Nope&value=x", 400, "InvalidLookupAttributesException"),
        ("token=forged", 400, "InvalidNextTokenException"),
    ],
)
def test_invalid_filters_are_explained(
    admin: ConsoleClient, query: str, status: int, message: str
) -> None:
    page = admin.get(f"/console/cloudtrail?{query}")
    assert page.status_code == status
    assert 'data-testid="aws-error"' in page.text
    assert message in page.text


def test_hostile_values_are_escaped(console: ConsoleServer, admin: ConsoleClient) -> None:
    hostile = "<script>alert(1)</script>"
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    _root(console).create_user(UserName=name, Path=f"/{hostile}/")
    arn = f"arn:aws:iam::{PRODUCTION}:user/{hostile}/{name}"
    page = _history(console, admin, urlencode({"key": "ResourceName", "value": arn}))
    rows = _rows(page)
    assert [row.name for row in rows] == ["CreateUser"]
    assert html.escape(arn, quote=False) in page  # the resource name column
    assert rows[0].record["requestParameters"]["path"] == f"/{hostile}/"
    detail = admin.get(f"/console/cloudtrail/event?id={rows[0].event_id}")
    reflected = admin.get("/console/cloudtrail", params={"key": "EventName", "value": hostile})
    for text in (page, detail.text, reflected.text):
        assert hostile not in text
        assert html.escape(hostile) in text or "&lt;script&gt;" in text
