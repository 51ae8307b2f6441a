"""What an S3 operation works with: the store, the blob directory, the limits, and the
authorization of a request against a bucket (the bucket policy as resource policy)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from starlette.concurrency import run_in_threadpool

from ..api.registry import Caller
from ..policy import Decision
from ..policy.request import ContextValue
from ..server.gateway import Gateway
from ..store.database import Database, UnitOfWork
from ..store.group_commit import GroupCommit
from . import catalog
from .access import authorize, decide
from .call import Call
from .catalog import Bucket
from .errors import no_such_bucket
from .names import bucket_arn, object_arn
from .storage import Blobs

__all__ = [
    "INLINE_OBJECT_SIZE",
    "MAX_MULTIPART_SIZE",
    "MAX_OBJECT_SIZE",
    "MIN_PART_SIZE",
    "S3Context",
    "bucket_decision",
]

MAX_OBJECT_SIZE: Final = 5 * 1024**3  # one PUT or one part
MAX_MULTIPART_SIZE: Final = 5 * 1024**4
MIN_PART_SIZE: Final = 5 * 1024**2
# Objects up to this size are kept in their metadata row: no file, no fsync, one transaction.
INLINE_OBJECT_SIZE: Final = 64 * 1024

T = TypeVar("T")


def bucket_decision(call: Call, action: str, resource: str, bucket: Bucket) -> Decision:
    """The engine's decision on `action` on `resource` in a loaded bucket (its policy as the
    resource policy), for an operation that words the denial itself."""
    return decide(
        call.info,
        action,
        resource,
        owner_account=bucket.account_id,
        bucket_policy=bucket.policy,
        bucket=bucket.name,
    )


class BucketCache:
    """Bucket rows by name, reused for callers of the owning account while that account's
    generation (read with the caller's key, in the same transaction) is unchanged: writes to
    a bucket row bump it. Other callers, and missing buckets, always read the store."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._entries: dict[str, tuple[int, Bucket]] = {}

    def get(self, uow: UnitOfWork, name: str, caller: Caller) -> Bucket | None:
        entry = self._entries.get(name)
        if (
            entry is not None
            and entry[1].account_id == caller.account_id
            and entry[0] == caller.generation
        ):
            return entry[1]
        bucket = catalog.get_bucket(uow, name)
        if bucket is not None and bucket.account_id == caller.account_id:
            if len(self._entries) >= self.capacity:
                self._entries.clear()
            self._entries[name] = (caller.generation, bucket)
        return bucket


@dataclass(frozen=True)
class S3Context:
    gateway: Gateway
    database: Database
    store: Blobs
    commits: GroupCommit
    buckets: BucketCache = field(default_factory=BucketCache)
    max_object_size: int = MAX_OBJECT_SIZE
    min_part_size: int = MIN_PART_SIZE
    inline_object_size: int = INLINE_OBJECT_SIZE

    async def thread(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking work (store, files, hashing) in a worker thread."""
        return await run_in_threadpool(function, *args)

    def authorized_bucket(
        self,
        uow: UnitOfWork,
        call: Call,
        action: str | None = None,
        *,
        key: str | None = None,
        keys: Mapping[str, ContextValue] | None = None,
        bucket_name: str | None = None,
    ) -> Bucket:
        """Load the bucket and authorize `action` (default: the operation's) on it, or on
        `key` in it.

        A missing bucket is NoSuchBucket only to a caller whose own policies allow the action;
        anyone else gets AccessDenied (AWS answers NoSuchBucket to everyone).
        """
        name = bucket_name or call.bucket
        action = action or call.action
        resource = object_arn(name, key) if key is not None else bucket_arn(name)
        bucket = self.buckets.get(uow, name, call.info.caller)
        if bucket is not None and name == call.route.bucket:
            call.bucket_owner = bucket.account_id
        if bucket is None:
            authorize(
                call.info,
                action,
                resource,
                owner_account=None,
                bucket_policy=None,
                bucket=name,
                keys=keys,
            )
            raise no_such_bucket(name)
        authorize(
            call.info,
            action,
            resource,
            owner_account=bucket.account_id,
            bucket_policy=bucket.policy,
            bucket=name,
            keys=keys,
        )
        return bucket
