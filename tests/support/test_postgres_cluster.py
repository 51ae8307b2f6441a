"""The throwaway PostgreSQL cluster used by store tests: lifecycle, isolation, cleanup."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from support import postgres
from support.postgres import (
    MISSING_BINARIES_MESSAGE,
    PostgresCluster,
    PostgresStartError,
    find_postgres_bin,
    postgres_cluster_fixture,
)


def _require_binaries() -> None:
    if find_postgres_bin() is None:
        pytest.fail(MISSING_BINARIES_MESSAGE, pytrace=False)


def _is_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        return {row.tablename for row in rows}


def test_databases_are_isolated_and_stop_cleans_up() -> None:
    _require_binaries()
    cluster = PostgresCluster()
    cluster.start()
    try:
        base_dir = cluster.base_dir
        port = cluster.port
        assert base_dir is not None and base_dir.is_dir()
        assert port is not None and _is_listening(port)
        assert cluster.url() == f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

        first_url = cluster.create_database("rolegate_first")
        second_url = cluster.create_database("rolegate_second")
        assert first_url == cluster.url("rolegate_first")
        first = create_engine(first_url)
        second = create_engine(second_url)
        try:
            with first.begin() as connection:
                connection.execute(text("CREATE TABLE roles (name TEXT PRIMARY KEY)"))
                connection.execute(text("INSERT INTO roles VALUES ('admin'), ('reader')"))
            with second.begin() as connection:
                connection.execute(text("CREATE TABLE users (name TEXT PRIMARY KEY)"))
                connection.execute(text("INSERT INTO users VALUES ('alice')"))
                encoding = connection.execute(text("SHOW server_encoding")).scalar_one()
            assert encoding == "UTF8"

            assert _tables(first) == {"roles"}
            assert _tables(second) == {"users"}
            with first.connect() as connection:
                names = connection.execute(text("SELECT name FROM roles ORDER BY name"))
                assert names.scalars().all() == ["admin", "reader"]
        finally:
            first.dispose()
            second.dispose()
    finally:
        cluster.stop()

    assert cluster.base_dir is None
    assert not base_dir.exists()
    assert not _is_listening(port)
    cluster.stop()  # stopping twice is harmless


def test_context_manager_stops_on_error() -> None:
    _require_binaries()
    with pytest.raises(RuntimeError, match="boom"), PostgresCluster() as cluster:
        base_dir = cluster.base_dir
        port = cluster.port
        raise RuntimeError("boom")
    assert base_dir is not None and not base_dir.exists()
    assert port is not None and not _is_listening(port)


def test_fixture_fails_loudly_without_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_postgres_bin", lambda: None)
    fixture: Iterator[PostgresCluster] = postgres_cluster_fixture()
    with pytest.raises(pytest.fail.Exception, match="install the Debian package postgresql"):
        next(fixture)


def test_fixture_yields_a_running_cluster() -> None:
    _require_binaries()
    fixture = postgres_cluster_fixture()
    cluster = next(fixture)
    base_dir = cluster.base_dir
    try:
        engine = create_engine(cluster.url())
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT current_user")).scalar_one() == "postgres"
        finally:
            engine.dispose()
    finally:
        with pytest.raises(StopIteration):
            next(fixture)
    assert base_dir is not None and not base_dir.exists()


def test_start_failure_reports_log_tail_and_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    _require_binaries()
    broken_settings = {**postgres.SERVER_SETTINGS, "no_such_setting": "1"}
    monkeypatch.setattr(postgres, "SERVER_SETTINGS", broken_settings)
    cluster = PostgresCluster()
    with pytest.raises(PostgresStartError, match="no_such_setting"):
        cluster.start()
    assert cluster.base_dir is None


def test_busy_port_is_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    _require_binaries()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        busy_port = squatter.getsockname()[1]
        monkeypatch.setattr(postgres, "_free_loopback_port", lambda: busy_port)
        cluster = PostgresCluster()
        with pytest.raises(PostgresStartError, match="no free loopback port"):
            cluster.start()
    assert cluster.base_dir is None
