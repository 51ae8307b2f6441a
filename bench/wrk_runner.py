"""Run wrk (a C load generator, so the client costs little CPU) with a generated Lua script."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

__all__ = ["run_wrk"]


def run_wrk(
    url: str,
    script: str,
    *,
    duration: str,
    connections: int,
    threads: int = 1,
    timeout: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """wrk with `script` against `url` + "/", latency percentiles on; raises on failure."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        return subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}",
                *(["--timeout", timeout] if timeout else []),
                "--latency",
                "-s",
                handle.name,
                url + "/",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(handle.name).unlink()
