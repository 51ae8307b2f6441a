"""Access keys' last use (GetAccessKeyLastUsed), written in batches off the request path.

A request notes its key's use here; a background thread writes what was noted every
`FLUSH_SECONDS` in one write transaction. Per key at most one use a minute is kept (AWS
itself reports last use with a delay of hours), so a steady load writes one row a minute per
key instead of queueing a request behind the store's write lock. A crash loses at most the
last second's notes: the last-used time is advisory, never an authorization input.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from ..clock import Clock
from ..iam.access_keys import record_key_use
from ..store.database import Database

__all__ = ["KeyUseRecorder"]

log = logging.getLogger("rolegate.key_use")

KEY_USE_INTERVAL: Final = 60.0  # seconds: one recorded use per key within it
FLUSH_SECONDS: Final = 1.0


class KeyUseRecorder:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock
        self._last: dict[str, float] = {}
        self._pending: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        database.on_dispose(self.close)

    def note(self, key_id: str, service: str, region: str) -> None:
        """`key_id` signed a request for `service` in `region` now."""
        moment = self._clock.now().timestamp()
        last = self._last.get(key_id)
        if last is not None and moment - last < KEY_USE_INTERVAL:
            return
        self._last[key_id] = moment
        with self._lock:
            self._pending[key_id] = (service, region)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="rolegate-key-use", daemon=True
                )
                self._thread.start()

    def flush(self) -> int:
        """Write what was noted; the number of keys written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with self._database.write() as uow:
                for key_id, (service, region) in pending.items():
                    record_key_use(uow, key_id, service, region)
        except Exception:
            for key_id in pending:  # their next use is noted again
                self._last.pop(key_id, None)
            raise
        return len(pending)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:
                log.warning("recording access key use failed", exc_info=True)

    def close(self) -> None:
        """Stop the thread and write what is pending (the store is being disposed)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.warning("recording access key use failed", exc_info=True)
