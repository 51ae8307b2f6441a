"""What the audit trail costs: AssumeRole (Query) and 4 KiB GetObject req/s, audit on and off.

Starts two `rolegate serve` processes on fresh SQLite data directories, one recording the
audit trail (the default) and one with `--no-audit`, and builds the demo world on each
(alice in development may assume UpdateApp in production; a 4 KiB object in production's
bucket). Then, alternating on/off for `--rounds` rounds, wrk replays one signed request
(`wrk_runner`, a C client: the load costs little CPU) for `--seconds` each:

* sts:AssumeRole of UpdateApp signed by alice: cross-account, so every request writes two
  events (one per account, one sharedEventID);
* GetObject of the 4 KiB object signed with the UpdateApp session's temporary credentials
  (a Data event carrying the session issuer).

Prints req/s on and off (best round of each, per pair of fresh server processes) and the
overhead, target <= 10 % for the median of the pairs, and the CPU time per request (best
round; steadier when other work shares the machine) of the server process and of the
ingesting process `rolegate serve` runs beside it (`audit.process`: the request path is
bound by one core's GIL, the ingestion runs on the other core). The CPU overhead printed is
of both together: what the trail costs when every core is busy (e.g. `--workers 2`).

    python bench/audit_overhead.py [--seconds 8] [--rounds 2] [--pairs 2] [--connections 16]
        [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from rolegate.audit.recorder import THREAD_NAME
from rolegate.demo import build_world
from wrk_runner import run_wrk

BUCKET = "audit-bench"
KEY = "small/object-4k"
REGION = "us-east-1"
TARGET = 10.0


@dataclass
class Server:
    name: str
    data: Path
    port: int
    process: subprocess.Popen[bytes]
    world: dict[str, Any]
    session: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rolegate(*args: str) -> str:
    command = [sys.executable, "-m", "rolegate", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _start(name: str, audit: bool, workers: int = 1) -> Server:
    data = Path(tempfile.mkdtemp(prefix=f"rolegate-audit-{name}-"))
    roots = [
        json.loads(_rolegate("account", "create", "--alias", alias, "--data", str(data)))
        for alias in ("bench-dev", "bench-prod")
    ]
    port = _free_port()
    command = [sys.executable, "-m", "rolegate", "serve", "--port", str(port), "--data", str(data)]
    command += ["--workers", str(workers)]
    if not audit:
        command.append("--no-audit")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit(f"{name}: server did not start") from None
            time.sleep(0.1)
    url = f"http://127.0.0.1:{port}"
    world = build_world(url, roots[0], roots[1])
    prod_root = world["Roots"]["production"]
    s3 = _client("s3", url, prod_root["AccessKeyId"], prod_root["SecretAccessKey"])
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"a" * 4096)
    iam = _client("iam", url, prod_root["AccessKeyId"], prod_root["SecretAccessKey"])
    iam.put_role_policy(
        RoleName="UpdateApp",
        PolicyName="bench-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    }
                ],
            }
        ),
    )
    alice = world["Users"]["alice"]
    sts = _client("sts", url, alice["AccessKeyId"], alice["SecretAccessKey"])
    session = sts.assume_role(RoleArn=world["Roles"]["UpdateApp"], RoleSessionName="alice")
    return Server(name, data, port, process, world, session["Credentials"])


def _client(service: str, url: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def _lua(value: str) -> str:
    return json.dumps(value)


def _script(method: str, path: str, headers: dict[str, str], body: str | None) -> str:
    fields = ", ".join(
        f"[{_lua(name)}] = {_lua(value)}"
        for name, value in headers.items()
        if name.lower() != "content-length"
    )
    payload = _lua(body) if body is not None else "nil"
    return (
        f"local signed = wrk.format({_lua(method)}, {_lua(path)}, {{{fields}}}, {payload})\n"
        "request = function() return signed end\n"
    )


def _assume_role_script(server: Server) -> str:
    alice = server.world["Users"]["alice"]
    form = {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": server.world["Roles"]["UpdateApp"],
        "RoleSessionName": "bench",
    }
    body = urllib.parse.urlencode(form)
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(alice["AccessKeyId"], alice["SecretAccessKey"]), "sts", REGION).add_auth(
        request
    )
    headers = {name: str(value) for name, value in request.headers.items()}
    headers["Host"] = f"127.0.0.1:{server.port}"
    return _script("POST", "/", headers, body)


def _get_object_script(server: Server) -> str:
    path = f"/{BUCKET}/{KEY}"
    request = AWSRequest(method="GET", url=server.url + path, data=b"")
    session = server.session
    credentials = Credentials(
        session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    )
    S3SigV4Auth(credentials, "s3", REGION).add_auth(request)
    headers = {name: str(value) for name, value in request.headers.items()}
    headers["Host"] = f"127.0.0.1:{server.port}"
    return _script("GET", path, headers, None)


def _seconds(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:  # a thread that just ended
            continue
    return found


def _ingestion_thread_seconds(pid: int) -> float:
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == THREAD_NAME:
                total += _seconds(task / "stat")
        except FileNotFoundError:  # a thread that just ended
            continue
    return total


def _cpu_seconds(pid: int) -> tuple[float, float, float]:
    """User + system CPU time of the server (its process, all threads, ended ones included,
    and with `--workers` its worker processes), of audit ingestion threads (named
    `rolegate-audit`; a trail without an ingesting process), and of the ingesting process
    `rolegate serve` starts (`rolegate audit ingest --follow`)."""
    server = _seconds(Path(f"/proc/{pid}/stat"))
    thread = _ingestion_thread_seconds(pid)
    process = 0.0
    for child in _children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if b"audit" in command and b"ingest" in command:
                process += _seconds(Path(f"/proc/{child}/stat"))
            else:  # a worker
                server += _seconds(Path(f"/proc/{child}/stat"))
                thread += _ingestion_thread_seconds(child)
        except FileNotFoundError:
            continue
    return server, thread, process


def _measure(
    server: Server, script: str, seconds: int, connections: int
) -> tuple[float, int, float, float, float]:
    """(req/s, non-2xx responses, and CPU microseconds per request: the server process's,
    its ingestion thread's (part of the server's), the ingesting process's)."""
    before = _cpu_seconds(server.process.pid)
    out = run_wrk(
        server.url, script, duration=f"{seconds}s", connections=connections, timeout="10s"
    ).stdout
    time.sleep(1.5)  # the ingestion round of the last requests belongs to them
    after = _cpu_seconds(server.process.pid)
    cpu, thread, process = (a - b for a, b in zip(after, before, strict=True))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or total is None:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    requests = max(1, int(total.group(1)))
    per_request = 1e6 / requests
    return (
        float(rps.group(1)),
        errors,
        cpu * per_request,
        thread * per_request,
        process * per_request,
    )


