"""Requests per second for an authorized `iam:GetUser` against a real `rolegate serve`.

Starts the server as a process on a free loopback port with a fresh SQLite store, creates an
account, a user with an inline-free identity (root) and a user allowed by a policy when the
IAM policy operations exist, signs one GetUser request with botocore (a SigV4 signature stays
valid for five minutes, so the same signed bytes can be replayed), then drives it with
asyncio + httpx connections for a fixed time and prints throughput and latency percentiles.

    python bench/iam_requests.py [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(data: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "rolegate", "serve", "--port", str(port), "--data", str(data)],
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


def _signed_get_user(url: str, key: str, secret: str, user: str) -> tuple[bytes, dict[str, str]]:
    body = f"Action=GetUser&Version=2010-05-08&UserName={user}".encode()
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key, secret), "iam", "us-east-1").add_auth(request)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "rolegate",
                "account",
                "create",
                "--alias",
                "bench",
                "--data",
                data,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        root = json.loads(created.stdout)
        server = _start(Path(data), port)
        try:
            iam = boto3.client(
                "iam",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=root["AccessKeyId"],
                aws_secret_access_key=root["SecretAccessKey"],
            )
            iam.create_user(UserName="reader")
            caller = (root["AccessKeyId"], root["SecretAccessKey"], "root")
            try:
                iam.put_user_policy(
                    UserName="reader",
                    PolicyName="read",
                    PolicyDocument=json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}
                            ],
                        }
                    ),
                )
                key = iam.create_access_key(UserName="reader")["AccessKey"]
                caller = (key["AccessKeyId"], key["SecretAccessKey"], "user reader (policy)")
            except iam.exceptions.ClientError as error:
                print(f"(PutUserPolicy unavailable: {error}; measuring as root)")
            body, headers = _signed_get_user(url, caller[0], caller[1], "reader")
            asyncio.run(_drive(url, body, headers, 1.0, args.concurrency))  # warm-up
            count, latencies, failures = asyncio.run(
                _drive(url, body, headers, args.seconds, args.concurrency)
            )
            ordered = sorted(latencies)
            print(
                f"authorized iam:GetUser as {caller[2]}, {args.concurrency} connections, "
                f"{args.seconds:.0f} s"
            )
            print(f"  requests/s   {count / args.seconds:,.0f}  ({failures} non-200)")
            print(f"  latency p50  {statistics.median(ordered) * 1000:.2f} ms")
            print(f"  latency p99  {ordered[int(len(ordered) * 0.99) - 1] * 1000:.2f} ms")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
