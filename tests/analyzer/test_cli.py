"""`rolegate analyze`, run as a real process over a store written by the use cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rolegate.iam.accounts import create_account
from rolegate.iam.roles import create_role
from rolegate.store.database import Database, default_sqlite_url

OTHER = "444455556666"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rolegate", "analyze", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_analyze_creates_an_analyzer_and_prints_findings(tmp_path: Path) -> None:
    database = Database(default_sqlite_url(tmp_path))
    database.migrate()
    with database.write() as uow:
        account = create_account(uow, "cli").account_id
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"}
            ],
        }
        create_role(uow, account, "Partner", json.dumps(trust))
    database.dispose()

    created = _run("--data", str(tmp_path), "--account", account, "--create", "main", "--json")
    assert created.returncode == 0, created.stderr
    (finding,) = json.loads(created.stdout)
    assert finding["analyzer"] == "main" and finding["status"] == "ACTIVE"
    assert finding["principal"] == {"AWS": OTHER}
    assert finding["resource"] == f"arn:aws:iam::{account}:role/Partner"
    assert finding["witness"]["principal"] == f"arn:aws:iam::{OTHER}:root"
    table = _run("--data", str(tmp_path), "--scan")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == [
        "analyzer",
        "status",
        "resource",
        "principal",
        "actions",
        "condition",
        "public",
    ]
    assert row.split() == [
        "main",
        "ACTIVE",
        f"arn:aws:iam::{account}:role/Partner",
        f"AWS:{OTHER}",
        "sts:AssumeRole",
        "-",
        "no",
    ]
