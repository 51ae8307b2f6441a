"""S3 throughput and server memory against a real `rolegate serve` process.

Starts `rolegate serve` on a free loopback port with a fresh data directory, creates an
account, then through boto3: a 64 MB PutObject and GetObject (MB/s), and a 1 GB object
written and read both ways (single streamed PutObject/GetObject, and upload_file /
download_file in 8 MB parts). Prints the server's peak RSS (VmHWM from /proc) after each
phase: objects stream, so it must stay far below the object size.

    python bench/s3_throughput.py [--size-mb 1024] [--small-mb 64]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rolegate() -> str:
    return str(Path(sys.executable).with_name("rolegate"))


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _write_file(path: Path, size_mb: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for index in range(size_mb):
            piece = block[index % 1024 :] + block[: index % 1024]
            digest.update(piece)
            out.write(piece)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _timed(label: str, size_mb: float, pid: int, action: Any) -> None:
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    print(
        f"{label:<38} {size_mb / elapsed:8.1f} MB/s  ({elapsed:6.2f} s)  "
        f"server peak RSS {_peak_rss_mb(pid):6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--small-mb", type=int, default=64)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="rolegate-s3-bench-"))
    work = Path(tempfile.mkdtemp(prefix="rolegate-s3-bench-files-"))
    port = _free_port()
    created = subprocess.run(
        [_rolegate(), "account", "create", "--alias", "bench", "--data", str(data)],
        capture_output=True,
        text=True,
        check=True,
    )
    root = json.loads(created.stdout)
    server = subprocess.Popen(
        [_rolegate(), "serve", "--port", str(port), "--data", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=root["AccessKeyId"],
            aws_secret_access_key=root["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}, read_timeout=600),
        )
        s3.create_bucket(Bucket="bench")
        print(f"server pid {server.pid}, RSS after start {_current_rss_mb(server.pid):.1f} MB")

        small = os.urandom(args.small_mb * 1024 * 1024)

        def put_small() -> None:
            s3.put_object(Bucket="bench", Key="small", Body=small)

        _timed(f"PutObject {args.small_mb} MB (bytes)", args.small_mb, server.pid, put_small)
        _timed(
            f"GetObject {args.small_mb} MB",
            args.small_mb,
            server.pid,
            lambda: s3.get_object(Bucket="bench", Key="small")["Body"].read(),
        )
        small = b""

        big = work / "big.bin"
        expected = _write_file(big, args.size_mb)

        def put_big() -> None:
            with big.open("rb") as body:
                s3.put_object(Bucket="bench", Key="big-single", Body=body)

        def get_big() -> None:
            out = work / "big-single.out"
            stream = s3.get_object(Bucket="bench", Key="big-single")["Body"]
            with out.open("wb") as sink:
                for chunk in stream.iter_chunks(8 * 1024 * 1024):
                    sink.write(chunk)
            assert _sha256(out) == expected
            out.unlink()

        _timed(f"PutObject {args.size_mb} MB (file stream)", args.size_mb, server.pid, put_big)
        _timed(f"GetObject {args.size_mb} MB (to file)", args.size_mb, server.pid, get_big)

        config = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
        _timed(
            f"upload_file {args.size_mb} MB (8 MB parts)",
            args.size_mb,
            server.pid,
            lambda: s3.upload_file(str(big), "bench", "big-multipart", Config=config),
        )

        def download() -> None:
            out = work / "big-multipart.out"
            s3.download_file("bench", "big-multipart", str(out), Config=config)
            assert _sha256(out) == expected
            out.unlink()

        _timed(f"download_file {args.size_mb} MB", args.size_mb, server.pid, download)
        print(f"server peak RSS overall: {_peak_rss_mb(server.pid):.1f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
