"""Requests per second against a real `rolegate serve`: authorized iam:GetUser or sts:AssumeRole.

Starts the server as a process on a free loopback port with a fresh SQLite store, builds the
demo world (two accounts, alice may assume UpdateApp), signs one request with botocore (a
SigV4 signature stays valid for five minutes, so the same signed bytes can be replayed), then
drives it with asyncio + httpx connections for a fixed time and prints throughput and latency
percentiles (client and server share the machine's two cores).

    python bench/api_requests.py [--operation GetUser|AssumeRole] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rolegate.demo import build_world
from wrk_runner import run_wrk


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(data: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rolegate",
            "serve",
            "--port",
            str(port),
            "--data",
            str(data),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def _signed(
    url: str, service: str, key: str, secret: str, form: dict[str, str]
) -> tuple[bytes, dict[str, str]]:
    body = urllib.parse.urlencode(form).encode()
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
    return body, dict(request.prepare().headers)


async def _drive(
    url: str, body: bytes, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await http.post("/", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    failures += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, failures


def _wrk(url: str, body: bytes, headers: dict[str, str], seconds: float, connections: int) -> str:
    """Drive the signed request with wrk (a C load tool: the client then costs little CPU)."""
    lua_headers = "".join(
        f'wrk.headers["{name}"] = "{value}"\n'
        for name, value in headers.items()
        if name.lower() not in ("content-length", "host")
    )
    script = f'wrk.method = "POST"\nwrk.body = "{body.decode()}"\n{lua_headers}'
    return run_wrk(url, script, duration=f"{seconds:.0f}s", connections=connections).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operation", choices=["GetUser", "AssumeRole"], default="GetUser")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="rolegate serve --workers")
    parser.add_argument(
        "--python-client", action="store_true", help="Use httpx even when wrk is installed."
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        roots = [
            json.loads(
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "rolegate",
                        "account",
                        "create",
                        "--alias",
                        alias,
                        "--data",
                        data,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for alias in ("bench-dev", "bench-prod")
        ]
        server = _start(Path(data), port, args.workers)
        try:
            world = build_world(url, roots[0], roots[1])
            alice = world["Users"]["alice"]
            if args.operation == "GetUser":
                service, form = (
                    "iam",
                    {"Action": "GetUser", "Version": "2010-05-08", "UserName": "alice"},
                )
            else:
                service, form = (
                    "sts",
                    {
                        "Action": "AssumeRole",
                        "Version": "2011-06-15",
                        "RoleArn": world["Roles"]["UpdateApp"],
                        "RoleSessionName": "bench",
                    },
                )
            body, headers = _signed(
                url, service, alice["AccessKeyId"], alice["SecretAccessKey"], form
            )
            token_size = None
            if args.operation == "AssumeRole":
                sts = boto3.client(
                    "sts",
                    endpoint_url=url,
                    region_name="us-east-1",
                    aws_access_key_id=alice["AccessKeyId"],
                    aws_secret_access_key=alice["SecretAccessKey"],
                )
                answer = sts.assume_role(
                    RoleArn=world["Roles"]["UpdateApp"], RoleSessionName="bench"
                )
                token_size = len(answer["Credentials"]["SessionToken"])
            if shutil.which("wrk") and not args.python_client:
                print(
                    f"wrk, {args.concurrency} connections, {args.seconds:.0f} s, "
                    f"{args.workers} server process(es), "
                    f"authorized {service}:{args.operation} as user alice (group policy)"
                )
                print(_wrk(url, body, headers, args.seconds, args.concurrency))
                if token_size is not None:
                    print(f"session token {token_size} bytes")
                return
            asyncio.run(_drive(url, body, headers, 1.0, args.concurrency))  # warm-up
            count, latencies, failures = asyncio.run(
                _drive(url, body, headers, args.seconds, args.concurrency)
            )
            ordered = sorted(latencies)
            print(
                f"authorized {service}:{args.operation} as user alice (group policy), "
                f"{args.concurrency} connections, {args.seconds:.0f} s"
            )
            print(f"  requests/s   {count / args.seconds:,.0f}  ({failures} non-200)")
            print(f"  latency p50  {statistics.median(ordered) * 1000:.2f} ms")
            print(f"  latency p99  {ordered[int(len(ordered) * 0.99) - 1] * 1000:.2f} ms")
            if token_size is not None:
                print(f"  session token {token_size} bytes")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
