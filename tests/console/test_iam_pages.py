"""The console's IAM pages through their HTTP forms, as a browser fills them: an admin (a
user created with the development root's keys) walks users, groups, roles and policies;
access key secrets are shown once; MFA registration with two codes; a refused trust policy
shows the engine's issues at their JSON pointer; hostile text is escaped; a tester is refused
with the engine's reason; forms need the session's CSRF token."""

from __future__ import annotations

import html
import json
import re
import secrets
from base64 import b64decode
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from rolegate.console.iam_roles import default_trust
from rolegate.mfa import base32_to_seed, totp

from .conftest import ConsoleClient, ConsoleServer

HOSTILE = "<script>alert(1)</script>"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def _unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _root_iam(console: ConsoleServer, account: str = "development") -> Any:
    key = console.world["Roots"][account]
    return boto3.client(
        "iam",
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def _sign_in(client: ConsoleClient, user: str, password: str, account: str) -> None:
    client.get("/signin")
    response = client.post(
        "/signin", {"kind": "iam", "account": account, "username": user, "password": password}
    )
    assert response.url.path == "/console", response.text


@pytest.fixture
def admin(console: ConsoleServer) -> Iterator[ConsoleClient]:
    """A fresh administrator of the development account, signed in to the console."""
    # The token key ring must exist before a first sign-in without MFA: creating it inside
    # the sign-in's write transaction waits on the store's write gate it holds (a deadlock
    # outside these pages, reported).
    console.server.database_keys().current()
    iam = _root_iam(console)
    name = _unique("admin")
    password = f"Admin-{secrets.token_urlsafe(12)}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=password)
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY)
    client = console.client()
    _sign_in(client, name, password, "development")
    yield client
    client.close()


def _testid(page: str, testid: str) -> str:
    """The text inside the first element with that data-testid."""
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', page, re.S)
    assert found, f"no {testid} on the page"
    return html.unescape(found.group(1)).strip()


def _textarea(page: str) -> str:
    found = re.search(r"<textarea[^>]*>\n?(.*?)</textarea>", page, re.S)
    assert found
    return html.unescape(found.group(1))


def _no_hostile_markup(page: str) -> None:
    assert HOSTILE not in page
    assert "<script>alert" not in page


# --------------------------------------------------------------------------- dashboard


def test_dashboard_shows_the_account_summary(admin: ConsoleClient, console: ConsoleServer) -> None:
    page = admin.get("/console/iam")
    assert page.status_code == 200
    assert _testid(page.text, "account-id") == console.world["Accounts"]["development"]
    users = int(_testid(page.text, "count-users"))
    assert users >= 3  # alice, bob, and this admin
    for link in ("/console/iam/users", "/console/iam/groups", "/console/iam/roles"):
        assert f'href="{link}"' in page.text


# --------------------------------------------------------------------------- users


