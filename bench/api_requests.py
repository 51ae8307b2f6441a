"""Query-path requests per second: rolegate (1 and 2 workers) vs moto's server vs bare uvicorn.

Issue 13's targets, measured in one run. Servers, all on free loopback ports:

* `rolegate serve --workers 1` and `--workers 2`, each on a fresh SQLite data directory with
  the audit trail on (the product default; `--no-audit` measures without it), the demo world
  built through it (alice in development may assume UpdateApp in production);
* `moto_server` (`python -m moto.server`, threaded, as moto's CLI runs it), with the user
  alice and the role UpdateApp created by boto3; moto checks no signature and no policy;
* a bare Starlette app (this module's `bare_app`) on uvicorn with rolegate's server settings
  (uvicorn defaults: uvloop + httptools, `log_level=warning`, `lifespan=off`; with several
  workers `UV_TCP_SINGLE_ACCEPT=1`), 1 and 2 workers: it reads the POST body and answers a
  fixed small XML document. That is the ceiling any Starlette/uvicorn server reaches here.

Per operation (iam:GetUser of alice signed by alice: authorized through her group policy;
sts:AssumeRole of UpdateApp signed by alice: cross-account), each server's request is signed
with botocore's SigV4 right before it is measured and the same bytes are replayed by wrk
(`wrk_runner`, a C client, `--latency`) at `--concurrency` connections for `--seconds`;
`--rounds` rounds, the server order reversed every other round so load from other processes
hits all alike. Printed per round and summarized (best / median): req/s, p50/p99, non-2xx and
socket errors, server CPU microseconds per request (all the server's processes; steadier than
req/s on a shared machine), ratios and PASS/FAIL against the targets (judged on the best round).

    python bench/api_requests.py                       # both operations, ~7 minutes
    python bench/api_requests.py --quick               # 3 s, 1 round
    python bench/api_requests.py --operation AssumeRole --only rolegate --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rolegate.demo import build_world
from wrk_runner import run_wrk

__all__ = ["bare_app", "main"]

REGION = "us-east-1"
OPERATIONS = ("GetUser", "AssumeRole")
KINDS = ("rolegate", "moto", "bare")
TARGET_RPS = 3000.0  # rolegate --workers 2
TARGET_P99_MS = 25.0  # rolegate --workers 2, at 16 connections
TARGET_VS_MOTO = 10.0  # rolegate --workers 2 / moto
TARGET_ONE_OF_TWO = 0.55  # rolegate --workers 1 / --workers 2
MOTO_KEYS = ("AKIAMOTOBENCH0000000", "moto-bench-secret")  # moto accepts any key
BARE_XML = (
    b'<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetUserResult><User>'
    b"<Path>/</Path><UserName>alice</UserName><UserId>AIDABENCHBARE0000000</UserId>"
    b"<Arn>arn:aws:iam::123456789012:user/alice</Arn><CreateDate>2026-01-01T00:00:00Z"
    b"</CreateDate></User></GetUserResult><ResponseMetadata><RequestId>"
    b"00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></GetUserResponse>"
)


def bare_app() -> Starlette:
    """The ceiling: read the POST body, answer a fixed XML document (uvicorn --factory)."""

    async def answer(request: Request) -> Response:
        await request.body()
        return Response(BARE_XML, media_type="text/xml")

    return Starlette(routes=[Route("/", answer, methods=["POST"])])


@dataclass
class Server:
    name: str
    kind: str
    process: subprocess.Popen[bytes]
    port: int
    keys: tuple[str, str]
    forms: dict[str, tuple[str, dict[str, str]]]  # operation -> (signing service, Query form)
    data: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    non_2xx: int
    socket_errors: int


@dataclass
class Results:
    runs: dict[tuple[str, str], list[Run]] = field(default_factory=dict)  # (operation, server)

    def add(self, operation: str, server: str, run: Run) -> None:
        self.runs.setdefault((operation, server), []).append(run)

    def best(self, operation: str, server: str) -> Run | None:
        runs = self.runs.get((operation, server))
        return max(runs, key=lambda run: run.rps) if runs else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(command: list[str], name: str, env: dict[str, str] | None = None) -> Server:
    """Start `python <command>` ("{port}" replaced by a free port), wait until it listens."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, *(str(port) if part == "{port}" else part for part in command)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return Server(name, name.split()[0], process, port, MOTO_KEYS, {})
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit(f"{name}: server did not start") from None
            time.sleep(0.1)


