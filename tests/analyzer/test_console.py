"""The console's Access Analyzer page: an AWS client of rolegate like every page (the demo
world: carol of Admins may use Access Analyzer in development, bob of Testers may not)."""

from __future__ import annotations

import json
import re

import boto3  # type: ignore[import-untyped]

from console.conftest import ConsoleClient, ConsoleServer, bob, console  # noqa: F401
from rolegate.mfa import base32_to_seed, totp

OTHER = "444455556666"


def _carol(console: ConsoleServer) -> ConsoleClient:  # noqa: F811
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
    if response.url.path == "/signin/mfa":
        console.server.clock.advance(30)
        seed = base32_to_seed(console.world["Users"]["carol"]["MfaSeed"])
        client.post("/signin/mfa", {"code": totp(seed, console.server.clock.now().timestamp())})
    return client


def test_create_analyzer_list_and_archive_findings(console: ConsoleServer) -> None:  # noqa: F811
    root = console.world["Roots"]["development"]
    iam = boto3.client(
        "iam",
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=root["AccessKeyId"],
        aws_secret_access_key=root["SecretAccessKey"],
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="ConsolePartner", AssumeRolePolicyDocument=json.dumps(trust))
    carol = _carol(console)
    try:
        page = carol.get("/console/access-analyzer")
        assert page.status_code == 200, page.text
        assert 'data-testid="no-analyzer"' in page.text
        created = carol.post("/console/access-analyzer/create", {"name": "ConsoleAnalyzer"})
        assert created.status_code == 200, created.text
        assert 'href="/console/access-analyzer" class="current"' in created.text
        rows = re.findall(r'data-testid="finding-row" data-finding-id="([^"]+)"', created.text)
        assert rows, created.text
        assert "role/ConsolePartner" in created.text and f"AWS: {OTHER}" in created.text
        archived = carol.post(
            "/console/access-analyzer/update",
            {"analyzer": "ConsoleAnalyzer", "id": rows[0], "to": "ARCHIVED", "back": "all"},
        )
        assert archived.status_code == 200, archived.text
        assert "Archived" in archived.text and "Unarchive" in archived.text
    finally:
        carol.close()


def test_refused_without_permission(bob: ConsoleClient) -> None:  # noqa: F811
    page = bob.get("/console/access-analyzer")
    assert page.status_code == 403
    assert "AccessDeniedException" in page.text
