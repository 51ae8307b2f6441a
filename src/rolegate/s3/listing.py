"""ListObjects and ListObjectsV2: one page of keys (common prefixes rolled up), the
continuation token, URL encoding of the keys, and the listing's condition keys."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote_plus

from starlette.requests import Request
from starlette.responses import Response

from ..policy.request import ContextValue
from . import catalog
from .call import Call, owner, quote_etag, respond
from .context import S3Context
from .errors import invalid_argument

__all__ = ["list_objects", "list_objects_v2"]


async def list_objects_v2(context: S3Context, call: Call, request: Request) -> Response:
    return await _list_objects(context, call, version=2)


async def list_objects(context: S3Context, call: Call, request: Request) -> Response:
    return await _list_objects(context, call, version=1)


def _condition_keys(call: Call) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {}
    for name, query_name in (
        ("s3:prefix", "prefix"),
        ("s3:delimiter", "delimiter"),
        ("s3:max-keys", "max-keys"),
    ):
        if query_name in call.query:
            keys[name] = call.query[query_name]
    return keys


async def _list_objects(context: S3Context, call: Call, *, version: int) -> Response:
    operation = "ListObjectsV2" if version == 2 else "ListObjects"
    params = call.parse(operation)
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or ""
    max_keys = params.get("MaxKeys", 1000)
    if max_keys < 0:
        raise invalid_argument(
            "Argument maxKeys must be an integer between 0 and 2147483647",
            "maxKeys",
            str(max_keys),
        )
    max_keys = min(max_keys, 1000)
    encoding = params.get("EncodingType")
    if encoding is not None and encoding != "url":
        raise invalid_argument(
            "Invalid Encoding Method specified in Request", "encoding-type", encoding
        )
    after: str | None = None
    after_is_prefix = False
    token = params.get("ContinuationToken")
    if version == 2:
        if token is not None:
            after, after_is_prefix = _read_token(token)
        elif params.get("StartAfter"):
            after = params["StartAfter"]
    elif params.get("Marker"):
        after = params["Marker"]

    def run() -> catalog.Page:
        with context.database.read() as uow:
            context.authorized_bucket(uow, call, keys=_condition_keys(call))
            return catalog.list_page(
                uow,
                call.bucket,
                prefix=prefix,
                delimiter=delimiter,
                after=after,
                after_is_prefix=after_is_prefix,
                max_keys=max_keys,
            )

    page = await context.thread(run)

    def enc(text: str) -> str:
        return quote_plus(text, safe="/") if encoding == "url" else text

    contents = []
    for item in page.contents:
        entry: dict[str, Any] = {
            "Key": enc(item.key),
            "LastModified": item.last_modified,
            "ETag": quote_etag(item.etag),
            "Size": item.size,
            "StorageClass": "STANDARD",
        }
        if item.checksum_algorithm:
            entry["ChecksumAlgorithm"] = [item.checksum_algorithm]
        if version == 1 or params.get("FetchOwner"):
            owner_account = call.info.caller.account_id
            entry["Owner"] = owner(owner_account) if owner_account else None
        contents.append(entry)
    result: dict[str, Any] = {
        "IsTruncated": page.truncated,
        "Contents": contents or None,
        "Name": call.bucket,
        "Prefix": enc(prefix),
        "MaxKeys": max_keys,
        "CommonPrefixes": [{"Prefix": enc(p)} for p in page.common_prefixes] or None,
    }
    if delimiter:
        result["Delimiter"] = enc(delimiter)
    if encoding:
        result["EncodingType"] = encoding
    if version == 2:
        result["KeyCount"] = len(page.contents) + len(page.common_prefixes)
        if token is not None:
            result["ContinuationToken"] = token
        if params.get("StartAfter"):
            result["StartAfter"] = enc(params["StartAfter"])
        if page.truncated and page.last is not None:
            result["NextContinuationToken"] = _make_token(page.last, page.last_is_prefix)
    else:
        result["Marker"] = enc(params.get("Marker") or "")
        if page.truncated and delimiter and page.last is not None:
            result["NextMarker"] = enc(page.last)
    return respond(operation, result)


def _make_token(last: str, is_prefix: bool) -> str:
    raw = json.dumps([last, is_prefix]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str) -> tuple[str, bool]:
    try:
        loaded = json.loads(base64.urlsafe_b64decode(token.encode()))
        last, is_prefix = loaded
        if isinstance(last, str) and isinstance(is_prefix, bool):
            return last, is_prefix
    except (ValueError, TypeError, binascii.Error):
        pass
    raise invalid_argument(
        "The continuation token provided is incorrect", "continuation-token", token
    )
