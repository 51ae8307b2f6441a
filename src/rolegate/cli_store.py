"""The store options every `rolegate` command that opens the store takes (`--data`, `--db`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import click

from .bootstrap import open_database
from .store.database import Database, default_sqlite_url

__all__ = ["DEFAULT_DATA_DIR", "open_store", "store_options"]

DEFAULT_DATA_DIR: Final = "./.rolegate"


def open_store(data: str, db: str | None) -> Database:
    """The store of `--db`, else the embedded SQLite store in `--data` (migrated)."""
    return open_database(db or default_sqlite_url(data))


def store_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option(
        "--db", default=None, help="SQLAlchemy URL (postgresql://...); default SQLite in --data."
    )(command)
    return click.option(
        "--data",
        default=DEFAULT_DATA_DIR,
        show_default=True,
        type=click.Path(file_okay=False),
        help="Data directory of the embedded store.",
    )(command)
