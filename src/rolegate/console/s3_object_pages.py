"""The console's object pages: details (HeadObject), download (a 303 to a presigned
GetObject URL that names the file with RFC 6266 `attachment`), and delete (DeleteObject).

A HEAD answer has no body, so a refused or missing HeadObject carries no AWS message; the
page then asks GetObject for the first byte, which is authorized as the same action and
answers with S3's full message (and the engine's explanation) instead.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .aws import AwsCallError
from .s3_support import (
    BROWSER_UNSAFE_MESSAGE,
    browser_addressable,
    bucket_path,
    content_disposition,
    error_dict,
    folder_of,
    format_time,
    human_size,
    invalid_bucket,
    listing_url,
    prefix_crumbs,
    s3_call,
    valid_bucket_name,
)
from .web import Console, Identity, page

__all__ = ["routes"]

_CHECKSUMS: Final = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
# A key a browser cannot address (see `browser_addressable`) is downloaded through the
# console, in memory: only up to this size.
_PROXY_LIMIT: Final = 64 * 1024 * 1024


def routes(console: Console) -> list[Route]:
    async def head(request: Request, identity: Identity, bucket: str, key: str) -> dict[str, Any]:
        """HeadObject; on an error, S3's message for it from a one-byte GetObject."""
        if not valid_bucket_name(bucket):
            raise invalid_bucket()
        if not key:
            raise AwsCallError("InvalidArgument", "Choose an object: the key is empty.", 400, None)
        try:
            return await s3_call(
                console,
                request,
                identity,
                "head_object",
                Bucket=bucket,
                Key=key,
                ChecksumMode="ENABLED",
            )
        except AwsCallError as error:
            if error.status not in (403, 404):
                raise
            try:
                result = await s3_call(
                    console,
                    request,
                    identity,
                    "get_object",
                    Bucket=bucket,
                    Key=key,
                    Range="bytes=0-0",
                )
            except AwsCallError as detailed:
                raise detailed from None
            result["Body"].close()
            raise

    async def details(
        request: Request,
        identity: Identity,
        *,
        action_error: AwsCallError | None = None,
        key: str | None = None,
    ) -> Response:
        bucket = request.path_params["bucket"]
        key = request.query_params.get("key", "") if key is None else key
        info: dict[str, Any] | None = None
        error: AwsCallError | None = None
        try:
            result = await head(request, identity, bucket, key)
        except AwsCallError as failure:
            error = failure
        else:
            checksums = [
                {"algorithm": name, "value": str(result[f"Checksum{name}"])}
                for name in _CHECKSUMS
                if result.get(f"Checksum{name}")
            ]
            info = {
                "size": human_size(result.get("ContentLength", 0)),
                "bytes": result.get("ContentLength", 0),
                "etag": str(result.get("ETag", "")),
                "content_type": str(result.get("ContentType", "")),
                "modified": format_time(result.get("LastModified")),
                "storage_class": str(result.get("StorageClass") or "STANDARD"),
                "metadata": sorted(dict(result.get("Metadata") or {}).items()),
                "checksums": checksums,
                "checksum_type": str(result.get("ChecksumType", "")),
                "version_id": str(result.get("VersionId", "")),
            }
        shown = action_error or error
        status = shown.status if shown is not None else 200
        folder = folder_of(key.rstrip("/"))
        name = key[len(folder) :]
        return console.render(
            request,
            "s3_object.html",
            identity,
            status=status,
            title=name or "Object",
            bucket=bucket,
            bucket_url=bucket_path(bucket),
            key=key,
            name=name,
            crumbs=prefix_crumbs(folder)[0],
            info=info,
            error=error_dict(error),
            action_error=error_dict(action_error),
        )

    async def object_page(request: Request, identity: Identity) -> Response:
        return await details(request, identity)

    async def download(request: Request, identity: Identity) -> Response:
        bucket = request.path_params["bucket"]
        key = request.query_params.get("key", "")
        try:
            result = await head(request, identity, bucket, key)
        except AwsCallError:
            return await details(request, identity)
        disposition = content_disposition(key)
        if browser_addressable(key):
            url = console.aws.presigned_url(
                identity.credentials,
                str(request.base_url).rstrip("/"),
                "get_object",
                {"Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition},
            )
            return RedirectResponse(url, 303)
        if int(result.get("ContentLength", 0)) > _PROXY_LIMIT:
            error = AwsCallError("KeyNotAddressable", BROWSER_UNSAFE_MESSAGE, 400, None)
            return await details(request, identity, action_error=error)
        try:
            got = await s3_call(console, request, identity, "get_object", Bucket=bucket, Key=key)
        except AwsCallError as error:
            return await details(request, identity, action_error=error)
        body = got["Body"].read()
        return Response(
            body,
            200,
            {
                "content-type": str(got.get("ContentType") or "application/octet-stream"),
                "content-disposition": disposition,
            },
        )

    async def delete_object(request: Request, identity: Identity) -> Response:
        bucket = request.path_params["bucket"]
        form = await request.form()
        raw = form.get("key")
        key = raw if isinstance(raw, str) else ""
        if not valid_bucket_name(bucket) or not key:
            error = AwsCallError("InvalidArgument", "Choose an object to delete.", 400, None)
            return await details(request, identity, action_error=error, key=key)
        try:
            await s3_call(console, request, identity, "delete_object", Bucket=bucket, Key=key)
        except AwsCallError as error:
            return await details(request, identity, action_error=error, key=key)
        return RedirectResponse(listing_url(bucket, folder_of(key), done="object-deleted"), 303)

    return [
        Route("/console/s3/buckets/{bucket}/object", page(console, object_page), methods=["GET"]),
        Route("/console/s3/buckets/{bucket}/download", page(console, download), methods=["GET"]),
        Route(
            "/console/s3/buckets/{bucket}/object/delete",
            page(console, delete_object),
            methods=["POST"],
        ),
    ]
