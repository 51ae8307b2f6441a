"""The ingesting process `rolegate serve` runs beside itself (`rolegate audit ingest
--follow --parent <serve's pid>`).

The server's request path is bound by one core (the GIL); storing the journaled events in
the store from a thread of the same process took its CPU time from the requests. In a process
of its own the ingestion runs on another core. It stops when told to, or by itself once the
server is gone (after a last round: a server killed with -9 leaves its journal unlocked, and
that round stores it). If it ends unexpectedly it is started again.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from typing import Final

__all__ = ["IngesterProcess"]

log = logging.getLogger("rolegate.audit")

_STOP_TIMEOUT: Final = 30.0
_RESTART_DELAY: Final = 1.0


class IngesterProcess:
    """`rolegate audit ingest --follow` for the store of `data` / `db`, watched by a thread."""

    def __init__(self, data: str, db: str | None, retention_days: float, interval: float) -> None:
        self.command = [
            sys.executable,
            "-m",
            "rolegate",
            "audit",
            "ingest",
            "--follow",
            "--parent",
            str(os.getpid()),
            "--interval",
            str(interval),
            "--retention-days",
            str(retention_days),
            "--data",
            data,
        ]
        if db is not None:
            self.command += ["--db", db]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self._watch: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watch = threading.Thread(
            target=self._watch_loop, name="rolegate-ingester", daemon=True
        )
        self._watch.start()

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                # Its own session: a terminal's Ctrl-C stops the server, which then stops it.
                self.process = subprocess.Popen(
                    self.command, stdin=subprocess.DEVNULL, start_new_session=True
                )

    def _watch_loop(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            if process is None:
                return
            code = process.wait()
            if self._stopping.is_set():
                return
            log.warning("the audit ingesting process ended (exit %s): starting it again", code)
            if self._stopping.wait(_RESTART_DELAY):
                return
            self._spawn()

    def stop(self) -> None:
        """Ask it to finish (a last round), wait for it, kill it if it hangs."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._watch is not None:
            self._watch.join(timeout=5)
