"""The server's malloc settings and the C library seam under them."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from rolegate.libc import libc_function
from rolegate.server.allocator import tune_allocator


def test_missing_functions_are_none() -> None:
    assert libc_function("no_such_function_in_libc", [], ctypes.c_int) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tune_allocator_applies_in_a_fresh_process() -> None:
    # A process of its own: the settings are process-wide and stay for the process's life.
    code = (
        "from rolegate.server.allocator import tune_allocator\n"
        "assert tune_allocator() is True\n"
        "pieces = [bytes(256 * 1024) for _ in range(64)]\n"
        "del pieces\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_tune_allocator_reports_a_bool() -> None:
    assert isinstance(tune_allocator(), bool)