def _stored_events(server: Server) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{server.data / 'rolegate.db'}")
    with engine.connect() as connection:
        count = sum(
            int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
            for table in ("audit_events", "audit_data_events")  # management, data events
        )
    engine.dispose()
    return count


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (`rolegate serve --workers`): with 2 on 2 cores the ingesting "
        "process competes with the request path, the CPU overhead becomes the req/s one",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=2,
        help="fresh on/off server pairs (two server processes differ by up to ~15 %% in "
        "req/s whatever they record: the verdict is the median of the pairs' overheads)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("this bench needs wrk")

    pairs = [
        {
            "on": _start(f"on{n}", audit=True, workers=args.workers),
            "off": _start(f"off{n}", audit=False, workers=args.workers),
        }
        for n in range(args.pairs)
    ]
    operations = ("AssumeRole", "GetObject 4 KiB")
    try:
        print(
            f"wrk -c{args.connections}, {args.seconds} s per run, {args.rounds} rounds, "
            f"{args.pairs} pair(s) of servers (audit on / --no-audit, --workers "
            f"{args.workers}), SQLite, "
            f"load {os.getloadavg()[0]:.2f}"
        )
        # (operation, pair, on/off) -> best req/s, lowest CPU us per request
        best: dict[tuple[str, int, str], float] = {}
        cheapest: dict[tuple[str, int, str], float] = {}
        for index, servers in enumerate(pairs):
            scripts = {
                name: {
                    "AssumeRole": _assume_role_script(server),
                    "GetObject 4 KiB": _get_object_script(server),
                }
                for name, server in servers.items()
            }
            for operation in operations:
                for name in servers:  # warm-up
                    _measure(servers[name], scripts[name][operation], 2, args.connections)
                for round_number in range(args.rounds):
                    order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
                    for name in order:
                        rps, errors, cpu_us, thread_us, process_us = _measure(
                            servers[name], scripts[name][operation], args.seconds, args.connections
                        )
                        print(
                            f"  pair {index + 1} {operation:<16} audit {name:<3} {rps:>9,.0f} "
                            f"req/s  CPU/request: server {cpu_us:>4.0f} us (ingestion thread "
                            f"{thread_us:>2.0f}) + ingesting process {process_us:>3.0f} us  "
                            f"({errors} non-2xx)"
                        )
                        key = (operation, index, name)
                        best[key] = max(best.get(key, 0.0), rps)
                        cheapest[key] = min(cheapest.get(key, float("inf")), cpu_us + process_us)
        print()
        print(
            f"{'operation':<16} {'pair':>4} {'req/s on':>10} {'req/s off':>10} {'overhead':>9}   "
            f"{'CPU/req on':>10} {'off':>6} {'overhead':>9}  (CPU: server + ingesting process)"
        )
        failed = False
        for operation in operations:
            overheads: list[float] = []
            cpu_overheads: list[float] = []
            for index in range(args.pairs):
                on, off = best[(operation, index, "on")], best[(operation, index, "off")]
                cpu_on = cheapest[(operation, index, "on")]
                cpu_off = cheapest[(operation, index, "off")]
                overheads.append((off - on) / off * 100 if off else float("nan"))
                cpu_overheads.append((cpu_on - cpu_off) / cpu_off * 100)
                print(
                    f"{operation:<16} {index + 1:>4} {on:>10,.0f} {off:>10,.0f} "
                    f"{overheads[-1]:>8.1f}%   {cpu_on:>8.0f}us {cpu_off:>4.0f}us "
                    f"{cpu_overheads[-1]:>8.1f}%"
                )
            overhead = _median(overheads)
            failed |= overhead > TARGET
            verdict = "PASS" if overhead <= TARGET else "FAIL"
            print(
                f"{operation:<16} median of pairs: {overhead:.1f}% req/s, "
                f"{_median(cpu_overheads):.1f}% CPU per request  {verdict}"
            )
        time.sleep(1.0)  # the last ingestion round
        stored = sum(_stored_events(servers["on"]) for servers in pairs)
        print(f"\nevents stored by the audit-on servers: {stored:,}")
        print(f"target: overhead <= {TARGET:.0f}% -> {'FAIL' if failed else 'PASS'}")
    finally:
        for servers in pairs:
            for server in servers.values():
                server.process.terminate()
                server.process.wait(timeout=30)
                shutil.rmtree(server.data, ignore_errors=True)


if __name__ == "__main__":
    main()
