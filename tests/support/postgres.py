"""Throwaway PostgreSQL clusters for tests: initdb into a temp dir, serve on a loopback port.

Start-up (initdb + first accepted connection) takes about 1.5-2.5 s on a shared 2-core machine.

CI runs on a fresh machine with no database services and as root. ``initdb`` and ``postgres``
refuse to run as root, so under root the server runs as the ``postgres`` system user (created
by the Debian package ``postgresql``) or, failing that, ``nobody``.

Session fixture to put in a conftest.py::

    @pytest.fixture(scope="session")
    def postgres_cluster() -> Iterator[PostgresCluster]:
        yield from postgres_cluster_fixture()
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
import pytest
from psycopg import sql

__all__ = [
    "MISSING_BINARIES_MESSAGE",
    "PostgresCluster",
    "PostgresStartError",
    "find_postgres_bin",
    "postgres_cluster_fixture",
]

MISSING_BINARIES_MESSAGE = (
    "PostgreSQL server binaries not found: install the Debian package postgresql"
)

REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
SUPERUSER = "postgres"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30
PORT_ATTEMPTS = 3
LOG_TAIL_LINES = 40
DATABASE_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

SERVER_SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "50",
    "shared_buffers": "32MB",
    "wal_level": "minimal",
    "max_wal_senders": "0",
}


class PostgresStartError(RuntimeError):
    """The cluster could not be initialised or did not come up in time."""


def _has_binaries(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in REQUIRED_BINARIES)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    version = bin_dir.parent.name
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (-1,)


def find_postgres_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None if there is none."""
    debian_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key)
    for candidate in reversed(debian_dirs):
        if _has_binaries(candidate):
            return candidate
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidate = Path(initdb).resolve().parent
        if _has_binaries(candidate):
            return candidate
    return None


def _unprivileged_account() -> pwd.struct_passwd:
    for name in (SUPERUSER, "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresStartError(
        "running as root, and neither a 'postgres' nor a 'nobody' user exists to run the server"
    )


def _world_traversable(directory: Path) -> bool:
    return all(path.stat().st_mode & stat.S_IXOTH for path in (directory, *directory.parents))


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _clean_environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment["LC_ALL"] = "C"
    environment["LANG"] = "C"
    return environment


class PostgresCluster:
    """A private PostgreSQL server in a temporary directory, trust auth, superuser postgres."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        found = bin_dir if bin_dir is not None else find_postgres_bin()
        if found is None:
            raise PostgresStartError(MISSING_BINARIES_MESSAGE)
        self.bin_dir: Path = found
        self.base_dir: Path | None = None
        self.port: int | None = None
        self.start_seconds: float | None = None
        self._account: pwd.struct_passwd | None = None
        self._postmaster: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self._require_base_dir() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_base_dir() / "socket"

    @property
    def log_path(self) -> Path:
        return self._require_base_dir() / "postgres.log"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self.base_dir is not None:
            raise PostgresStartError("cluster already started")
        began = time.monotonic()
        self._account = _unprivileged_account() if os.geteuid() == 0 else None
        self.base_dir = self._make_base_dir()
        atexit.register(self.stop)
        try:
            self.socket_dir.mkdir()
            self._chown(self.socket_dir)
            self._initdb()
            self._write_settings()
            self._start_server(time.monotonic() + START_TIMEOUT_SECONDS)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) for a database in this cluster."""
        if self.port is None:
            raise PostgresStartError("cluster is not running")
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        if not DATABASE_NAME_PATTERN.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediate shutdown) and delete the temp dir; safe to call twice."""
        atexit.unregister(self.stop)
        if self.base_dir is None:
            return
        try:
            self._stop_server()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
            self.port = None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if self.base_dir is None or not self.log_path.exists():
            return "(no server log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _require_base_dir(self) -> Path:
        if self.base_dir is None:
            raise PostgresStartError("cluster is not started")
        return self.base_dir

    def _make_base_dir(self) -> Path:
        parent = Path(tempfile.gettempdir())
        if self._account is not None and not _world_traversable(parent):
            parent = Path("/tmp")
        base_dir = Path(tempfile.mkdtemp(prefix="rolegate-pg-", dir=parent))
        self._chown(base_dir)
        return base_dir

    def _chown(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def _run(self, *arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
        account = self._account
        return subprocess.run(
            [str(self.bin_dir / arguments[0]), *arguments[1:]],
            cwd=self._require_base_dir(),
            env=_clean_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],
        )

    def _initdb(self) -> None:
        result = self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--username",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            timeout=120,
        )
        if result.returncode != 0:
            raise PostgresStartError(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def _write_settings(self) -> None:
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'"}
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# rolegate test cluster\n" + lines)

    def _start_server(self, deadline: float) -> None:
        for _ in range(PORT_ATTEMPTS):
            self.port = _free_loopback_port()
            self._spawn_postmaster()
            try:
                self._wait_until_accepting(deadline)
                return
            except PostgresStartError:
                self._stop_server()
                if "Address already in use" not in self.log_tail():
                    raise
        raise PostgresStartError(f"no free loopback port after {PORT_ATTEMPTS} attempts")

    def _spawn_postmaster(self) -> None:
        # The postmaster is our own child (not daemonised by `pg_ctl start`) so that stop() can
        # reap it: an orphan would linger as a zombie under an init that does not reap.
        account = self._account
        with self.log_path.open("wb") as log:
            self._postmaster = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)],
                cwd=self._require_base_dir(),
                env=_clean_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=None if account is None else [],
            )

    def _conninfo(self, database: str) -> str:
        return f"host={HOST} port={self.port} user={SUPERUSER} dbname={database} sslmode=disable"

    def _wait_until_accepting(self, deadline: float) -> None:
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._postmaster is not None and self._postmaster.poll() is not None:
                raise PostgresStartError(
                    f"PostgreSQL exited with status {self._postmaster.returncode} while starting "
                    f"on port {self.port}; server log tail:\n{self.log_tail()}"
                )
            try:
                with psycopg.connect(self._conninfo("postgres"), connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
                return
            except psycopg.OperationalError as error:
                last_error = error
                time.sleep(0.1)
        raise PostgresStartError(
            f"PostgreSQL on port {self.port} did not accept connections within "
            f"{START_TIMEOUT_SECONDS:.0f} s ({last_error}); server log tail:\n{self.log_tail()}"
        )

    def _stop_server(self) -> None:
        postmaster = self._postmaster
        if postmaster is None:
            return
        self._postmaster = None
        if postmaster.poll() is None:
            self._run(
                "pg_ctl",
                "stop",
                "--pgdata",
                str(self.data_dir),
                "--mode",
                "immediate",
                "--wait",
                "--timeout",
                str(STOP_TIMEOUT_SECONDS),
                timeout=STOP_TIMEOUT_SECONDS + 10,
            )
        try:
            postmaster.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            postmaster.kill()
            postmaster.wait()


def postgres_cluster_fixture() -> Iterator[PostgresCluster]:
    """Body of a session fixture: fails (never skips) when the server binaries are missing."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.fail(MISSING_BINARIES_MESSAGE, pytrace=False)
    with PostgresCluster(bin_dir) as cluster:
        yield cluster
