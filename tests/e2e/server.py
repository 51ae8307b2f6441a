"""A real rolegate server on a free loopback port, in a background thread of the test run."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from rolegate.bootstrap import open_database
from rolegate.clock import OffsetClock
from rolegate.server.app import create_app
from rolegate.server.gateway import Gateway
from rolegate.store.database import default_sqlite_url
from rolegate.sts.keyring import StoreKeyRing

__all__ = ["RunningServer", "free_port"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningServer:
    """uvicorn serving `create_app` for one store; `clock` is the server's business clock."""

    def __init__(self, database_url: str, s3_data_dir: Path | None = None) -> None:
        self.clock = OffsetClock()
        self.database = open_database(database_url, clock=self.clock)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.s3_data_dir = s3_data_dir
        self.app = create_app(self.database, s3_data_dir=s3_data_dir)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="rolegate-test-server")

    @classmethod
    def sqlite(cls, directory: Path) -> RunningServer:
        return cls(default_sqlite_url(directory))

    def start(self) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("rolegate test server did not start")
            time.sleep(0.02)
        return self

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def database_keys(self) -> StoreKeyRing:
        """A key ring over the server's store (the server's own seals and opens the same)."""
        return StoreKeyRing(self.database)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self.database.dispose()