def _rolegate(*args: str) -> str:
    command = [sys.executable, "-m", "rolegate", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _forms(role_arn: str) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "GetUser": ("iam", {"Action": "GetUser", "Version": "2010-05-08", "UserName": "alice"}),
        "AssumeRole": (
            "sts",
            {
                "Action": "AssumeRole",
                "Version": "2011-06-15",
                "RoleArn": role_arn,
                "RoleSessionName": "bench",
            },
        ),
    }


def _start_rolegate(workers: int, audit: bool, started: list[Server]) -> None:
    data = Path(tempfile.mkdtemp(prefix=f"rolegate-bench-w{workers}-"))
    roots = [
        json.loads(_rolegate("account", "create", "--alias", alias, "--data", str(data)))
        for alias in ("bench-dev", "bench-prod")
    ]
    command = ["-m", "rolegate", "serve", "--port", "{port}", "--data", str(data)]
    command += ["--workers", str(workers), *([] if audit else ["--no-audit"])]
    server = _spawn(command, f"rolegate w{workers}")
    server.data = data
    started.append(server)
    world = build_world(server.url, roots[0], roots[1])
    alice = world["Users"]["alice"]
    server.keys = (alice["AccessKeyId"], alice["SecretAccessKey"])
    server.forms = _forms(world["Roles"]["UpdateApp"])


def _start_moto(started: list[Server]) -> None:
    server = _spawn(["-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"], "moto")
    started.append(server)
    iam = boto3.client(
        "iam",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=MOTO_KEYS[0],
        aws_secret_access_key=MOTO_KEYS[1],
    )
    iam.create_user(UserName="alice")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="UpdateApp", AssumeRolePolicyDocument=json.dumps(trust))
    server.forms = _forms(role["Role"]["Arn"])


def _start_bare(workers: int, started: list[Server]) -> None:
    command = ["-m", "uvicorn", "api_requests:bare_app", "--factory"]
    command += ["--app-dir", str(Path(__file__).resolve().parent), "--host", "127.0.0.1"]
    command += ["--port", "{port}", "--workers", str(workers)]
    command += ["--log-level", "warning", "--lifespan", "off"]
    # As `rolegate serve` sets it for several workers (see cli.py).
    env = {"UV_TCP_SINGLE_ACCEPT": "1"} if workers > 1 else None
    server = _spawn(command, f"bare w{workers}", env)
    server.forms = _forms("arn:aws:iam::123456789012:role/UpdateApp")
    started.append(server)


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    if server.data is not None:
        shutil.rmtree(server.data, ignore_errors=True)


def _signed(server: Server, operation: str) -> tuple[dict[str, str], str]:
    """Headers and body of the operation, SigV4-signed now (valid for minutes)."""
    service, form = server.forms[operation]
    body = urllib.parse.urlencode(form)
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(*server.keys), service, REGION).add_auth(request)
    headers = {name: str(value) for name, value in request.headers.items()}
    headers["Host"] = f"127.0.0.1:{server.port}"
    return headers, body


def _wrk_script(headers: dict[str, str], body: str) -> str:
    fields = ", ".join(
        f"[{json.dumps(name)}] = {json.dumps(value)}"
        for name, value in headers.items()
        if name.lower() != "content-length"
    )
    return (
        f'local signed = wrk.format("POST", "/", {{{fields}}}, {json.dumps(body)})\n'
        "request = function() return signed end\n"
    )


