"""`rolegate analyze`: the Access Analyzer findings of the store, as a table or JSON.

The command runs the same use cases as the API (`analyzers`, `scan`, `findings`): it lists
the findings of the analyzers of one account (or of every account) in a Region, after an
optional rescan of every resource (`--scan`); `--create NAME` first creates an ACCOUNT
analyzer for accounts that have none (its creation scans, as CreateAnalyzer does).
"""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from ..cli_store import open_store, store_options
from ..store.schema import accounts
from .analyzers import Analyzer, create_analyzer, list_analyzers
from .findings import list_findings
from .scan import scan_analyzer

__all__ = ["analyze"]

_COLUMNS = ("analyzer", "status", "resource", "principal", "actions", "condition", "public")


def _row(analyzer: Analyzer, finding: dict[str, Any]) -> dict[str, Any]:
    return {
        "analyzer": analyzer.name,
        "id": finding["id"],
        "status": finding["status"],
        "resource": finding["resource"],
        "resourceType": finding["resourceType"],
        "principal": finding["principal"],
        "actions": finding["action"],
        "condition": finding["condition"],
        "isPublic": finding["isPublic"],
        "witness": finding.get("witness"),
    }


def _cells(row: dict[str, Any]) -> list[str]:
    principal = ",".join(f"{k}:{v}" for k, v in row["principal"].items())
    condition = ",".join(f"{k}={v}" for k, v in row["condition"].items())
    return [
        row["analyzer"],
        row["status"],
        row["resource"],
        principal,
        ",".join(row["actions"]),
        condition or "-",
        "yes" if row["isPublic"] else "no",
    ]


def _table(rows: list[dict[str, Any]]) -> str:
    cells = [list(_COLUMNS), *[_cells(row) for row in rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


@click.command()
@store_options
@click.option("--account", default=None, help="Account id (default: every account).")
@click.option("--region", default="us-east-1", show_default=True, help="The analyzers' Region.")
@click.option("--scan", is_flag=True, help="Analyze every resource again first.")
@click.option(
    "--create",
    default=None,
    metavar="NAME",
    help="Create an ACCOUNT analyzer named NAME for accounts that have none.",
)
@click.option("--all", "every", is_flag=True, help="Include ARCHIVED and RESOLVED findings.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def analyze(
    data: str,
    db: str | None,
    account: str | None,
    region: str,
    scan: bool,
    create: str | None,
    every: bool,
    as_json: bool,
) -> None:
    """Print the IAM Access Analyzer findings (external access) of the store."""
    database = open_store(data, db)
    try:
        with database.read() as uow:
            ids = (
                [account]
                if account
                else [
                    row.id
                    for row in uow.connection.execute(select(accounts.c.id).order_by(accounts.c.id))
                ]
            )
        if create or scan:
            with database.write() as uow:
                for account_id in ids:
                    found = list_analyzers(uow, account_id, region)
                    if not found and create:
                        create_analyzer(uow, account_id, region, create, "ACCOUNT")
                        found = list_analyzers(uow, account_id, region)
                        scan_analyzer(uow, found[0])
                    elif scan:
                        for analyzer in found:
                            scan_analyzer(uow, analyzer)
        rows: list[dict[str, Any]] = []
        with database.read() as uow:
            for account_id in ids:
                for analyzer in list_analyzers(uow, account_id, region):
                    criteria = None if every else {"status": {"eq": ["ACTIVE"]}}
                    rows.extend(_row(analyzer, f) for f in list_findings(uow, analyzer, criteria))
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    elif rows:
        click.echo(_table(rows))
    else:
        click.echo("No findings.")
