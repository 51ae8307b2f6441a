"""The instance life cycle, as a pure function of the last state a call set and the time.

A call moves an instance into pending, stopping or shutting-down; each of those ends by
itself after a short while (running, stopped, terminated) on the store's clock, which tests
move. A terminated instance stays visible for about an hour, as in AWS.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

__all__ = [
    "CODES",
    "PENDING",
    "RUNNING",
    "SHUTTING_DOWN",
    "STOPPED",
    "STOPPING",
    "TERMINATED",
    "TERMINATED_VISIBLE",
    "TRANSITION",
    "current_state",
    "settled_at",
    "state_of",
    "visible",
]

PENDING: Final = "pending"
RUNNING: Final = "running"
SHUTTING_DOWN: Final = "shutting-down"
TERMINATED: Final = "terminated"
STOPPING: Final = "stopping"
STOPPED: Final = "stopped"

# The codes of InstanceState (the high byte is internal to AWS; always 0 here).
CODES: Final = {
    PENDING: 0,
    RUNNING: 16,
    SHUTTING_DOWN: 32,
    TERMINATED: 48,
    STOPPING: 64,
    STOPPED: 80,
}
# How long a transient state lasts, and what it becomes.
TRANSITION: Final = timedelta(seconds=10)
_SETTLES_INTO: Final = {PENDING: RUNNING, STOPPING: STOPPED, SHUTTING_DOWN: TERMINATED}
TERMINATED_VISIBLE: Final = timedelta(hours=1)


def current_state(state: str, changed_at: datetime, now: datetime) -> str:
    """The state at `now` of an instance put in `state` at `changed_at`."""
    settled = _SETTLES_INTO.get(state)
    if settled is not None and now - changed_at >= TRANSITION:
        return settled
    return state


def settled_at(state: str, changed_at: datetime) -> datetime:
    """When the instance entered the state it is in once its transition ended."""
    return changed_at + TRANSITION if state in _SETTLES_INTO else changed_at


def visible(state: str, changed_at: datetime, now: datetime) -> bool:
    """Terminated instances disappear from DescribeInstances about an hour later."""
    if current_state(state, changed_at, now) != TERMINATED:
        return True
    return now - settled_at(state, changed_at) < TERMINATED_VISIBLE


def state_of(name: str) -> dict[str, object]:
    """The InstanceState structure of a state name."""
    return {"Code": CODES[name], "Name": name}
