"""Switch Role and Back through the console's HTTP forms (the browser story is in
test_browser.py): authorized with the original identity, AWS's message on refusal with the
engine's explanation, the role history, and permissions that never accumulate."""

from __future__ import annotations

import json
import re

import boto3
from sqlalchemy import select

from rolegate.demo import DEVELOPMENT, PRODUCTION
from rolegate.store.schema import audit_events

from .conftest import ConsoleClient, ConsoleServer

INVALID = (
    "Invalid information in one or more fields. Check your information or contact your "
    "administrator."
)


def _nav(html: str) -> str:
    found = re.search(r'data-testid="nav-identity"[^>]*>([^<]*)<', html)
    assert found, "no navigation identity on the page"
    return found.group(1)


def _arn(html: str) -> str:
    found = re.search(r"<dt>ARN</dt><dd><code>([^<]*)</code>", html)
    assert found
    return found.group(1)


def test_alice_switches_to_update_app_and_back(alice: ConsoleClient) -> None:
    home = alice.get("/console")
    assert _nav(home.text) == "alice @ development"
    switched = alice.switch_role(displayName="Prod app", color="F2B0A9")
    assert switched.url.path == "/console"
    assert _nav(switched.text) == "Prod app @ production"
    assert _arn(switched.text) == "arn:aws:sts::444455556666:assumed-role/UpdateApp/alice"
    assert "#F2B0A9" in switched.text
    back = alice.post("/console/exit-role")
    assert _nav(back.text) == "alice @ development"
    assert _arn(back.text) == "arn:aws:iam::111122223333:user/alice"


def test_switching_between_roles_goes_through_the_user(alice: ConsoleClient) -> None:
    alice.switch_role("UpdateApp")
    # In UpdateApp, which may not call sts:AssumeRole itself: the switch still works, being
    # authorized as alice (with her sign-in's MFA for UpdateAppMFA).
    second = alice.switch_role("UpdateAppMFA")
    assert _arn(second.text) == "arn:aws:sts::444455556666:assumed-role/UpdateAppMFA/alice"
    history = re.findall(r'class="linklike history-entry">.*?</span>([^<]*)<', second.text)
    assert history[:2] == ["UpdateAppMFA", "UpdateApp"]


def test_bob_is_refused_with_the_engines_reason(bob: ConsoleClient) -> None:
    refused = bob.switch_role()
    assert refused.status_code == 400
    assert INVALID in refused.text
    assert 'data-testid="explanation"' in refused.text
    assert "No identity-based policy allows" in refused.text
    assert _nav(refused.text) == "bob @ development"


def test_prefilled_link(alice: ConsoleClient) -> None:
    page = alice.get(
        "/switchrole?account=production&roleName=UpdateApp&displayName=%3Cb%3Ex&color=99BCE3"
    )
    assert 'name="account" value="production"' in page.text
    assert 'name="roleName" value="UpdateApp"' in page.text
    assert 'value="&lt;b&gt;x"' in page.text
    assert 'value="99BCE3" checked' in page.text


def test_unknown_account_or_role_gets_the_same_message(alice: ConsoleClient) -> None:
    for account, role in (("nosuchalias", "UpdateApp"), ("production", "NoSuchRole")):
        refused = alice.switch_role(role, account)
        assert refused.status_code == 400
        assert INVALID in refused.text


def test_sign_in_switch_and_exit_are_audited(console: ConsoleServer) -> None:
    """ConsoleLogin (with MFAUsed), SwitchRole (from which user) and ExitRole land in the
    accounts they concern, as CloudTrail writes them."""
    client = console.client()
    try:
        client.sign_in("alice")
        client.switch_role()
        client.post("/console/exit-role")
    finally:
        client.close()
    gateway = console.server.gateway
    gateway.audit.flush()
    with console.server.database.read() as uow:
        rows = uow.connection.execute(
            select(audit_events.c.account_id, audit_events.c.event_name, audit_events.c.record)
            .where(audit_events.c.event_source == "signin.amazonaws.com")
            .order_by(audit_events.c.event_time)
        ).all()
    records = [(row.account_id, row.event_name, json.loads(row.record)) for row in rows]
    logins = [r for a, name, r in records if name == "ConsoleLogin" and a == DEVELOPMENT]
    assert logins[-1]["additionalEventData"]["MFAUsed"] == "Yes"
    assert logins[-1]["userIdentity"]["arn"] == f"arn:aws:iam::{DEVELOPMENT}:user/alice"
    assert logins[-1]["responseElements"] == {"ConsoleLogin": "Success"}
    switch = [r for a, name, r in records if name == "SwitchRole" and a == PRODUCTION][-1]
    assert switch["additionalEventData"]["SwitchFrom"] == f"arn:aws:iam::{DEVELOPMENT}:user/alice"
    assert switch["userIdentity"]["type"] == "AssumedRole"
    assert any(name == "ExitRole" and a == PRODUCTION for a, name, _ in records)


def test_a_role_whose_trust_needs_an_external_id_cannot_be_switched_to(
    console: ConsoleServer, alice: ConsoleClient
) -> None:
    """The Switch Role form has no ExternalId: such a role is refused with the one message
    (here alice's own policy would allow sts:AssumeRole on it)."""
    prod = console.world["Roots"]["production"]
    iam = boto3.client(
        "iam",
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=prod["AccessKeyId"],
        aws_secret_access_key=prod["SecretAccessKey"],
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DEVELOPMENT}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "partner-42"}},
            }
        ],
    }
    iam.create_role(RoleName="UpdateAppPartner", AssumeRolePolicyDocument=json.dumps(trust))
    refused = alice.switch_role("UpdateAppPartner")
    assert refused.status_code == 400
    assert INVALID in refused.text
    assert _nav(refused.text) == "alice @ development"
