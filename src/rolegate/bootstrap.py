"""Open a store ready to serve: migrations applied, built-in AWS managed policies present."""

from __future__ import annotations

from .clock import Clock
from .iam.aws_managed import ensure_aws_managed_policies
from .store.database import Database

__all__ = ["open_database"]


def open_database(url: str, clock: Clock | None = None) -> Database:
    database = Database(url, clock=clock)
    database.migrate()
    with database.write() as uow:
        ensure_aws_managed_policies(uow)
    return database
