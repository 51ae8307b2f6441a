"""S3 data-plane speed of rolegate (policy enforcement on) against moto's server, same run.

Starts three server processes on free loopback ports and drives them with the same client:

* `rolegate serve` on a fresh data directory. `rolegate account create` makes an account;
  through the server the root creates the bucket, a NON-root IAM user `bench-writer` whose
  inline identity policy allows s3:GetObject / s3:PutObject / s3:ListBucket on the bucket, and
  a bucket policy (allow that user on `bucket/*`, deny everybody on `bucket/locked/*`). Every
  request is signed as `bench-writer`, so each one is authorized by the policy engine against
  the identity policy and the bucket policy. Before measuring, the bench checks that
  enforcement is real: a user without policies and a PutObject under `locked/` get 403.
* `moto_server` (`python -m moto.server`, bench-only dependency `moto[server]`): same bucket
  name, same requests. moto does NOT authorize anything (it even accepts a wrong secret key:
  the bench checks and prints that).
* a bare loopback app (this script with `--serve-bare PORT`): plain uvicorn, consumes a PUT
  body and streams a GET body in 1 MiB pieces; no hashing, no storage (64 MB only).

Measurements (the machine's cores are shared by client and server):

1. 4 KiB objects, requests/s of PutObject and GetObject. Requests are SigV4-signed once with
   botocore (header auth, the payload's SHA-256 in x-amz-content-sha256, 64 distinct keys) and
   replayed by `wrk` from a Lua script (a signature stays valid for minutes), so the load
   client costs little CPU; without `wrk`, an asyncio httpx client replays them. Prints rps,
   p50/p99, the rolegate/moto ratio and PASS/FAIL against the >= 5x target.
2. 64 MB objects, MB/s (MB = 2^20 bytes), rolegate, moto and the bare app through one lean
   client: http.client, SigV4 header auth signed once and replayed, UNSIGNED-PAYLOAD
   (`--transfer-sha256`: the payload's SHA-256, computed before timing), the body sent with
   one sendall, the response read into one buffer. boto3 spends more CPU than the servers on
   a 2-core machine, so it is not the transfer client. Rounds of PutObject on every server,
   then GetObject on every server; ratios within a round (best, and the median of the
   per-round ratios), each server's median CPU ms per request. PASS/FAIL (median ratios):
   >= 3x moto and >= 50% of bare. Then, informational, boto3 with one client configuration
   for both servers (botocore defaults over http: payload SHA-256 signed, CRC32 checksum):
   PutObject, GetObject, upload_file / download_file (8 MB parts, 4 threads). Prints the
   servers' peak RSS (VmHWM from /proc/<pid>/status); rolegate streams objects to files.
3. With `--large`: rolegate only, a 1 GB file streamed both ways and upload_file /
   download_file, peak RSS after each (not in the default run).

    python bench/s3_throughput.py [--quick] [--large] [--json FILE] [--check]

`--check` exits 1 when a target fails. The default run takes about 90 s; --quick ~50 s
(`--no-small`, `--no-boto3` skip parts).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HAS_CRT
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from wrk_runner import run_wrk

BUCKET = "rolegate-bench"
REGION = "us-east-1"
SMALL_SIZE = 4096
SMALL_KEYS = 64
MB = 1024 * 1024
TARGET_RATIO = 5.0
TARGET_MOTO_RATIO = 3.0  # 64 MB PutObject / GetObject, lean client, against moto's server
TARGET_BARE_SHARE = 0.5  # ... and against the bare loopback transfer
CLIENT_CONFIG = Config(
    region_name=REGION,
    retries={"max_attempts": 1},
    read_timeout=600,
    max_pool_connections=16,
    s3={"addressing_style": "path"},
)
TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=8 * MB, multipart_chunksize=8 * MB, max_concurrency=4
)


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    seconds: float
    errors: int  # non-2xx responses plus socket errors
    server_cpu: float = float("nan")  # server CPU time / wall time (1.0 = one core busy)
    client_cpu: float = float("nan")  # load client CPU time / wall time


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(process: subprocess.Popen[bytes], port: int, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start listening on port {port}")


def _rolegate_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rolegate", *args]


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _process_tree(pid: int) -> list[int]:
    """The pid and its descendants (uvicorn --workers N forks the workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend(_process_tree(int(child)))
    return found


def _status_mb(pid: int, field: str) -> float:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server's processes (all threads)."""
    total = 0.0
    for each in _process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _peak_rss_mb(pid: int) -> float:
    """The largest VmHWM among the server's processes."""
    return max(_status_mb(each, "VmHWM") for each in _process_tree(pid))


def _current_rss_mb(pid: int) -> float:
    return sum(_status_mb(each, "VmRSS") for each in _process_tree(pid))


# --------------------------------------------------------------------------- setup


def _client(service: str, url: str, keys: Keys, config: Config = CLIENT_CONFIG) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        config=config,
    )


