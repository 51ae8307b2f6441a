"""GroupCommit on a real SQLite file: batching, per-work failure isolation, commit failure."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert, select

from rolegate.store.database import Database, UnitOfWork, default_sqlite_url
from rolegate.store.group_commit import GroupCommit

_metadata = MetaData()
_rows = Table("rows", _metadata, Column("n", Integer, primary_key=True), Column("v", String(8)))


@pytest.fixture
def database(tmp_path: Path) -> Database:
    database = Database(default_sqlite_url(tmp_path))
    _metadata.create_all(database.engine)
    yield database  # type: ignore[misc]
    database.dispose()


def _stored(database: Database) -> list[int]:
    with database.read() as uow:
        return sorted(r.n for r in uow.connection.execute(select(_rows.c.n)))


def test_concurrent_works_share_transactions_and_fail_alone(database: Database) -> None:
    commits = GroupCommit(database)
    transactions = []
    event.listen(database.engine, "commit", lambda _conn: transactions.append(1))
    start = threading.Barrier(24)
    outcomes: dict[int, object] = {}

    def work(n: int) -> None:

        start.wait()
        for attempt in range(10):
            number = n * 100 + attempt
            try:
                outcomes[number] = commits.run(lambda uow, number=number: write_one(uow, number))
            except ValueError as error:
                outcomes[number] = error

    def write_one(uow: UnitOfWork, number: int) -> int:
        uow.connection.execute(insert(_rows).values(n=number, v="x"))
        if number % 5 == 0:
            raise ValueError(f"work {number} refuses")
        return number * 10

    threads = [threading.Thread(target=work, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected_ok = [number for number in outcomes if number % 5]
    assert _stored(database) == sorted(expected_ok)
    for number, outcome in outcomes.items():
        if number % 5:
            assert outcome == number * 10
        else:
            assert isinstance(outcome, ValueError) and str(number) in str(outcome)
    assert len(outcomes) == 240
    assert len(transactions) < 240  # some writers were committed together


def test_a_failed_commit_fails_every_work_of_the_batch(database: Database) -> None:
    commits = GroupCommit(database)

    def duplicate(uow: UnitOfWork) -> None:
        uow.connection.execute(insert(_rows).values(n=1, v="a"))

    commits.run(duplicate)
    with pytest.raises(Exception, match="UNIQUE"):
        commits.run(duplicate)  # fails in its savepoint: only this work
    assert commits.run(lambda uow: 7) == 7

    def interrupted(uow: UnitOfWork) -> None:
        uow.connection.execute(insert(_rows).values(n=2, v="b"))
        raise KeyboardInterrupt  # not an Exception: the whole transaction rolls back

    with pytest.raises(KeyboardInterrupt):
        commits.run(interrupted)
    assert _stored(database) == [1]


def test_write_gate_excludes_other_processes(tmp_path: Path) -> None:
    """Writers in another process wait for the gate (flock), not for SQLite's busy handler."""
    import fcntl
    import multiprocessing
    import os
    import time

    database = Database(default_sqlite_url(tmp_path))
    _metadata.create_all(database.engine)
    held = multiprocessing.get_context("spawn").Event()
    child = multiprocessing.get_context("spawn").Process(
        target=_hold_the_gate, args=(str(tmp_path), held)
    )
    child.start()
    try:
        assert held.wait(30)
        lock_file = os.open(f"{database.url.removeprefix('sqlite:///')}.write-lock", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # the child's turn, visible to every process
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(lock_file)
        started = time.monotonic()
        with database.write() as uow:
            uow.connection.execute(insert(_rows).values(n=2, v="b"))
        waited = time.monotonic() - started
    finally:
        child.join(30)
        database.dispose()
    assert child.exitcode == 0
    assert waited >= 0.4  # the child held the gate for 0.5 s
    assert _stored(Database(default_sqlite_url(tmp_path))) == [1, 2]


def _hold_the_gate(directory: str, held: Any) -> None:
    import time

    database = Database(default_sqlite_url(directory))
    with database.write() as uow:
        uow.connection.execute(insert(_rows).values(n=1, v="a"))
        held.set()
        time.sleep(0.5)
    database.dispose()