def test_user_lifecycle_with_groups_policies_and_password(admin: ConsoleClient) -> None:
    name = _unique("carol")
    group = _unique("Readers")
    created = admin.post(
        "/console/iam/create/user",
        {"name": name, "path": "/", "tag_key": "team", "tag_value": "blue"},
    )
    assert created.status_code == 200
    assert created.url.path == f"/console/iam/users/{name}"
    assert "User created." in created.text
    assert _testid(created.text, "entity-name") == name
    assert "blue" in created.text
    listing = admin.get("/console/iam/users")
    assert f'href="/console/iam/users/{name}"' in listing.text

    admin.post("/console/iam/create/group", {"name": group, "path": "/"})
    joined = admin.post(f"/console/iam/users/{name}/groups/add", {"group": group})
    assert "User added to the group." in joined.text
    assert f'href="/console/iam/groups/{group}"' in joined.text

    attached = admin.post(
        f"/console/iam/users/{name}/attach",
        {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    )
    assert "Policy attached." in attached.text
    assert "arn:aws:iam::aws:policy/ReadOnlyAccess" in attached.text

    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
    editor = admin.get(f"/console/iam/users/{name}/inline")
    assert editor.status_code == 200
    saved = admin.post(
        f"/console/iam/users/{name}/inline",
        {"policy_name": "list-buckets", "document": json.dumps(document), "existing": "0"},
    )
    assert "Inline policy saved." in saved.text
    # The document is shown pretty-printed (decoded from IAM's URL-encoded JSON).
    assert '"Action": "s3:ListAllMyBuckets"' in html.unescape(saved.text)
    edit = admin.get(f"/console/iam/users/{name}/inline?policy=list-buckets")
    assert json.loads(_textarea(edit.text)) == document

    password = f"Pw-{secrets.token_urlsafe(10)}"
    with_password = admin.post(
        f"/console/iam/users/{name}/password",
        {"mode": "create", "password": password, "reset": "1"},
    )
    assert "Console password set." in with_password.text
    assert "a new password is required at next sign-in" in with_password.text
    changed = admin.post(
        f"/console/iam/users/{name}/password", {"mode": "update", "password": password + "x"}
    )
    assert "Console password set." in changed.text
    assert "a new password is required" not in changed.text

    # AWS refuses to delete a user that still has attachments: the conflict as it comes.
    conflict = admin.post(f"/console/iam/users/{name}/delete")
    assert conflict.status_code == 409
    assert "DeleteConflict" in conflict.text
    assert _testid(conflict.text, "entity-name") == name

    admin.post(f"/console/iam/users/{name}/password/delete")
    admin.post(f"/console/iam/users/{name}/inline/delete", {"policy_name": "list-buckets"})
    admin.post(
        f"/console/iam/users/{name}/detach",
        {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    )
    left = admin.post(f"/console/iam/users/{name}/groups/remove", {"group": group})
    assert "User removed from the group." in left.text
    assert "Not a member of any group." in left.text
    deleted = admin.post(f"/console/iam/users/{name}/delete")
    assert deleted.status_code == 200
    assert deleted.url.path == "/console/iam/users"
    assert "User deleted." in deleted.text
    assert f'href="/console/iam/users/{name}"' not in deleted.text
    missing = admin.get(f"/console/iam/users/{name}")
    assert missing.status_code == 404
    assert "NoSuchEntity" in missing.text


def test_access_key_secret_is_shown_once(admin: ConsoleClient) -> None:
    name = _unique("keys")
    admin.post("/console/iam/create/user", {"name": name})
    created = admin.post(f"/console/iam/users/{name}/keys/create")
    assert created.status_code == 200
    key_id = _testid(created.text, "access-key-id")
    secret = _testid(created.text, "secret-access-key")
    assert key_id.startswith("AKIA")
    assert len(secret) == 40
    assert 'class="secret"' in created.text

    user_page = admin.get(f"/console/iam/users/{name}")
    assert key_id in user_page.text
    assert secret not in user_page.text
    deactivated = admin.post(
        f"/console/iam/users/{name}/keys/update", {"key_id": key_id, "status": "Inactive"}
    )
    assert "Access key updated." in deactivated.text
    assert "Inactive" in deactivated.text
    assert ">Activate<" in deactivated.text
    reactivated = admin.post(
        f"/console/iam/users/{name}/keys/update", {"key_id": key_id, "status": "Active"}
    )
    assert ">Deactivate<" in reactivated.text
    deleted = admin.post(f"/console/iam/users/{name}/keys/delete", {"key_id": key_id})
    assert "Access key deleted." in deleted.text
    assert key_id not in deleted.text
    assert secret not in deleted.text


def test_mfa_registration_with_two_codes(admin: ConsoleClient, console: ConsoleServer) -> None:
    name = _unique("mfa")
    admin.post("/console/iam/create/user", {"name": name})
    enrol = admin.post(f"/console/iam/users/{name}/mfa/create", {"device_name": name})
    assert enrol.status_code == 200
    qr = re.search(r'<img class="qr" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', enrol.text)
    assert qr, "no QR code image"
    assert b64decode(qr.group(1)).startswith(b"\x89PNG")
    seed_text = _testid(enrol.text, "mfa-seed")
    uri = _testid(enrol.text, "mfa-uri")
    assert uri.startswith("otpauth://totp/") and f"secret={seed_text}" in uri
    serial = re.search(r'name="serial" value="([^"]+)"', enrol.text)
    assert serial
    assert serial.group(1).endswith(f":mfa/{name}")

    seed = base32_to_seed(seed_text)
    now = console.server.clock.now().timestamp()
    wrong = admin.post(
        f"/console/iam/users/{name}/mfa/enable",
        {"serial": serial.group(1), "code1": "000000", "code2": "000000"},
    )
    assert wrong.status_code >= 400
    assert 'data-testid="aws-error"' in wrong.text
    assert 'name="code1"' in wrong.text  # the form again, to retry
    assert seed_text not in wrong.text  # the seed was shown once
    enabled = admin.post(
        f"/console/iam/users/{name}/mfa/enable",
        {
            "serial": serial.group(1),
            "code1": totp(seed, now - 30),
            "code2": totp(seed, now),
        },
    )
    assert enabled.status_code == 200, enabled.text
    assert enabled.url.path == f"/console/iam/users/{name}"
    assert "MFA device assigned." in enabled.text
    assert serial.group(1) in enabled.text

    removed = admin.post(
        f"/console/iam/users/{name}/mfa/deactivate", {"serial": serial.group(1), "delete": "1"}
    )
    assert "MFA device deactivated." in removed.text
    assert "No MFA devices." in removed.text
    devices = admin.get("/console/iam/mfa")
    assert serial.group(1) not in devices.text


def test_unassigned_virtual_device_can_be_deleted(admin: ConsoleClient) -> None:
    name = _unique("spare")
    admin.post("/console/iam/create/user", {"name": name})
    enrol = admin.post(f"/console/iam/users/{name}/mfa/create", {"device_name": name})
    serial = re.search(r'name="serial" value="([^"]+)"', enrol.text)
    assert serial
    devices = admin.get("/console/iam/mfa")
    assert serial.group(1) in devices.text
    deleted = admin.post("/console/iam/mfa/delete", {"serial": serial.group(1)})
    assert "Virtual MFA device deleted." in deleted.text
    assert serial.group(1) not in deleted.text


# --------------------------------------------------------------------------- groups


def test_group_lifecycle(admin: ConsoleClient) -> None:
    group = _unique("Builders")
    user = _unique("dave")
    created = admin.post("/console/iam/create/group", {"name": group, "path": "/"})
    assert created.url.path == f"/console/iam/groups/{group}"
    assert "Group created." in created.text
    duplicate = admin.post("/console/iam/create/group", {"name": group})
    assert duplicate.status_code == 409
    assert "EntityAlreadyExists" in duplicate.text
    assert f'value="{group}"' in duplicate.text

    admin.post("/console/iam/create/user", {"name": user})
    added = admin.post(f"/console/iam/groups/{group}/members/add", {"user": user})
    assert "User added to the group." in added.text
    assert f'href="/console/iam/users/{user}"' in added.text
    attached = admin.post(
        f"/console/iam/groups/{group}/attach",
        {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    )
    assert "Policy attached." in attached.text
    inline = admin.post(
        f"/console/iam/groups/{group}/inline",
        {
            "policy_name": "get-user",
            "document": '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", '
            '"Action": "iam:GetUser", "Resource": "*"}}',
        },
    )
    assert "Inline policy saved." in inline.text
    assert '"Action": "iam:GetUser"' in html.unescape(inline.text)

    conflict = admin.post(f"/console/iam/groups/{group}/delete")
    assert conflict.status_code == 409
    assert "DeleteConflict" in conflict.text
    admin.post(f"/console/iam/groups/{group}/members/remove", {"user": user})
    admin.post(
        f"/console/iam/groups/{group}/detach",
        {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    )
    admin.post(f"/console/iam/groups/{group}/inline/delete", {"policy_name": "get-user"})
    deleted = admin.post(f"/console/iam/groups/{group}/delete")
    assert deleted.url.path == "/console/iam/groups"
    assert "Group deleted." in deleted.text


# --------------------------------------------------------------------------- roles


def test_role_lifecycle_and_switch_role_link(admin: ConsoleClient, console: ConsoleServer) -> None:
    role = _unique("Deployer")
    form = admin.get("/console/iam/create/role")
    prefilled = json.loads(_textarea(form.text))
    assert prefilled["Statement"][0]["Principal"]["AWS"].endswith(":root")
    production = console.world["Accounts"]["production"]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{production}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    created = admin.post(
        "/console/iam/create/role",
        {
            "name": role,
            "path": "/team/",
            "description": "Deploys the app",
            "duration": "7200",
            "trust": trust,
        },
    )
    assert created.url.path == f"/console/iam/roles/{role}"
    assert "Role created." in created.text
    assert _testid(created.text, "max-session") == "7200 seconds"
    assert f"arn:aws:iam::{production}:root" in created.text
    development = console.world["Accounts"]["development"]
    link = _testid(created.text, "switch-role-link")
    assert link == (f"/switchrole?account={development}&roleName=team%2F{role}&displayName={role}")

    updated = admin.post(
        f"/console/iam/roles/{role}/update", {"description": "Ships it", "duration": "3600"}
    )
    assert "Role updated." in updated.text
    assert _testid(updated.text, "max-session") == "3600 seconds"
    attached = admin.post(
        f"/console/iam/roles/{role}/attach",
        {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    )
    assert "Policy attached." in attached.text

    editor = admin.get(f"/console/iam/roles/{role}/trust")
    assert json.loads(_textarea(editor.text))["Statement"][0]["Action"] == "sts:AssumeRole"
    new_trust = trust.replace(production, development)
    saved = admin.post(f"/console/iam/roles/{role}/trust", {"document": new_trust})
    assert "Trust policy updated." in saved.text
    assert f"arn:aws:iam::{development}:root" in saved.text

    conflict = admin.post(f"/console/iam/roles/{role}/delete")
    assert conflict.status_code == 409
    assert "DeleteConflict" in conflict.text
    admin.post(
        f"/console/iam/roles/{role}/detach",
        {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    )
    deleted = admin.post(f"/console/iam/roles/{role}/delete")
    assert deleted.url.path == "/console/iam/roles"
    assert "Role deleted." in deleted.text


def test_invalid_trust_policy_shows_the_pointer_and_keeps_the_text(
    admin: ConsoleClient,
) -> None:
    role = _unique("Checked")
    admin.post("/console/iam/create/role", {"name": role, "trust": default_trust()})
    bad = (
        "{\n"
        '  "Version": "2012-10-17",\n'
        '  "Statement": [\n'
        "    {\n"
        '      "Effect": "Allow",\n'
        '      "Principal": {"AWS": "not-an-arn"},\n'
        '      "Action": "sts:AssumeRole"\n'
        "    }\n"
        "  ]\n"
        "}"
    )
    refused = admin.post(f"/console/iam/roles/{role}/trust", {"document": bad})
    assert refused.status_code == 400
    assert "MalformedPolicyDocument" in refused.text
    assert 'data-testid="policy-problems"' in refused.text
    assert _testid(refused.text, "policy-pointer") == "/Statement/0/Principal/AWS"
    assert "(line 6, column 21)" in refused.text
    assert _textarea(refused.text) == bad
    # Not JSON at all: IAM's message and the engine's syntax error, the text kept.
    broken = admin.post(f"/console/iam/roles/{role}/trust", {"document": '{"Version": '})
    assert broken.status_code == 400
    assert "Syntax errors in policy" in broken.text
    assert _textarea(broken.text) == '{"Version": '


# --------------------------------------------------------------------------- policies


def test_managed_policy_lifecycle(admin: ConsoleClient) -> None:
    name = _unique("ReadBuckets")
    user = _unique("erin")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
    }
    created = admin.post(
        "/console/iam/create/policy",
        {
            "name": name,
            "path": "/",
            "description": "Lists buckets",
            "document": json.dumps(document),
        },
    )
    assert created.url.path == "/console/iam/policies/view"
    assert "Policy created." in created.text
    arn = re.search(r'name="arn" value="([^"]+)"', created.text)
    assert arn
    policy_arn = arn.group(1)
    assert policy_arn.endswith(f":policy/{name}")
    assert '"Action": "s3:ListBucket"' in html.unescape(created.text)
    listing = admin.get("/console/iam/policies")
    assert name in listing.text
    assert "AdministratorAccess" not in listing.text
    with_aws = admin.get("/console/iam/policies?scope=All")
    assert "AdministratorAccess" in with_aws.text

    admin.post("/console/iam/create/user", {"name": user})
    admin.post(f"/console/iam/users/{user}/attach", {"policy_arn": policy_arn})
    view = admin.get(f"/console/iam/policies/view?arn={quote(policy_arn, safe='')}")
    assert f'href="/console/iam/users/{user}"' in view.text

    editor = admin.get(f"/console/iam/policies/versions/new?arn={quote(policy_arn, safe='')}")
    assert json.loads(_textarea(editor.text)) == document
    document["Statement"][0]["Action"] = "s3:GetObject"  # type: ignore[index]
    version = admin.post(
        "/console/iam/policies/versions/new",
        {"arn": policy_arn, "document": json.dumps(document), "set_default": "1"},
    )
    assert "Policy version created." in version.text
    assert '"Action": "s3:GetObject"' in html.unescape(version.text)
    default_back = admin.post(
        "/console/iam/policies/versions/default", {"arn": policy_arn, "version": "v1"}
    )
    assert "Default version set." in default_back.text
    assert '"Action": "s3:ListBucket"' in html.unescape(default_back.text)
    removed = admin.post(
        "/console/iam/policies/versions/delete", {"arn": policy_arn, "version": "v2"}
    )
    assert "Policy version deleted." in removed.text

    conflict = admin.post("/console/iam/policies/delete", {"arn": policy_arn})
    assert conflict.status_code == 409
    assert "DeleteConflict" in conflict.text
    admin.post(f"/console/iam/users/{user}/detach", {"policy_arn": policy_arn})
    deleted = admin.post("/console/iam/policies/delete", {"arn": policy_arn})
    assert deleted.url.path == "/console/iam/policies"
    assert "Policy deleted." in deleted.text


def test_invalid_policy_document_shows_the_issues(admin: ConsoleClient) -> None:
    name = _unique("Broken")
    bad = '{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*"}]}'
    refused = admin.post("/console/iam/create/policy", {"name": name, "document": bad})
    assert refused.status_code == 400
    assert "MalformedPolicyDocument" in refused.text
    pointers = re.findall(r'data-testid="policy-pointer">([^<]*)<', refused.text)
    assert "/Statement/0/Effect" in pointers
    assert "(line 1, column" in refused.text
    assert _textarea(refused.text) == bad
    assert f'value="{name}"' in refused.text


# --------------------------------------------------------------------------- escaping


def test_hostile_text_is_escaped(admin: ConsoleClient) -> None:
    role = _unique("Hostile")
    policy = _unique("HostilePolicy")
    user = _unique("tagged")
    created = admin.post(
        "/console/iam/create/role",
        {
            "name": role,
            "description": HOSTILE,
            "tag_key": "note",
            "tag_value": "a=b",
            "trust": default_trust(),
        },
    )
    assert "Role created." in created.text
    _no_hostile_markup(created.text)
    assert "a=b" in created.text  # the role's tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in created.text
    _no_hostile_markup(admin.get("/console/iam/roles").text)

    made = admin.post(
        "/console/iam/create/policy",
        {
            "name": policy,
            "description": HOSTILE,
            "document": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": HOSTILE}],
                }
            ),
        },
    )
    _no_hostile_markup(made.text)
    _no_hostile_markup(admin.get("/console/iam/policies").text)

    # A Sid IAM refuses: the message, the issues and the kept text, all escaped.
    sid = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": HOSTILE, "Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    refused = admin.post(
        f"/console/iam/roles/{role}/inline", {"policy_name": "bad", "document": sid}
    )
    assert refused.status_code == 400
    _no_hostile_markup(refused.text)
    assert _textarea(refused.text) == sid
    assert "/Statement/0/Sid" in refused.text

    # IAM refuses the tag, and its message quoting the value is escaped too.
    tagged = admin.post(
        "/console/iam/create/user", {"name": user, "tag_key": "note", "tag_value": HOSTILE}
    )
    assert tagged.status_code == 400
    assert "ValidationError" in tagged.text
    _no_hostile_markup(tagged.text)
    # A hostile name in a URL is never reflected unescaped either.
    missing = admin.get(f"/console/iam/users/{quote(HOSTILE, safe='')}")
    assert missing.status_code >= 400
    _no_hostile_markup(missing.text)


# --------------------------------------------------------------------------- refusals


def test_tester_is_refused_listing_users_with_the_engines_reason(bob: ConsoleClient) -> None:
    refused = bob.get("/console/iam/users")
    assert refused.status_code == 403
    assert "AccessDenied" in refused.text
    assert 'data-testid="explanation"' in refused.text
    assert "No identity-based policy allows" in refused.text
    assert "iam:ListUsers" in refused.text
    dashboard = bob.get("/console/iam")
    assert dashboard.status_code == 403
    assert 'data-testid="explanation"' in dashboard.text


def test_forms_need_the_csrf_token(admin: ConsoleClient, console: ConsoleServer) -> None:
    name = _unique("nocsrf")
    refused = admin.http.post("/console/iam/create/user", data={"name": name})
    assert refused.status_code == 403
    forged = admin.http.post("/console/iam/create/user", data={"name": name, "csrf": "forged"})
    assert forged.status_code == 403
    iam = _root_iam(console)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=name)


def test_signed_out_visitor_goes_to_sign_in(browser_client: ConsoleClient) -> None:
    page = browser_client.get("/console/iam/users")
    assert page.url.path == "/signin"
