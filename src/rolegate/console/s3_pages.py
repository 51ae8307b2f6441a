"""The console's S3 pages: buckets, the object browser (folders are the '/' common prefixes
of ListObjectsV2), creating folders, and browser uploads straight to S3.

Every action is an S3 call as the signed-in identity (the role session while in a role),
through `console.call` or a presigned URL: the real S3 endpoint and the policy engine decide,
and a refusal shows AWS's message with the engine's explanation, under the error's HTTP
status. An upload is `fetch`/XHR PUT from the browser to a presigned PutObject URL that
`upload-url` signs for the browser's origin, so the bytes never pass through the console.
When S3 refuses that PUT, the page sends S3's message to `explain`, which opens the encoded
authorization failure message for the identity's own account only (as
sts:DecodeAuthorizationMessage would) and renders it like every other refusal.

Object details, download and delete are in `s3_object_pages`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..policy.request import account_of_arn
from ..sts.tokens import TokenError, open_message
from . import s3_object_pages
from .aws import AwsCallError
from .s3_support import (
    BROWSER_UNSAFE_MESSAGE,
    browser_addressable,
    bucket_path,
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

__all__ = ["NOTICES", "decode_denial", "routes"]

NOTICES: Final = {
    "bucket-created": "Bucket created.",
    "bucket-deleted": "Bucket deleted.",
    "folder-created": "Folder created.",
    "object-deleted": "Object deleted.",
}
_DEFAULT_PAGE: Final = 200
_MAX_KEY_BYTES: Final = 1024
_ENCODED: Final = re.compile(r"Encoded authorization failure message:\s*(\S+)")
_CONTENT_TYPE: Final = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")


def _text(source: Any, name: str, limit: int = 4096) -> str:
    value = source.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _max_keys(value: str | None) -> int:
    try:
        number = int(value or _DEFAULT_PAGE)
    except ValueError:
        return _DEFAULT_PAGE
    return min(max(number, 1), 1000)


def decode_denial(console: Console, identity: Identity, message: str) -> dict[str, Any] | None:
    """The engine's explanation sealed in an S3 error message, when its principal belongs to
    the identity's account (else None: a message is only its own account's to read)."""
    found = _ENCODED.search(message)
    if found is None:
        return None
    try:
        details = json.loads(open_message(found.group(1), console.keys))
        arn = details["context"]["principal"]["arn"]
    except (TokenError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(arn, str) or account_of_arn(arn) != identity.account_id:
        return None
    return details if isinstance(details, dict) else None


def routes(console: Console) -> list[Route]:
    # ------------------------------------------------------------------ buckets
    async def bucket_list(
        request: Request,
        identity: Identity,
        *,
        error: AwsCallError | None = None,
        status: int = 200,
        form_name: str = "",
    ) -> Response:
        buckets: list[dict[str, str]] = []
        list_error: AwsCallError | None = None
        try:
            result = await s3_call(console, request, identity, "list_buckets")
        except AwsCallError as failure:
            list_error = failure
            status = status if status != 200 else failure.status
        else:
            for bucket in result.get("Buckets", []):
                name = str(bucket.get("Name", ""))
                buckets.append(
                    {
                        "name": name,
                        "created": format_time(bucket.get("CreationDate")),
                        "url": bucket_path(name),
                    }
                )
        return console.render(
            request,
            "s3_buckets.html",
            identity,
            status=status,
            title="Amazon S3",
            buckets=buckets,
            list_error=error_dict(list_error),
            error=error_dict(error),
            form_name=form_name,
            notice=NOTICES.get(request.query_params.get("done", "")),
        )

    async def buckets_page(request: Request, identity: Identity) -> Response:
        return await bucket_list(request, identity)

    async def open_bucket(request: Request, identity: Identity) -> Response:
        name = request.query_params.get("bucket", "").strip()
        if not valid_bucket_name(name):
            error = invalid_bucket()
            return await bucket_list(request, identity, error=error, status=400, form_name=name)
        return RedirectResponse(bucket_path(name), 303)

    async def create_bucket(request: Request, identity: Identity) -> Response:
        name = _text(await request.form(), "name", 255).strip()
        try:
            await s3_call(console, request, identity, "create_bucket", Bucket=name)
        except AwsCallError as error:
            return await bucket_list(
                request, identity, error=error, status=error.status, form_name=name
            )
        return RedirectResponse("/console/s3?done=bucket-created", 303)

    async def delete_bucket(request: Request, identity: Identity) -> Response:
        bucket = request.path_params["bucket"]
        try:
            await s3_call(console, request, identity, "delete_bucket", Bucket=bucket)
        except AwsCallError as error:
            return await bucket_list(request, identity, error=error, status=error.status)
        return RedirectResponse("/console/s3?done=bucket-deleted", 303)

    # ------------------------------------------------------------------ browser
    async def browse(
        request: Request,
        identity: Identity,
        *,
        error: AwsCallError | None = None,
        status: int = 200,
        folder_name: str = "",
    ) -> Response:
        bucket = request.path_params["bucket"]
        query = request.query_params
        prefix = query.get("prefix", "")
        token = query.get("token", "")
        max_keys = _max_keys(query.get("max-keys"))
        base = folder_of(prefix)  # names are shown relative to the folder being browsed
        folders: list[dict[str, str]] = []
        objects: list[dict[str, Any]] = []
        next_url = ""
        list_error: AwsCallError | None = None
        if not valid_bucket_name(bucket):
            list_error = invalid_bucket()
        else:
            params: dict[str, Any] = {
                "Bucket": bucket,
                "Delimiter": "/",
                "Prefix": prefix,
                "MaxKeys": max_keys,
            }
            if token:
                params["ContinuationToken"] = token
            try:
                result = await s3_call(console, request, identity, "list_objects_v2", **params)
            except AwsCallError as failure:
                list_error = failure
            else:
                for common in result.get("CommonPrefixes", []):
                    folder = str(common.get("Prefix", ""))
                    folders.append(
                        {
                            "name": folder[len(base) :] if folder.startswith(base) else folder,
                            "prefix": folder,
                        }
                    )
                for item in result.get("Contents", []):
                    key = str(item.get("Key", ""))
                    if key == prefix and key.endswith("/"):
                        continue  # the folder's own marker object
                    objects.append(
                        {
                            "key": key,
                            "name": key[len(base) :] if key.startswith(base) else key,
                            "size": human_size(item.get("Size")),
                            "bytes": item.get("Size", 0),
                            "modified": format_time(item.get("LastModified")),
                            "storage_class": str(item.get("StorageClass") or "STANDARD"),
                        }
                    )
                if result.get("IsTruncated") and result.get("NextContinuationToken"):
                    extra = {"token": str(result["NextContinuationToken"])}
                    if max_keys != _DEFAULT_PAGE:
                        extra["max-keys"] = str(max_keys)
                    next_url = listing_url(bucket, prefix, **extra)
        if list_error is not None and status == 200:
            status = list_error.status
        crumbs, tail = prefix_crumbs(prefix)
        first_url = ""
        if token:
            extra = {"max-keys": str(max_keys)} if max_keys != _DEFAULT_PAGE else {}
            first_url = listing_url(bucket, prefix, **extra)
        return console.render(
            request,
            "s3_bucket.html",
            identity,
            status=status,
            title=bucket,
            bucket=bucket,
            bucket_url=bucket_path(bucket),
            self_url=listing_url(bucket, prefix),
            prefix=prefix,
            folder_prefix=folder_of(prefix),
            crumbs=crumbs,
            tail=tail,
            folders=folders,
            objects=objects,
            next_url=next_url,
            first_url=first_url,
            list_error=error_dict(list_error),
            error=error_dict(error),
            folder_name=folder_name,
            notice=NOTICES.get(query.get("done", "")),
        )

    async def bucket_page(request: Request, identity: Identity) -> Response:
        return await browse(request, identity)

    async def create_folder(request: Request, identity: Identity) -> Response:
        bucket = request.path_params["bucket"]
        form = await request.form()
        prefix = folder_of(_text(form, "prefix"))
        name = _text(form, "name").strip()
        problem = ""
        if not name:
            problem = "Enter a folder name."
        elif "/" in name:
            problem = "A folder name cannot contain '/'."
        elif len((prefix + name + "/").encode()) > _MAX_KEY_BYTES:
            problem = "A key can be at most 1024 bytes long."
        if problem:
            error = AwsCallError("InvalidFolderName", problem, 400, None)
            return await browse(request, identity, error=error, status=400, folder_name=name)
        try:
            await s3_call(
                console,
                request,
                identity,
                "put_object",
                Bucket=bucket,
                Key=prefix + name + "/",
                Body=b"",
            )
        except AwsCallError as error:
            return await browse(
                request, identity, error=error, status=error.status, folder_name=name
            )
        return RedirectResponse(listing_url(bucket, prefix, done="folder-created"), 303)

    # ------------------------------------------------------------------ uploads
    async def upload_url(request: Request, identity: Identity) -> Response:
        """`{"url": ...}`: a presigned PutObject URL for `prefix + name`, for the browser."""
        bucket = request.path_params["bucket"]
        form = await request.form()
        key = _text(form, "prefix") + _text(form, "name")
        content_type = _text(form, "type", 255).strip()
        if not valid_bucket_name(bucket):
            return JSONResponse({"error": "The specified bucket is not valid."}, 400)
        if not _text(form, "name") or len(key.encode()) > _MAX_KEY_BYTES:
            return JSONResponse({"error": "A key is 1 to 1024 bytes long."}, 400)
        if not browser_addressable(key):
            return JSONResponse({"error": BROWSER_UNSAFE_MESSAGE}, 400)
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if content_type and _CONTENT_TYPE.match(content_type):
            params["ContentType"] = content_type
        origin = str(request.base_url).rstrip("/")
        url = console.aws.presigned_url(identity.credentials, origin, "put_object", params, 3600)
        headers = {"Content-Type": params["ContentType"]} if "ContentType" in params else {}
        return JSONResponse({"url": url, "key": key, "headers": headers})

    async def explain(request: Request, identity: Identity) -> Response:
        """An S3 error the browser received, rendered like `aws_error` (with the engine's
        explanation when its encoded message is for the identity's account)."""
        form = await request.form()
        code = _text(form, "code", 256) or "Error"
        message = _text(form, "message", 64 * 1024)
        error = {
            "code": code,
            "message": message,
            "explanation": decode_denial(console, identity, message),
        }
        html = console.templates.get_template("s3_error.html").render(error=error)
        return JSONResponse({**error, "html": html})

    return [
        Route("/console/s3", page(console, buckets_page), methods=["GET"]),
        Route("/console/s3/open", page(console, open_bucket), methods=["GET"]),
        Route("/console/s3/create-bucket", page(console, create_bucket), methods=["POST"]),
        Route("/console/s3/explain", page(console, explain), methods=["POST"]),
        Route("/console/s3/buckets/{bucket}", page(console, bucket_page), methods=["GET"]),
        Route(
            "/console/s3/buckets/{bucket}/delete", page(console, delete_bucket), methods=["POST"]
        ),
        Route(
            "/console/s3/buckets/{bucket}/folder", page(console, create_folder), methods=["POST"]
        ),
        Route(
            "/console/s3/buckets/{bucket}/upload-url", page(console, upload_url), methods=["POST"]
        ),
        *s3_object_pages.routes(console),
    ]
