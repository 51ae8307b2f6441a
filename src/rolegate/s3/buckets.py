"""Bucket operations: list, create, head, delete, location, and the bucket policy."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..store.database import UnitOfWork
from . import catalog
from .access import authorize, validate_bucket_policy
from .call import DEFAULT_REGION, Call, acl_keys, owner, respond
from .catalog import Bucket
from .context import S3Context
from .errors import S3Error, access_denied, bucket_not_empty, invalid_bucket_name
from .names import bucket_arn, is_valid_bucket_name

__all__ = [
    "create_bucket",
    "delete_bucket",
    "delete_bucket_policy",
    "get_bucket_location",
    "get_bucket_policy",
    "head_bucket",
    "list_buckets",
    "put_bucket_policy",
]


async def list_buckets(context: S3Context, call: Call, request: Request) -> Response:
    def run() -> dict[str, Any]:
        if call.info.anonymous:
            raise access_denied()
        with context.database.read() as uow:
            authorize(
                call.info,
                call.action,
                "arn:aws:s3:::*",
                owner_account=call.info.caller.account_id,
                bucket_policy=None,
                bucket=None,
            )
            buckets = catalog.list_buckets(uow, call.info.caller.account_id)
        return {
            "Buckets": [
                {"Name": b.name, "CreationDate": b.created_at, "BucketRegion": b.region}
                for b in buckets
            ],
            "Owner": owner(call.info.caller.account_id),
        }

    return respond("ListBuckets", await context.thread(run))


async def create_bucket(context: S3Context, call: Call, request: Request) -> Response:
    params = call.parse("CreateBucket")
    name = call.bucket
    if not is_valid_bucket_name(name):
        raise invalid_bucket_name(name)
    configuration = params.get("CreateBucketConfiguration") or {}
    region = configuration.get("LocationConstraint") or DEFAULT_REGION
    if region == "EU":
        region = "eu-west-1"

    def run() -> None:
        caller = call.info.caller
        if call.info.anonymous:
            raise access_denied()
        with context.database.write() as uow:
            authorize(
                call.info,
                call.action,
                bucket_arn(name),
                owner_account=caller.account_id,
                bucket_policy=None,
                bucket=name,
                keys=acl_keys(call),
            )
            if catalog.create_bucket(uow, name, caller.account_id, region):
                return
            existing = catalog.get_bucket(uow, name)
            if existing is not None and existing.account_id == caller.account_id:
                raise S3Error(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you "
                    "already own it.",
                    409,
                    extra={"BucketName": name},
                )
            raise S3Error(
                "BucketAlreadyExists",
                "The requested bucket name is not available. The bucket namespace is "
                "shared by all users of the system. Please select a different name and "
                "try again.",
                409,
                extra={"BucketName": name},
            )

    await context.thread(run)
    return respond("CreateBucket", {"Location": f"/{name}"})


def read_bucket(context: S3Context, uow: UnitOfWork, call: Call) -> Bucket:
    """`prepare` of the operations that only need the authorized bucket."""
    return context.authorized_bucket(uow, call)


async def head_bucket(context: S3Context, call: Call, request: Request) -> Response:
    bucket: Bucket = call.prepared
    return respond("HeadBucket", {"BucketRegion": bucket.region, "AccessPointAlias": False})


async def get_bucket_location(context: S3Context, call: Call, request: Request) -> Response:
    bucket: Bucket = call.prepared
    location = None if bucket.region == DEFAULT_REGION else bucket.region
    return respond("GetBucketLocation", {"LocationConstraint": location})


async def delete_bucket(context: S3Context, call: Call, request: Request) -> Response:
    def run() -> None:
        with context.database.write() as uow:
            context.authorized_bucket(uow, call)
            catalog.get_bucket(uow, call.bucket, for_update=True)
            if not catalog.bucket_is_empty(uow, call.bucket):
                raise bucket_not_empty(call.bucket)
            blobs = catalog.delete_bucket(uow, call.bucket)
        context.store.release(blobs)

    await context.thread(run)
    return respond("DeleteBucket", None)


def _policy_bucket(context: S3Context, uow: UnitOfWork, call: Call) -> Bucket:
    """The bucket owner's root may always manage the policy (no lock-out)."""
    bucket = catalog.get_bucket(uow, call.bucket)
    caller = call.info.caller
    if bucket is not None and caller.is_root and caller.account_id == bucket.account_id:
        return bucket
    return context.authorized_bucket(uow, call)


async def get_bucket_policy(context: S3Context, call: Call, request: Request) -> Response:
    def run() -> str:
        with context.database.read() as uow:
            bucket = _policy_bucket(context, uow, call)
        if bucket.policy is None:
            raise S3Error(
                "NoSuchBucketPolicy",
                "The bucket policy does not exist",
                404,
                extra={"BucketName": bucket.name},
            )
        return bucket.policy

    policy = await context.thread(run)
    return Response(policy.encode(), 200, {"Content-Type": "application/json"})


async def put_bucket_policy(context: S3Context, call: Call, request: Request) -> Response:
    params = call.parse("PutBucketPolicy")
    document = params.get("Policy") or ""

    def run() -> None:
        with context.database.write() as uow:
            _policy_bucket(context, uow, call)
            validate_bucket_policy(document, call.bucket)
            catalog.set_bucket_policy(uow, call.bucket, document)

    await context.thread(run)
    return Response(status_code=204)


async def delete_bucket_policy(context: S3Context, call: Call, request: Request) -> Response:
    def run() -> None:
        with context.database.write() as uow:
            _policy_bucket(context, uow, call)
            catalog.set_bucket_policy(uow, call.bucket, None)

    await context.thread(run)
    return Response(status_code=204)