def _error_code(action: Callable[[], object]) -> str:
    try:
        action()
    except ClientError as error:
        return str(error.response.get("Error", {}).get("Code", "?"))
    return "OK"


def _setup_rolegate(url: str, root: Keys) -> tuple[Keys, list[str]]:
    """Bucket, a non-root user with an identity policy, a bucket policy; enforcement checks."""
    iam = _client("iam", url, root)
    s3_root = _client("s3", url, root)
    s3_root.create_bucket(Bucket=BUCKET)
    user = iam.create_user(UserName="bench-writer")["User"]
    iam.put_user_policy(
        UserName="bench-writer",
        PolicyName="bench-bucket-rw",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ObjectsReadWrite",
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    },
                    {
                        "Sid": "List",
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": f"arn:aws:s3:::{BUCKET}",
                    },
                ],
            }
        ),
    )
    s3_root.put_bucket_policy(
        Bucket=BUCKET,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "WriterObjects",
                        "Effect": "Allow",
                        "Principal": {"AWS": user["Arn"]},
                        "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    },
                    {
                        "Sid": "NobodyInLocked",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": f"arn:aws:s3:::{BUCKET}/locked/*",
                    },
                ],
            }
        ),
    )
    made = iam.create_access_key(UserName="bench-writer")["AccessKey"]
    writer = Keys(made["AccessKeyId"], made["SecretAccessKey"])
    iam.create_user(UserName="bench-nobody")
    made = iam.create_access_key(UserName="bench-nobody")["AccessKey"]
    nobody = Keys(made["AccessKeyId"], made["SecretAccessKey"])

    s3_writer = _client("s3", url, writer)
    s3_nobody = _client("s3", url, nobody)
    checks = {
        "bench-writer PutObject probe": _error_code(
            lambda: s3_writer.put_object(Bucket=BUCKET, Key="probe", Body=b"x")
        ),
        "bench-writer GetObject probe": _error_code(
            lambda: s3_writer.get_object(Bucket=BUCKET, Key="probe")["Body"].read()
        ),
        "bench-nobody (no policy) GetObject probe": _error_code(
            lambda: s3_nobody.get_object(Bucket=BUCKET, Key="probe")
        ),
        "bench-writer PutObject locked/x (bucket-policy Deny)": _error_code(
            lambda: s3_writer.put_object(Bucket=BUCKET, Key="locked/x", Body=b"x")
        ),
    }
    expected = ["OK", "OK", "AccessDenied", "AccessDenied"]
    lines = [f"{name:<52} -> {code}" for name, code in checks.items()]
    if list(checks.values()) != expected:
        raise RuntimeError("rolegate enforcement checks failed:\n  " + "\n  ".join(lines))
    return writer, lines


def _setup_moto(url: str) -> tuple[Keys, list[str]]:
    keys = Keys("AKIAMOTOBENCH0000000", "moto-bench-secret")
    s3 = _client("s3", url, keys)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="probe", Body=b"x")
    wrong = _client("s3", url, Keys(keys.access_key_id, "a-wrong-secret"))
    code = _error_code(lambda: wrong.get_object(Bucket=BUCKET, Key="probe")["Body"].read())
    return keys, [f"{'GetObject signed with a WRONG secret key':<52} -> {code} (no enforcement)"]


# --------------------------------------------------------------------------- 4 KiB load


def _sign(
    url: str, keys: Keys, method: str, key: str, body: bytes | None, unsigned: bool
) -> SignedRequest:
    path = f"/{BUCKET}/{key}"
    request = AWSRequest(method=method, url=url + path, data=body or b"")
    if unsigned:  # x-amz-content-sha256: UNSIGNED-PAYLOAD
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    # Otherwise header auth with the payload's SHA-256 (what botocore sends over plain http).
    S3SigV4Auth(Credentials(keys.access_key_id, keys.secret_access_key), "s3", REGION).add_auth(
        request
    )
    headers = {name: str(value) for name, value in request.headers.items()}
    headers["Host"] = url.removeprefix("http://")
    return SignedRequest(method, path, headers, body)


def _signed_batch(
    url: str, keys: Keys, method: str, body: bytes, unsigned: bool
) -> list[SignedRequest]:
    payload = body if method == "PUT" else None
    return [
        _sign(url, keys, method, f"small/{index:04d}", payload, unsigned)
        for index in range(SMALL_KEYS)
    ]


def _probe(url: str, signed: SignedRequest) -> int:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(signed.method, signed.path, body=signed.body, headers=signed.headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _lua_string(value: str) -> str:
    return json.dumps(value)  # ASCII-only JSON string literals are valid Lua string literals


def _wrk_script(requests: list[SignedRequest]) -> str:
    lines = ["local requests = {}", "local count = 0", "init = function(args)"]
    for index, signed in enumerate(requests, start=1):
        headers = ", ".join(
            f"[{_lua_string(name)}] = {_lua_string(value)}"
            for name, value in signed.headers.items()
            if name.lower() != "content-length"
        )
        body = _lua_string(signed.body.decode("ascii")) if signed.body is not None else "nil"
        lines.append(
            f"  requests[{index}] = wrk.format({_lua_string(signed.method)}, "
            f"{_lua_string(signed.path)}, {{{headers}}}, {body})"
        )
    lines += [
        "end",
        "request = function()",
        "  count = count + 1",
        "  return requests[(count % #requests) + 1]",
        "end",
    ]
    return "\n".join(lines) + "\n"


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _parse_duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def _run_wrk(
    url: str, requests: list[SignedRequest], seconds: float, connections: int, threads: int
) -> LoadResult:
    result = run_wrk(
        url,
        _wrk_script(requests),
        duration=f"{max(1, round(seconds))}s",  # wrk takes whole seconds
        connections=connections,
        threads=threads,
        timeout="10s",
    )
    out = result.stdout
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)", out, re.MULTILINE))
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not (total and rps and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"cannot parse wrk output:\n{out}\n{result.stderr}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return LoadResult(
        rps=float(rps.group(1)),
        p50_ms=_parse_duration_ms(percentiles["50"]),
        p99_ms=_parse_duration_ms(percentiles["99"]),
        requests=int(total.group(1)),
        seconds=_parse_duration_ms(total.group(2) + total.group(3)) / 1000,
        errors=errors,
    )


async def _drive_httpx(
    url: str, requests: list[SignedRequest], seconds: float, connections: int
) -> LoadResult:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        started = time.perf_counter()
        stop_at = started + seconds

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < stop_at:
                signed = requests[counter % len(requests)]
                counter += 1
                headers = {k: v for k, v in signed.headers.items() if k.lower() != "host"}
                begin = time.perf_counter()
                response = await http.request(
                    signed.method, signed.path, content=signed.body, headers=headers
                )
                latencies.append(time.perf_counter() - begin)
                if response.status_code >= 300:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return LoadResult(
        rps=len(ordered) / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
        requests=len(ordered),
        seconds=elapsed,
        errors=errors,
    )


def _client_cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


def _load(
    url: str,
    requests: list[SignedRequest],
    seconds: float,
    args: argparse.Namespace,
    server_pid: int,
) -> LoadResult:
    status = _probe(url, requests[0])
    if status != 200:
        raise RuntimeError(f"{requests[0].method} {url}{requests[0].path} answered {status}")
    server_before, client_before = _cpu_seconds(server_pid), _client_cpu_seconds()
    if args.use_wrk:
        result = _run_wrk(url, requests, seconds, args.connections, args.wrk_threads)
    else:
        result = asyncio.run(_drive_httpx(url, requests, seconds, args.connections))
    result.server_cpu = (_cpu_seconds(server_pid) - server_before) / result.seconds
    result.client_cpu = (_client_cpu_seconds() - client_before) / result.seconds
    return result


# --------------------------------------------------------------------------- large objects


def _best_mbps(size_mb: float, repeats: int, action: Callable[[], None]) -> tuple[float, float]:
    """Best and median MB/s of `repeats` runs."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
    return size_mb / min(seconds), size_mb / statistics.median(seconds)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(8 * MB):
            digest.update(chunk)
    return digest.hexdigest()


def _write_random_file(path: Path, size_mb: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MB)
    with path.open("wb") as out:
        for index in range(size_mb):
            piece = block[index % 1024 :] + block[: index % 1024]
            digest.update(piece)
            out.write(piece)
    return digest.hexdigest()


def _large_objects(
    s3: Any, size_mb: int, repeats: int, payload: bytes, payload_file: Path, work: Path
) -> tuple[dict[str, float], dict[str, float]]:
    """Best and median MB/s by operation."""
    expected = hashlib.sha256(payload).hexdigest()
    results: dict[str, float] = {}
    medians: dict[str, float] = {}

    def put() -> None:
        s3.put_object(Bucket=BUCKET, Key="large/single", Body=payload)

    def get() -> None:
        body = s3.get_object(Bucket=BUCKET, Key="large/single")["Body"].read()
        if len(body) != len(payload):
            raise RuntimeError(f"GetObject returned {len(body)} bytes, expected {len(payload)}")

    def upload() -> None:
        s3.upload_file(str(payload_file), BUCKET, "large/multipart", Config=TRANSFER_CONFIG)

    out = work / "download.out"

    def download() -> None:
        s3.download_file(BUCKET, "large/multipart", str(out), Config=TRANSFER_CONFIG)

    results["PutObject"], medians["PutObject"] = _best_mbps(size_mb, repeats, put)
    results["GetObject"], medians["GetObject"] = _best_mbps(size_mb, repeats, get)
    body = s3.get_object(Bucket=BUCKET, Key="large/single")["Body"].read()
    if hashlib.sha256(body).hexdigest() != expected:
        raise RuntimeError("GetObject returned different bytes")
    del body
    results["upload_file"], medians["upload_file"] = _best_mbps(size_mb, repeats, upload)
    results["download_file"], medians["download_file"] = _best_mbps(size_mb, repeats, download)
    if _sha256_file(out) != expected:
        raise RuntimeError("download_file returned different bytes")
    out.unlink()
    return results, medians


def _huge_objects(s3: Any, size_mb: int, pid: int, work: Path) -> dict[str, dict[str, float]]:
    """The 1 GB measurement (--large): file-streamed single requests and upload/download_file."""
    big = work / "huge.bin"
    expected = _write_random_file(big, size_mb)
    results: dict[str, dict[str, float]] = {}

    def timed(label: str, action: Callable[[], None]) -> None:
        mbps, _ = _best_mbps(size_mb, 1, action)
        seconds = size_mb / mbps
        peak = _peak_rss_mb(pid)
        results[label] = {"mb_per_s": mbps, "seconds": seconds, "server_peak_rss_mb": peak}
        print(
            f"  {label:<34} {mbps:8.1f} MB/s  ({seconds:6.2f} s)  rolegate peak RSS {peak:6.1f} MB"
        )

    def put_stream() -> None:
        with big.open("rb") as body:
            s3.put_object(Bucket=BUCKET, Key="huge/single", Body=body)

    def get_stream() -> None:
        out = work / "huge-single.out"
        stream = s3.get_object(Bucket=BUCKET, Key="huge/single")["Body"]
        with out.open("wb") as sink:
            for chunk in stream.iter_chunks(8 * MB):
                sink.write(chunk)
        if _sha256_file(out) != expected:
            raise RuntimeError("GetObject (1 GB) returned different bytes")
        out.unlink()

    def download() -> None:
        out = work / "huge-multipart.out"
        s3.download_file(BUCKET, "huge/multipart", str(out), Config=TRANSFER_CONFIG)
        if _sha256_file(out) != expected:
            raise RuntimeError("download_file (1 GB) returned different bytes")
        out.unlink()

    timed(f"PutObject {size_mb} MB (file stream)", put_stream)
    timed(f"GetObject {size_mb} MB (to file)", get_stream)
    timed(
        f"upload_file {size_mb} MB (8 MB parts)",
        lambda: s3.upload_file(str(big), BUCKET, "huge/multipart", Config=TRANSFER_CONFIG),
    )
    timed(f"download_file {size_mb} MB", download)
    big.unlink()
    return results


# --------------------------------------------------------------------------- lean 64 MB client


BARE_PIECE = MB  # the bare app streams its GET body in 1 MiB pieces


async def _bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare loopback transfer: consume a PUT body, stream a GET body of the size the
    path's last segment names in bytes (`/bucket/<key>?size=N`); no hashing, no storage."""
    if scope["type"] != "http":
        return
    if scope["method"] == "PUT":
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-length", b"0"), (b"etag", b'"bare"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    size = int(scope["query_string"].decode().partition("size=")[2] or 0)
    headers = [(b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    piece = bytes(BARE_PIECE)
    sent = 0
    while sent < size:
        body = piece if size - sent >= BARE_PIECE else piece[: size - sent]
        sent += len(body)
        await send({"type": "http.response.body", "body": body, "more_body": sent < size})


def _serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(_bare_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


@dataclass(frozen=True)
class LeanTarget:
    """One server's pre-signed 64 MB PutObject and GetObject (signed once, replayed)."""

    name: str
    url: str
    pid: int
    put: SignedRequest
    get: SignedRequest


def _lean_target(
    name: str, url: str, pid: int, keys: Keys, payload: bytes, unsigned: bool
) -> LeanTarget:
    key = "large/lean"
    put = _sign(url, keys, "PUT", key, payload, unsigned)
    get = _sign(url, keys, "GET", key, None, unsigned)
    if name == "bare":  # the bare app needs the size to stream; it checks no signature
        get = SignedRequest(get.method, f"{get.path}?size={len(payload)}", get.headers, None)
    return LeanTarget(name, url, pid, put, get)


def _lean_send(url: str, signed: SignedRequest, into: memoryview | None) -> int:
    """One request over a fresh connection; the body is sent with one sendall and a
    response body is read straight into `into` (no per-chunk Python work). Returns bytes
    received."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    try:
        headers = {k: v for k, v in signed.headers.items() if k.lower() != "host"}
        connection.request(signed.method, signed.path, body=signed.body, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"{signed.method} {url}{signed.path}: HTTP {response.status}")
        if into is None:
            response.read()
            return 0
        received = 0
        while received < len(into):
            count = response.readinto(into[received:])
            if not count:
                break
            received += count
        return received
    finally:
        connection.close()


def _lean_transfers(
    targets: list[LeanTarget], payload: bytes, rounds: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, float]]]:
    """MB/s of every round by operation and server, and each server's median CPU time per
    request (ms, all its processes and threads: less sensitive to the machine's load than
    MB/s). Each round runs PutObject on every server, then GetObject on every server, so a
    change in the machine's load hits all servers of a round alike; the ratios are computed
    within a round."""
    size_mb = len(payload) / MB
    buffer = memoryview(bytearray(len(payload)))
    operations = ("PutObject", "GetObject")
    runs: dict[str, dict[str, list[float]]] = {
        operation: {target.name: [] for target in targets} for operation in operations
    }
    cpu: dict[str, dict[str, list[float]]] = {
        operation: {target.name: [] for target in targets} for operation in operations
    }

    def timed(operation: str, target: LeanTarget, into: memoryview | None) -> int:
        signed = target.put if into is None else target.get
        cpu_before = _cpu_seconds(target.pid)
        begin = time.perf_counter()
        received = _lean_send(target.url, signed, into)
        runs[operation][target.name].append(size_mb / (time.perf_counter() - begin))
        cpu[operation][target.name].append((_cpu_seconds(target.pid) - cpu_before) * 1000)
        return received

    for _ in range(rounds):
        for target in targets:
            timed("PutObject", target, None)
        for target in targets:
            received = timed("GetObject", target, buffer)
            if received != len(payload):
                raise RuntimeError(f"{target.name} GetObject returned {received} bytes")
            if target.name != "bare" and buffer != payload:
                raise RuntimeError(f"{target.name} GetObject returned different bytes")
    medians = {
        operation: {name: statistics.median(values) for name, values in by_server.items()}
        for operation, by_server in cpu.items()
    }
    return runs, medians


def _ratio_summary(
    runs: dict[str, list[float]], numerator: str, denominator: str
) -> tuple[float, float]:
    """(ratio of the best figures, median of the per-round ratios)."""
    best = max(runs[numerator]) / max(runs[denominator])
    per_round = [a / b for a, b in zip(runs[numerator], runs[denominator], strict=True)]
    return best, statistics.median(per_round)


# --------------------------------------------------------------------------- main


@contextmanager
def _servers(
    args: argparse.Namespace, data: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, Keys, subprocess.Popen[bytes], str, str, int]]:
    created = subprocess.run(
        _rolegate_command("account", "create", "--alias", "bench", "--data", str(data)),
        capture_output=True,
        text=True,
        check=True,
    )
    root_json = json.loads(created.stdout)
    root = Keys(root_json["AccessKeyId"], root_json["SecretAccessKey"])
    rolegate: subprocess.Popen[bytes] | None = None
    moto: subprocess.Popen[bytes] | None = None
    bare: subprocess.Popen[bytes] | None = None
    try:
        rolegate_port = _free_port()
        rolegate = _start(
            _rolegate_command(
                "serve",
                "--port",
                str(rolegate_port),
                "--data",
                str(data),
                "--workers",
                str(args.workers),
            )
        )
        moto_port = _free_port()
        moto = _start(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)]
        )
        bare_port = _free_port()
        bare = _start([sys.executable, __file__, "--serve-bare", str(bare_port)])
        _wait_listening(rolegate, rolegate_port, "rolegate serve")
        _wait_listening(moto, moto_port, "moto_server (pip install 'moto[server]')")
        _wait_listening(bare, bare_port, "the bare loopback app")
        yield (
            rolegate,
            f"http://127.0.0.1:{rolegate_port}",
            root,
            moto,
            f"http://127.0.0.1:{moto_port}",
            f"http://127.0.0.1:{bare_port}",
            bare.pid,
        )
    finally:
        _stop(rolegate)
        _stop(moto)
        _stop(bare)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="3 s load runs, 2 repeats (~35 s)")
    parser.add_argument("--seconds", type=float, help="wrk seconds per server and operation")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, help="best of N for the 64 MB transfers")
    parser.add_argument(
        "--object-mb", "--small-mb", dest="small_mb", type=int, default=64, help="MB/s size"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="rolegate serve --workers (default: one per core, as deployed)",
    )
    parser.add_argument("--large", action="store_true", help="also 1 GB, rolegate only")
    parser.add_argument("--size-mb", type=int, default=1024, help="object size for --large")
    parser.add_argument(
        "--unsigned-payload",
        action="store_true",
        help="send x-amz-content-sha256: UNSIGNED-PAYLOAD (default: the payload's SHA-256)",
    )
    parser.add_argument("--python-client", action="store_true", help="httpx even if wrk exists")
    parser.add_argument("--rounds", type=int, help="rounds of the lean 64 MB transfers")
    parser.add_argument(
        "--transfer-sha256",
        action="store_true",
        help="lean 64 MB transfers sign the payload's SHA-256 (default: UNSIGNED-PAYLOAD)",
    )
    parser.add_argument("--no-boto3", action="store_true", help="skip the boto3 64 MB rows")
    parser.add_argument("--no-small", action="store_true", help="skip the 4 KiB requests/s")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the numbers here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args()
    if args.serve_bare is not None:
        _serve_bare(args.serve_bare)
        return 0
    args.rounds = args.rounds or (3 if args.quick else 7)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.use_wrk = shutil.which("wrk") is not None and not args.python_client

    client = (
        f"wrk -t{args.wrk_threads} -c{args.connections}" if args.use_wrk else "asyncio httpx"
    ) + f", {args.connections} connections, {args.seconds:g} s per run"
    print(
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, client and servers on the same cores, "
        "load average {:.2f} {:.2f} {:.2f} at start".format(*os.getloadavg())
    )
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": os.getloadavg(),
        },
        "settings": {
            "client": client,
            "seconds": args.seconds,
            "connections": args.connections,
            "repeats": args.repeats,
            "large_mb": args.small_mb,
            "rolegate_workers": args.workers,
            "payload": "UNSIGNED-PAYLOAD" if args.unsigned_payload else "SHA-256 signed",
        },
    }
    failures: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="rolegate-s3-bench-"))
    work = Path(tempfile.mkdtemp(prefix="rolegate-s3-bench-files-"))
    started = time.perf_counter()
    try:
        with _servers(args, data) as (
            rolegate,
            rolegate_url,
            root,
            moto,
            moto_url,
            bare_url,
            bare_pid,
        ):
            writer, rolegate_checks = _setup_rolegate(rolegate_url, root)
            moto_keys, moto_checks = _setup_moto(moto_url)
            servers = {
                "rolegate": (rolegate_url, writer, rolegate.pid),
                "moto": (moto_url, moto_keys, moto.pid),
            }
            print(
                f"rolegate: pid {rolegate.pid}, --workers {args.workers}, enforcement ON "
                f"(signed as IAM user bench-writer: identity policy + bucket policy)"
            )
            for line in rolegate_checks:
                print(f"  {line}")
            print(f"moto {_moto_version()}: pid {moto.pid}, moto_server, NO authorization")
            for line in moto_checks:
                print(f"  {line}")

            payload_mode = (
                "x-amz-content-sha256 UNSIGNED-PAYLOAD"
                if args.unsigned_payload
                else "payload SHA-256 signed (botocore's default over http)"
            )

            if not args.no_small:
                # 4 KiB objects --------------------------------------------------------------
                print(
                    f"\n4 KiB objects, requests/s ({client}; {SMALL_KEYS} keys, "
                    f"SigV4 header auth, {payload_mode})"
                )
                body = os.urandom(SMALL_SIZE // 2).hex().encode()
                small: dict[str, dict[str, dict[str, float]]] = {"rolegate": {}, "moto": {}}
                for name, (url, keys, pid) in servers.items():
                    puts = _signed_batch(url, keys, "PUT", body, args.unsigned_payload)
                    _load(url, puts, min(2.0, args.seconds), args, pid)  # warm-up; writes the keys
                    for operation, method in (("PutObject", "PUT"), ("GetObject", "GET")):
                        signed = (
                            puts
                            if method == "PUT"
                            else _signed_batch(url, keys, method, body, args.unsigned_payload)
                        )
                        result = _load(url, signed, args.seconds, args, pid)
                        small[name][operation] = asdict(result)
                        print(
                            f"  {name:<9} {operation:<10} {result.rps:9,.0f} req/s   "
                            f"p50 {result.p50_ms:7.2f} ms   p99 {result.p99_ms:7.2f} ms   "
                            f"errors {result.errors}   CPU server {result.server_cpu:4.0%} "
                            f"client {result.client_cpu:4.0%}"
                        )
                        if result.errors:
                            failures.append(f"{name} {operation}: {result.errors} errors")
                ratios: dict[str, float] = {}
                for operation in ("PutObject", "GetObject"):
                    ratio = small["rolegate"][operation]["rps"] / small["moto"][operation]["rps"]
                    ratios[operation] = ratio
                    ok = ratio >= TARGET_RATIO
                    if not ok:
                        failures.append(f"4 KiB {operation} ratio {ratio:.2f}x < {TARGET_RATIO:g}x")
                    print(
                        f"  rolegate/moto {operation:<10} {ratio:6.2f}x   "
                        f"target >= {TARGET_RATIO:g}x: {_verdict(ok)}"
                    )
                report["small_4kib"] = {**small, "ratio": ratios, "target_ratio": TARGET_RATIO}

            # 64 MB objects, lean client ---------------------------------------------------
            size = args.small_mb
            transfer_mode = (
                "payload SHA-256 signed (computed once, before timing)"
                if args.transfer_sha256
                else "UNSIGNED-PAYLOAD"
            )
            print(
                f"\n{size} MB objects, MB/s, lean client (http.client, one request per "
                f"connection, SigV4 header auth signed once and replayed, {transfer_mode}; the "
                "body goes out in one sendall and is read into one buffer), same client for "
                f"all three; {args.rounds} rounds, each: PutObject on every server, then "
                "GetObject on every server; ratios within a round"
            )
            payload = os.urandom(size * MB)
            unsigned = not args.transfer_sha256
            targets = [
                _lean_target("rolegate", rolegate_url, rolegate.pid, writer, payload, unsigned),
                _lean_target("moto", moto_url, moto.pid, moto_keys, payload, unsigned),
                _lean_target("bare", bare_url, bare_pid, moto_keys, payload, unsigned),
            ]
            runs, cpu_ms = _lean_transfers(targets, payload, args.rounds)
            print(
                f"  {'':<10} {'rolegate':>17} {'moto':>17} {'bare':>17}   "
                f"{'/moto':>13} {'/bare':>13}   (best, median)"
            )
            lean_report: dict[str, Any] = {
                "mode": transfer_mode,
                "rounds": args.rounds,
                "targets": {"vs_moto": TARGET_MOTO_RATIO, "vs_bare": TARGET_BARE_SHARE},
            }
            for operation, by_server in runs.items():
                moto_best, moto_median = _ratio_summary(by_server, "rolegate", "moto")
                bare_best, bare_median = _ratio_summary(by_server, "rolegate", "bare")
                figures = "".join(
                    f" {max(by_server[n]):8.1f} ({statistics.median(by_server[n]):6.1f})"
                    for n in ("rolegate", "moto", "bare")
                )
                ok = moto_median >= TARGET_MOTO_RATIO and bare_median >= TARGET_BARE_SHARE
                if not ok:
                    failures.append(
                        f"{size} MB {operation}: median {moto_median:.2f}x moto, "
                        f"{bare_median:.0%} of bare (targets {TARGET_MOTO_RATIO:g}x, "
                        f"{TARGET_BARE_SHARE:.0%})"
                    )
                print(
                    f"  {operation:<10}{figures}   {moto_best:5.2f}x {moto_median:5.2f}x "
                    f"{bare_best:5.0%} {bare_median:5.0%}   {_verdict(ok)}"
                )
                lean_report[operation] = {
                    "mb_per_s": by_server,
                    "server_cpu_ms_median": cpu_ms[operation],
                    "rolegate_vs_moto": {"best": moto_best, "median": moto_median},
                    "rolegate_vs_bare": {"best": bare_best, "median": bare_median},
                    "pass": ok,
                }
            for operation, by_server_cpu in cpu_ms.items():
                print(
                    f"  server CPU per {operation}, ms (median; all threads and processes): "
                    + ", ".join(f"{name} {ms:.0f}" for name, ms in by_server_cpu.items())
                )
            print(
                f"  targets (median of the per-round ratios): >= {TARGET_MOTO_RATIO:g}x moto "
                f"and >= {TARGET_BARE_SHARE:.0%} of bare"
            )
            report["large_lean"] = lean_report

            # 64 MB objects, boto3 -------------------------------------------------------
            if not args.no_boto3:
                print(
                    f"\n{size} MB objects, MB/s through boto3 {boto3.__version__}, best (median) "
                    f"of {args.repeats}, informational (the client's own CPU weighs in: same "
                    f"client config for both, {payload_mode}; put/get single request, "
                    "upload/download_file 8 MB parts x4 threads; botocore's CRT signer "
                    f"{'ON: awscrt is installed' if HAS_CRT else 'off, as pip install boto3'})"
                )
                payload_file = work / "large.bin"
                payload_file.write_bytes(payload)
                large: dict[str, dict[str, float]] = {}
                medians: dict[str, dict[str, float]] = {}
                large_config = CLIENT_CONFIG
                if args.unsigned_payload:
                    large_config = CLIENT_CONFIG.merge(
                        Config(s3={"addressing_style": "path", "payload_signing_enabled": False})
                    )
                for name, (url, keys, _pid) in servers.items():
                    large[name], medians[name] = _large_objects(
                        _client("s3", url, keys, large_config),
                        size,
                        args.repeats,
                        payload,
                        payload_file,
                        work,
                    )
                payload_file.unlink()
                print(f"  {'':<14} {'rolegate':>17} {'moto':>17}")
                for operation, mbps in large["rolegate"].items():
                    print(
                        f"  {operation:<14} {mbps:8.1f} ({medians['rolegate'][operation]:6.1f}) "
                        f"{large['moto'][operation]:8.1f} ({medians['moto'][operation]:6.1f})"
                    )
                report["large_boto3"] = {**large, "median": medians, "size_mb": size}
            del payload
            rolegate_peak = _peak_rss_mb(rolegate.pid)
            moto_peak = _peak_rss_mb(moto.pid)
            print(
                f"  server peak RSS (VmHWM): rolegate {rolegate_peak:.1f} MB, "
                f"moto {moto_peak:.1f} MB (moto keeps objects in memory)"
            )
            report["peak_rss_mb"] = {"rolegate": rolegate_peak, "moto": moto_peak}

            if args.large:
                _stop(moto)
                print(f"\n{args.size_mb} MB objects, rolegate only (moto stopped)")
                report["huge"] = _huge_objects(
                    _client("s3", rolegate_url, writer), args.size_mb, rolegate.pid, work
                )
                overall = _peak_rss_mb(rolegate.pid)
                report["peak_rss_mb"]["rolegate_after_large"] = overall
                print(f"  rolegate peak RSS overall: {overall:.1f} MB")
    finally:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    report["failures"] = failures
    report["passed"] = not failures
    report["elapsed_s"] = time.perf_counter() - started
    print(
        f"\n{'all targets met' if not failures else 'FAILED: ' + '; '.join(failures)} "
        f"({report['elapsed_s']:.0f} s)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if args.check and failures else 0


def _moto_version() -> str:
    try:
        from importlib.metadata import version

        return version("moto")
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
