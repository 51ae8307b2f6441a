"""The S3 operations as data: name -> handler, the IAM action it is authorized as, and an
optional `prepare` step.

`prepare(context, uow, call)` runs in the call and transaction that authenticated the
request (its result is `call.prepared`): an operation whose work is a few reads, such as
GetObject, is then answered with one call and one transaction. `complete(context,
call)`, when given, runs next in the same call after that transaction (its result
replaces `call.prepared`): a small PutObject writes and commits there. The async `handler`
does the rest (streaming a body, another transaction) and builds the response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ..store.database import UnitOfWork
from . import buckets, listing, multipart, objects, reads
from .call import Call
from .context import S3Context

__all__ = ["OPERATIONS", "Complete", "Handler", "Operation", "Prepare"]

Handler = Callable[[S3Context, Call, Request], Awaitable[Response]]
Prepare = Callable[[S3Context, UnitOfWork, Call], Any]
Complete = Callable[[S3Context, Call], Any]


@dataclass(frozen=True)
class Operation:
    name: str
    action: str
    handler: Handler
    prepare: Prepare | None = None
    complete: Complete | None = None


def _table(*operations: Operation) -> dict[str, Operation]:
    return {operation.name: operation for operation in operations}


OPERATIONS: Final[Mapping[str, Operation]] = _table(
    # buckets
    Operation("ListBuckets", "s3:ListAllMyBuckets", buckets.list_buckets),
    Operation("CreateBucket", "s3:CreateBucket", buckets.create_bucket),
    Operation("HeadBucket", "s3:ListBucket", buckets.head_bucket, buckets.read_bucket),
    Operation("DeleteBucket", "s3:DeleteBucket", buckets.delete_bucket),
    Operation(
        "GetBucketLocation",
        "s3:GetBucketLocation",
        buckets.get_bucket_location,
        buckets.read_bucket,
    ),
    Operation("GetBucketPolicy", "s3:GetBucketPolicy", buckets.get_bucket_policy),
    Operation("PutBucketPolicy", "s3:PutBucketPolicy", buckets.put_bucket_policy),
    Operation("DeleteBucketPolicy", "s3:DeleteBucketPolicy", buckets.delete_bucket_policy),
    # listing
    Operation("ListObjects", "s3:ListBucket", listing.list_objects),
    Operation("ListObjectsV2", "s3:ListBucket", listing.list_objects_v2),
    # objects
    Operation("GetObject", "s3:GetObject", reads.get_object, reads.open_object),
    Operation("HeadObject", "s3:GetObject", reads.head_object, reads.open_object_head),
    Operation(
        "PutObject",
        "s3:PutObject",
        objects.put_object,
        objects.prepare_put_object,
        objects.complete_small_put_object,
    ),
    Operation("CopyObject", "s3:PutObject", objects.copy_object),
    Operation("DeleteObject", "s3:DeleteObject", objects.delete_object),
    Operation("DeleteObjects", "s3:DeleteObject", objects.delete_objects),
    # multipart uploads
    Operation("CreateMultipartUpload", "s3:PutObject", multipart.create_multipart_upload),
    Operation("UploadPart", "s3:PutObject", multipart.upload_part, multipart.prepare_upload_part),
    Operation("UploadPartCopy", "s3:PutObject", multipart.upload_part_copy),
    Operation("CompleteMultipartUpload", "s3:PutObject", multipart.complete_multipart_upload),
    Operation("AbortMultipartUpload", "s3:AbortMultipartUpload", multipart.abort_multipart_upload),
    Operation("ListParts", "s3:ListMultipartUploadParts", multipart.list_parts),
    Operation(
        "ListMultipartUploads",
        "s3:ListBucketMultipartUploads",
        multipart.list_multipart_uploads,
    ),
)
