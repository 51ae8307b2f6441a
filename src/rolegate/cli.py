"""The `rolegate` command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

from .analyzer.cli import analyze
from .audit.cli import audit
from .audit.process import IngesterProcess
from .audit.recorder import INGESTER_ENV, INTERVAL_ENV, journal_directory
from .cli_store import DEFAULT_DATA_DIR, open_store, store_options
from .demo import (
    DEMO_FILE,
    DEVELOPMENT,
    PRODUCTION,
    build_world,
    create_demo_bucket,
    current_mfa_code,
    demo_password,
    load_world,
    profiles_text,
)
from .errors import ServiceError
from .iam.accounts import create_account, list_accounts
from .policy import PolicyKind, validate_policy
from .policy.corpus import CorpusError, load_corpus, run_corpus
from .store.database import Database
from .sts.cli import keys

__all__ = ["main"]

_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policy"


@click.group()
@click.version_option(package_name="rolegate")
def main() -> None:
    """rolegate: AWS-compatible IAM + STS with a policy engine that enforces."""


main.add_command(analyze)
main.add_command(audit)
main.add_command(keys)


@main.group()
def policy() -> None:
    """Work with IAM policy documents."""


@policy.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--verbose", "-v", is_flag=True, help="Print every case, not only failures.")
def policy_test(files: tuple[Path, ...], verbose: bool) -> None:
    """Run corpus FILES of (policies, request, expected decision) cases."""
    passed = failed = 0
    for path in files:
        try:
            cases = load_corpus(path)
        except CorpusError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        for result in run_corpus(cases):
            if result.passed:
                passed += 1
                if verbose:
                    click.echo(f"ok   {result.case.name}")
                continue
            failed += 1
            expected = result.case.expect.value if result.case.expect else "?"
            click.echo(f"FAIL {path}: {result.case.name}")
            click.echo(f"     expected {expected}, got {result.decision.effect.value}")
            click.echo(f"     {result.decision.explain()}")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


@policy.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    type=click.Choice([kind.value for kind in PolicyKind]),
    default=PolicyKind.IDENTITY.value,
    show_default=True,
    help="Where the policy is attached: it decides which elements are allowed.",
)
def policy_check(file: Path, kind: str) -> None:
    """Validate one policy document FILE and print its errors with their locations."""
    try:
        source = file.read_bytes()
    except OSError as error:
        click.echo(f"error: cannot read {file}: {error.strerror}", err=True)
        sys.exit(2)
    issues = validate_policy(source, PolicyKind(kind))
    if not issues:
        click.echo(f"{file}: valid {kind} policy")
        return
    for issue in issues:
        click.echo(f"{file}: {issue.code}: {issue}")
    sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8790, show_default=True, type=int)
@click.option("--demo", "with_demo", is_flag=True, help="Load the cross-account demo world.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes; they share the store (caches follow its generation counters).",
)
@click.option(
    "--audit-retention-days",
    default=90,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Audit events older than this are pruned.",
)
@click.option("--no-audit", is_flag=True, help="Record no audit events (benchmarks).")
@store_options
def serve(
    host: str,
    port: int,
    with_demo: bool,
    workers: int,
    audit_retention_days: float,
    no_audit: bool,
    data: str,
    db: str | None,
) -> None:
    """Run the rolegate endpoint (IAM and STS over the AWS Query protocol, S3 over REST)."""
    import uvicorn

    from .server.allocator import tune_allocator
    from .server.app import AUDIT_ENV, AUDIT_RETENTION_ENV, DB_URL_ENV, S3_DIR_ENV, create_app

    database = open_store(data, db)
    s3_dir = Path(data).resolve() / "s3-objects"
    endpoint = f"http://{host}:{port}"
    click.echo(f"rolegate listening on {endpoint} (store: {_safe_url(database.url)})")
    ingesting = not no_audit and journal_directory(database.url, s3_dir) is not None
    interval = float(os.environ.get(INTERVAL_ENV, "1.0"))
    ingester = IngesterProcess(data, db, audit_retention_days, interval) if ingesting else None
    if ingester is not None:  # the trails of this process (and its workers) do not ingest
        os.environ[INGESTER_ENV] = "process"
        ingester.start()
    try:
        if workers > 1:
            os.environ[DB_URL_ENV] = database.url
            os.environ[S3_DIR_ENV] = str(s3_dir)
            os.environ[AUDIT_ENV] = "off" if no_audit else "on"
            os.environ[AUDIT_RETENTION_ENV] = str(audit_retention_days)
            # The workers share one listening socket. By default libuv accepts every pending
            # connection on a wakeup, so a burst of new connections often lands on one worker
            # (seen: 8 of 8); accepting one at a time lets the others take their share.
            os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
            if with_demo:
                ready = lambda: _accepts_connections(host, port)  # noqa: E731
                threading.Thread(
                    target=_load_demo, args=(ready, database, data, endpoint), daemon=True
                ).start()
            uvicorn.run(
                "rolegate.server.app:app_from_environment",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
                lifespan="off",
            )
            return
        tune_allocator()
        app = create_app(
            database,
            s3_data_dir=s3_dir,
            audit=not no_audit,
            audit_retention_days=audit_retention_days,
        )
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        if with_demo:
            threading.Thread(
                target=_load_demo,
                args=(lambda: server.started, database, data, endpoint),
                daemon=True,
            ).start()
        # uvicorn finishes in-flight requests on SIGINT/SIGTERM, then re-raises the signal with
        # the handler that was installed before it started: make that one a clean exit too.
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, lambda *_: setattr(server, "should_exit", True))
        try:
            server.run()
        finally:
            app.state.gateway.audit.close()  # its last events stored before the ingester stops
    finally:
        if ingester is not None:
            ingester.stop()
        database.dispose()


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _load_demo(ready: Callable[[], bool], database: Database, data: str, endpoint: str) -> None:
    """Once the server listens, build the demo world through it (first start only)."""
    while not ready():
        time.sleep(0.05)
    world = load_world(data)
    if world is None:
        with database.write() as uow:
            development = create_account(uow, "development", DEVELOPMENT).to_json()
            production = create_account(uow, "production", PRODUCTION).to_json()
        world = build_world(endpoint, development, production)
        create_demo_bucket(world)
        (Path(data) / DEMO_FILE).write_text(json.dumps(world, indent=2), encoding="utf-8")
    else:
        changed = _add_demo_passwords(database, world)
        if world.get("Endpoint") != endpoint:
            world["Endpoint"] = endpoint
            changed = True
        if changed:
            (Path(data) / DEMO_FILE).write_text(json.dumps(world, indent=2), encoding="utf-8")
    click.echo(
        "\nDemo world loaded: accounts development (111122223333) and production "
        "(444455556666), users alice (Developers, MFA) and bob (Testers), roles UpdateApp "
        "and UpdateAppMFA, bucket productionapp.\n"
        "Put these profiles in ~/.aws/config (or run `rolegate demo env`):\n"
    )
    click.echo(profiles_text(world))
    users = world["Users"]
    switch = (
        f"{endpoint}/switchrole?account=production&roleName=UpdateApp"
        "&displayName=UpdateApp&color=F2B0A9"
    )
    click.echo(
        f"Console: {endpoint}/console\n"
        f"  alice (Developers, MFA): account development, user alice, password "
        f"{users['alice'].get('Password')}, MFA code: `rolegate demo mfa-code`\n"
        f"  bob (Testers): account development, user bob, password {users['bob'].get('Password')}\n"
        f"  Switch Role link for UpdateApp: {switch}\n"
    )
    if "carol" in users:
        click.echo(
            f"  carol (Admins, MFA): password {users['carol'].get('Password')}, MFA code: "
            "`rolegate demo mfa-code --user carol`; Switch Role to TerminateInstances in "
            f"production, then {endpoint}/console/ec2/instances\n"
            "      aws ec2 terminate-instances --profile rolegate-terminate --instance-ids "
            "<a production instance>  (code: `rolegate demo mfa-code --user carol`)\n"
        )
    click.echo(
        "Then: aws sts get-caller-identity --profile rolegate-updateapp\n"
        "      aws s3 ls s3://productionapp/ --profile rolegate-updateapp\n"
        "      aws sts get-caller-identity --profile rolegate-updateapp-mfa  "
        "(code: `rolegate demo mfa-code`)\n"
    )


def _add_demo_passwords(database: Database, world: dict[str, Any]) -> bool:
    """Console passwords for the users of a demo world built before the console existed."""
    from .iam.login_profiles import create_login_profile

    added = False
    for user, entry in world["Users"].items():
        if "Password" in entry:
            continue
        entry["Password"] = demo_password(user)
        with database.write() as uow:
            create_login_profile(uow, DEVELOPMENT, user, entry["Password"])
        added = True
    return added


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@main.group()
def account() -> None:
    """Create and list accounts, set root passwords."""


@account.command("create")
@click.option("--alias", required=True, help="Account alias (3-63 lowercase letters, digits, -).")
@click.option("--id", "account_id", default=None, help="12-digit account id (default: random).")
@store_options
def account_create(alias: str, account_id: str | None, data: str, db: str | None) -> None:
    """Create an account; print its id, alias and root access key as JSON."""
    database = open_store(data, db)
    try:
        with database.write() as uow:
            created = create_account(uow, alias, account_id)
    except ServiceError as error:
        click.echo(f"error: {error.code}: {error.message}", err=True)
        sys.exit(1)
    finally:
        database.dispose()
    click.echo(json.dumps(created.to_json()))


@account.command("list")
@store_options
def account_list(data: str, db: str | None) -> None:
    """List accounts as JSON."""
    database = open_store(data, db)
    with database.read() as uow:
        listed = list_accounts(uow)
    database.dispose()
    click.echo(json.dumps(listed, indent=2))


@account.command("set-root-password")
@click.option("--account", "account_ref", required=True, help="Account id or alias.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (no prompt).",
)
@store_options
def account_set_root_password(
    account_ref: str, password_stdin: bool, data: str, db: str | None
) -> None:
    """Set the root user's console password (asked twice unless --password-stdin)."""
    from .iam.accounts import set_root_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Root password", hide_input=True, confirmation_prompt="Repeat the root password"
        )
    database = open_store(data, db)
    try:
        with database.write() as uow:
            account_id = set_root_password(uow, account_ref, password)
    except ServiceError as error:
        click.echo(f"error: {error.code}: {error.message}", err=True)
        sys.exit(1)
    finally:
        database.dispose()
    click.echo(f"Root password set for account {account_id}.")


