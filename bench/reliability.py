"""Reliability figures (issue 13): kill -9 under a write load, a fixed-rate soak, key rotation.

Every scenario runs `rolegate serve` processes on free loopback ports over a temporary store:
the embedded SQLite store (`--db sqlite`) or a throwaway PostgreSQL cluster
(`--db postgresql`, tests/support/postgres.py; `--db-url` names an existing database).

    python bench/reliability.py kill9 --rounds 20 [--db sqlite|postgresql]
    python bench/reliability.py soak --minutes 10 --rate 50 [--db sqlite|postgresql]
    python bench/reliability.py rotate [--db postgresql]

* kill9 (reliability_kill9.py): a mixed IAM/STS/S3 write load from a few threads, SIGKILL at
  a random moment, restart on the same store; every write acknowledged with 200 must be there,
  no listed object may have missing or partial bytes, the store must pass its checks.
* soak (reliability_soak.py): fixed-rate mixed load; per minute errors, latency p50/p99 and
  server RSS; verdict: no error, RSS growth from minute 2 to the end below a bound.
* rotate (reliability_rotation.py): two nodes, `rolegate keys rotate` while sessions are
  live: old sessions keep working on both nodes, new tokens carry the new key id.

Exit status 1 when a scenario finds a problem.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from reliability_kill9 import run_kill9
from reliability_rotation import run_rotation
from reliability_soak import run_soak
from reliability_world import temporary_store

__all__ = ["main"]


def _machine() -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load}"


def _kill9(arguments: argparse.Namespace) -> bool:
    with temporary_store(arguments.db, arguments.db_url) as store:
        report = run_kill9(store, arguments.rounds, threads=arguments.threads)
    print(
        f"kill9 on {report.kind}: {report.rounds} rounds in {report.seconds:.0f} s, "
        f"{report.acknowledged} writes acknowledged"
    )
    print("  checked: " + ", ".join(f"{what} {count}" for what, count in report.checked.items()))
    for problem in report.problems[:40]:
        print(f"  PROBLEM {problem}")
    print(f"  verdict: {'PASS' if report.ok else 'FAIL'} ({len(report.problems)} problems)")
    return report.ok


def _soak(arguments: argparse.Namespace) -> bool:
    variants = arguments.policy_variants or "a new one each time"
    print(
        f"soak on {arguments.db}: {arguments.minutes} min at {arguments.rate} ops/s, "
        f"policy documents: {variants}"
    )
    with temporary_store(arguments.db, arguments.db_url) as store:
        report = run_soak(
            store,
            seconds=arguments.minutes * 60,
            rate=arguments.rate,
            interval_seconds=arguments.interval,
            threads=arguments.threads,
            max_growth_mib=arguments.max_growth_mib,
            policy_variants=arguments.policy_variants,
        )
    print(f"soak on {report.kind}: {sum(report.requests)} ops, {sum(report.errors)} errors")
    print("  interval  ops  errors  p50 ms  p99 ms  RSS MiB")
    for index, ops in enumerate(report.requests):
        print(
            f"  {index + 1:8d} {ops:4d} {report.errors[index]:7d} {report.p50_ms[index]:7.1f}"
            f" {report.p99_ms[index]:7.1f} {report.rss_mib[index]:8.1f}"
        )
    for sample in report.error_samples:
        print(f"  ERROR {sample}")
    print(
        f"  RSS growth from interval 2 to the end: {report.growth_mib:+.1f} MiB "
        f"(bound {report.max_growth_mib:.0f}); operations started > 1 s late: {report.late}"
    )
    print(f"  verdict: {'PASS' if report.ok else 'FAIL'}")
    return report.ok


def _rotate(arguments: argparse.Namespace) -> bool:
    with temporary_store(arguments.db, arguments.db_url) as store:
        report = run_rotation(store, arguments.reload_seconds, arguments.hold_seconds)
    adoption = ", ".join(
        f"{node} {seconds:.2f} s" for node, seconds in report.adoption_seconds.items()
    )
    print(
        f"rotate on {report.kind}: key {report.old_key} -> {report.new_key}; new key sealing "
        f"after: {adoption} (reload interval {arguments.reload_seconds} s)"
    )
    print(
        f"  pre-rotation sessions: {report.old_session_requests} requests on 2 nodes across "
        f"2 rotations; new sessions checked on both nodes: {report.cross_checks}"
    )
    for problem in report.problems[:20]:
        print(f"  PROBLEM {problem}")
    print(f"  verdict: {'PASS' if report.ok else 'FAIL'} ({len(report.problems)} problems)")
    return report.ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("kill9", "kill -9 during a write load, restart, verify"),
        ("soak", "bounded fixed-rate soak"),
        ("rotate", "token key rotation with live sessions"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
        command.add_argument("--db-url", default=None, help="an existing PostgreSQL database")
    kill9 = commands.choices["kill9"]
    kill9.add_argument("--rounds", type=int, default=20)
    kill9.add_argument("--threads", type=int, default=4)
    soak = commands.choices["soak"]
    soak.add_argument("--minutes", type=float, default=10.0)
    soak.add_argument("--rate", type=float, default=50.0, help="operations started per second")
    soak.add_argument("--interval", type=float, default=60.0, help="seconds per printed row")
    soak.add_argument("--threads", type=int, default=8)
    soak.add_argument("--max-growth-mib", type=float, default=20.0)
    soak.add_argument(
        "--policy-variants",
        type=int,
        default=0,
        help="PutUserPolicy cycles through N documents (0: a new one every time)",
    )
    rotate = commands.choices["rotate"]
    rotate.add_argument("--reload-seconds", type=float, default=2.0)
    rotate.add_argument("--hold-seconds", type=float, default=10.0)
    arguments = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: the servers stop and the temporary store is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if arguments.db_url:
        arguments.db = "postgresql"
    print(f"machine: {_machine()}")
    run = {"kill9": _kill9, "soak": _soak, "rotate": _rotate}[arguments.command]
    return 0 if run(arguments) else 1


if __name__ == "__main__":
    sys.exit(main())
