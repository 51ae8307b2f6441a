"""A least-recently-used memo bounded by the total weight of its values, not their count.

The policy caches (parsed documents, compiled statements) hold values whose size varies by
two orders of magnitude: a count bound of 8192 entries let 6 KB policies (~160 KB compiled
each) reach ~1.3 GB, and any caller allowed to assume a role chooses session policies.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["WeightedMemo"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class WeightedMemo(Generic[K, V]):
    """`get(key, build)`: the cached value of `key`, else `build()` stored with the weight
    `weigh(key, value)`; the least recently used values go once the total passes `budget`."""

    def __init__(self, budget: int, weigh: Callable[[K, V], int]) -> None:
        self.budget = budget
        self._weigh = weigh
        self._values: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
                return found[0]
        value = build()  # outside the lock: building may be slow; a race builds twice
        weight = max(1, self._weigh(key, value))
        with self._lock:
            if key in self._values:
                return self._values[key][0]
            self._values[key] = (value, weight)
            self._total += weight
            while self._total > self.budget and len(self._values) > 1:
                _, (_, dropped) = self._values.popitem(last=False)
                self._total -= dropped
        return value

    @property
    def total_weight(self) -> int:
        return self._total

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._total = 0
