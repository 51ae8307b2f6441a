"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.postgres import PostgresCluster, postgres_cluster_fixture


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster (initdb on a temp dir, free loopback port)."""
    yield from postgres_cluster_fixture()