def _probe(server: Server, operation: str) -> int:
    """One request with urllib: must be 200 and (but for bare) the operation's response."""
    headers, body = _signed(server, operation)
    request = urllib.request.Request(
        server.url + "/", data=body.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: bytes = response.read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{server.name} {operation}: HTTP {error.code} {error.read()!r}") from None
    if server.kind != "bare" and f"<{operation}Response".encode() not in answer:
        raise SystemExit(f"{server.name} {operation}: unexpected answer {answer[:300]!r}")
    return len(answer)


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants (uvicorn's workers)."""
    ticks: dict[int, int] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree = {pid}
    while True:
        grown = tree | {child for child, parent in parents.items() if parent in tree}
        if grown == tree:
            return sum(ticks.get(member, 0) for member in tree) / os.sysconf("SC_CLK_TCK")
        tree = grown


_MS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_number(pattern: str, out: str) -> str:
    found = re.search(pattern, out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"cannot parse wrk output ({pattern}):\n{out}")
    return found.group(1)


def _percentile_ms(percent: int, out: str) -> float:
    found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {percent}% latency in wrk output:\n{out}")
    return float(found.group(1)) * _MS_PER_UNIT[found.group(2)]


def _measure(server: Server, operation: str, seconds: int, connections: int) -> Run:
    headers, body = _signed(server, operation)
    cpu_before = _tree_cpu_seconds(server.process.pid)
    out = run_wrk(
        server.url,
        _wrk_script(headers, body),
        duration=f"{seconds}s",
        connections=connections,
        timeout="10s",
    ).stdout
    time.sleep(1.0)  # the audit ingestion of the last requests belongs to them
    cpu = _tree_cpu_seconds(server.process.pid) - cpu_before
    requests = int(_wrk_number(r"(\d+) requests in", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return Run(
        rps=float(_wrk_number(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_percentile_ms(50, out),
        p99_ms=_percentile_ms(99, out),
        cpu_us=cpu / max(1, requests) * 1e6,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def _line(name: str, run: Run) -> str:
    return (
        f"{name:<12} {run.rps:>8,.0f} req/s  p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms"
        f"  {run.cpu_us:6.0f} us CPU/req  {run.non_2xx} non-2xx, {run.socket_errors} socket err"
    )


def _ratio(results: Results, operation: str, top: str, bottom: str) -> tuple[float, float] | None:
    """req/s top / bottom: (best / best, median of the per-round ratios); None if unmeasured."""
    a, b = results.runs.get((operation, top)), results.runs.get((operation, bottom))
    if not a or not b:
        return None
    per_round = statistics.median(x.rps / y.rps for x, y in zip(a, b, strict=True))
    return max(r.rps for r in a) / max(r.rps for r in b), per_round


def _table(results: Results, operation: str, names: Sequence[str]) -> None:
    print(f"\n{operation}: best round (median of the rounds); CPU: lowest (median)")
    print(
        f"  {'server':<12} {'req/s':>17} {'p50 ms':>16} {'p99 ms':>16} "
        f"{'CPU us/request':>16} {'non-200':>8}"
    )
    for name in names:
        runs = results.runs[(operation, name)]
        best = max(runs, key=lambda run: run.rps)

        def median(metric: Callable[[Run], float], runs: list[Run] = runs) -> float:
            return statistics.median(metric(run) for run in runs)

        errors = sum(run.non_2xx + run.socket_errors for run in runs)
        print(
            f"  {name:<12} {best.rps:>8,.0f} ({median(lambda r: r.rps):>6,.0f}) "
            f"{best.p50_ms:>7.2f} ({median(lambda r: r.p50_ms):>6.2f}) "
            f"{best.p99_ms:>7.2f} ({median(lambda r: r.p99_ms):>6.2f}) "
            f"{min(r.cpu_us for r in runs):>7.0f} ({median(lambda r: r.cpu_us):>6.0f}) "
            f"{errors:>8}"
        )


def _targets(results: Results, operation: str) -> list[str]:
    """Print ratios and PASS/FAIL (best round); return the failed targets."""
    failed: list[str] = []

    def show(label: str, value: str, ok: bool | None = None, goal: str = "") -> None:
        verdict = "" if ok is None else f"target {goal:<10} {'PASS' if ok else 'FAIL'}"
        print(f"  {label:<32} {value:<36} {verdict}")
        if ok is False:
            failed.append(f"{operation} {label} {value} (target {goal})")

    print()
    two = results.best(operation, "rolegate w2")
    if two is not None:
        show("rolegate w2 req/s", f"{two.rps:,.0f}", two.rps >= TARGET_RPS, f">= {TARGET_RPS:,.0f}")
        ok = two.p99_ms <= TARGET_P99_MS
        show("rolegate w2 p99", f"{two.p99_ms:.2f} ms", ok, f"<= {TARGET_P99_MS:g} ms")
    if (measured := _ratio(results, operation, "rolegate w2", "moto")) is not None:
        ok = measured[0] >= TARGET_VS_MOTO
        value = f"{measured[0]:.1f}x (per round {measured[1]:.1f}x)"
        show("rolegate w2 / moto", value, ok, f">= {TARGET_VS_MOTO:g}x")
    if (measured := _ratio(results, operation, "rolegate w1", "rolegate w2")) is not None:
        ok = measured[0] >= TARGET_ONE_OF_TWO
        value = f"{measured[0]:.0%} (per round {measured[1]:.0%})"
        show("rolegate w1 / rolegate w2", value, ok, f">= {TARGET_ONE_OF_TWO:.0%}")
    for workers in (1, 2):
        top, bottom = f"rolegate w{workers}", f"bare w{workers}"
        if (measured := _ratio(results, operation, top, bottom)) is None:
            continue
        cpu_top = min(run.cpu_us for run in results.runs[(operation, top)])
        cpu_bottom = min(run.cpu_us for run in results.runs[(operation, bottom)])
        value = f"{measured[0]:.0%} (per round {measured[1]:.0%}), CPU {cpu_bottom / cpu_top:.0%}"
        show(f"{top} / {bottom} (ceiling)", value)
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operation", choices=[*OPERATIONS, "both"], default="both")
    parser.add_argument(
        "--only", action="append", choices=KINDS, help="Servers to measure (repeatable)."
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="Only this worker count for rolegate and bare (default 1 and 2).",
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16, help="wrk connections.")
    parser.add_argument("--quick", action="store_true", help="3 s, 1 round.")
    parser.add_argument(
        "--no-audit", action="store_true", help="rolegate serve --no-audit (default: audit on)."
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("this bench needs wrk (apt-get install -y wrk)")
    seconds, rounds, warm_up = (3, 1, 1) if args.quick else (args.seconds, args.rounds, 2)
    operations = OPERATIONS if args.operation == "both" else (args.operation,)
    kinds = args.only or list(KINDS)
    worker_counts = (args.workers,) if args.workers else (1, 2)

    started: list[Server] = []
    try:
        for kind in KINDS:
            if kind not in kinds:
                continue
            if kind == "moto":
                _start_moto(started)
            for workers in worker_counts if kind != "moto" else ():
                if kind == "rolegate":
                    _start_rolegate(workers, not args.no_audit, started)
                else:
                    _start_bare(workers, started)
        names = [server.name for server in started]
        print(
            f"wrk -t1 -c{args.concurrency}, {seconds} s per run, {rounds} round(s), "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
            f"rolegate on SQLite, audit {'off' if args.no_audit else 'on'}; "
            f"moto {version('moto')} (authorizes nothing); uvicorn {version('uvicorn')}"
        )
        results = Results()
        failed: list[str] = []
        for operation in operations:
            print(f"\n{operation}, signed by alice ({', '.join(names)})")
            for server in started:
                size = _probe(server, operation)
                print(f"  probe {server.name:<12} 200, {size} bytes")
                _measure(server, operation, warm_up, args.concurrency)
            for round_number in range(rounds):
                order = started if round_number % 2 == 0 else started[::-1]
                for server in order:
                    run = _measure(server, operation, seconds, args.concurrency)
                    results.add(operation, server.name, run)
                    print(f"  round {round_number + 1} {_line(server.name, run)}")
            _table(results, operation, names)
            failed += _targets(results, operation)
        runs = [run for measured in results.runs.values() for run in measured]
        bad = sum(run.non_2xx for run in runs)
        broken = sum(run.socket_errors for run in runs)
        print(
            f"\nresponses: {'all 200' if bad == 0 and broken == 0 else 'NOT all 200'} "
            f"({bad} non-2xx, {broken} socket errors in {len(runs)} runs); "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        print("targets: " + ("all PASS" if not failed else f"{len(failed)} FAIL"))
        for target in failed:
            print(f"  FAIL {target}")
    finally:
        for server in started:
            _stop(server)


if __name__ == "__main__":
    main()