@main.group()
def demo() -> None:
    """The cross-account demo world (loaded by `rolegate serve --demo`, i.e. `make run`)."""


@demo.command("env")
@click.option("--data", default=DEFAULT_DATA_DIR, show_default=True)
def demo_env(data: str) -> None:
    """Print the ~/.aws/config profiles of the demo world."""
    world = _demo_world(data)
    click.echo(profiles_text(world))


@demo.command("mfa-code")
@click.option("--data", default=DEFAULT_DATA_DIR, show_default=True)
@click.option("--user", default="alice", show_default=True, help="alice or carol")
def demo_mfa_code(data: str, user: str) -> None:
    """Print a demo user's current MFA code (each code is accepted once: wait 30 s between
    uses)."""
    world = _demo_world(data)
    if "MfaSeed" not in world["Users"].get(user, {}):
        click.echo(f"error: the demo user {user} has no MFA device", err=True)
        sys.exit(2)
    click.echo(current_mfa_code(world, user=user))


def _demo_world(data: str) -> dict[str, Any]:
    world = load_world(data)
    if world is None:
        click.echo(f"error: no demo world in {data}: start it with `make run`", err=True)
        sys.exit(2)
    return world


@demo.command("policies")
def demo_policies() -> None:
    """Validate the example policies and evaluate the scenario corpus with the engine."""
    examples = sorted(_EXAMPLES.glob("*.json")) if _EXAMPLES.is_dir() else []
    corpus = [path for path in examples if path.name.endswith(".corpus.json")]
    documents = [path for path in examples if path not in corpus]
    for path in documents:
        kind = "trust" if "trust" in path.name else "identity"
        issues = validate_policy(path.read_bytes(), PolicyKind(kind))
        status = "valid" if not issues else "; ".join(str(issue) for issue in issues)
        click.echo(f"{path.name} ({kind}): {status}")
    for path in corpus:
        for result in run_corpus(load_corpus(path)):
            mark = "ok  " if result.passed else "FAIL"
            click.echo(f"{mark} {result.case.name}: {result.decision.explain()}")
