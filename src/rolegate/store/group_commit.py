"""Group commit: concurrent short write transactions of one process share one transaction.

SQLite has one writer at a time, so a write pays for its turn (the write gate, BEGIN
IMMEDIATE, COMMIT) and everyone behind it waits that long. Here the writers that queue while
a transaction runs are committed together by the next of them: each one's work runs in its
own savepoint (a failing one rolls back only itself and gets its own exception), and the
batch commits once. PostgreSQL locks rows, not the database: there each work simply gets its
own transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final, Generic, TypeVar

from .database import Database, UnitOfWork

__all__ = ["GroupCommit"]

T = TypeVar("T")
MAX_BATCH: Final = 64


class _Work(Generic[T]):
    __slots__ = ("done", "error", "turn", "value", "work")

    def __init__(self, work: Callable[[UnitOfWork], T]) -> None:
        self.work = work
        self.value: T | None = None
        self.error: BaseException | None = None
        self.done = False
        self.turn = threading.Event()  # set when done, or when it is this work's turn to lead

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class GroupCommit:
    def __init__(self, database: Database, max_batch: int = MAX_BATCH) -> None:
        self.database = database
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Work[object]] = []
        self._leading = False

    def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run `work` in a write transaction (perhaps shared) and return its result once that
        transaction committed; its exception if it raised or the commit failed."""
        if not self.database.is_sqlite:
            with self.database.write() as uow:
                return work(uow)
        item: _Work[T] = _Work(work)
        with self._lock:
            self._queue.append(item)  # type: ignore[arg-type]
            follow, self._leading = self._leading, True
        if follow:
            item.turn.wait()
            if item.done:
                return item.outcome()
        self._lead()
        return item.outcome()

    def _lead(self) -> None:
        """Commit the queued works (this one first): the batch is taken once the transaction
        has begun, so it holds everyone who queued while the previous one ran."""
        batch: list[_Work[object]] = []
        try:
            with self.database.write() as uow:
                with self._lock:
                    batch = self._queue[: self.max_batch]
                    del self._queue[: self.max_batch]
                if len(batch) == 1:  # alone: its failure rolls back the transaction
                    batch[0].value = batch[0].work(uow)
                for item in batch if len(batch) > 1 else ():
                    try:
                        with uow.connection.begin_nested():
                            item.value = item.work(uow)
                    except Exception as error:  # handed to its own caller
                        item.error = error
        except BaseException as error:  # the transaction failed: no work was stored
            if not batch:
                with self._lock:
                    batch = [self._queue.pop(0)]
            for item in batch:
                item.value = None
                if item.error is None:
                    item.error = error
        finally:
            with self._lock:
                following = self._queue[0] if self._queue else None
                self._leading = following is not None
            for item in batch:
                item.done = True
                item.turn.set()
            if following is not None:
                following.turn.set()
