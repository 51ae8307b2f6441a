"""The S3 REST endpoint (path-style addressing on the shared endpoint).

One request: route (method, path, sub-resources) -> authenticate (SigV4 header, presigned
query, or anonymous) -> load the bucket and authorize the operation's action on its ARN with
the bucket policy as the resource policy -> run -> REST-XML response. Object bodies stream:
a PUT goes to a temporary file while it is hashed and verified, a GET streams from the blob.
Store work and file I/O run in worker threads, never on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeVar
from urllib.parse import quote_plus, unquote

import anyio
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from ..errors import ServiceError
from ..ids import request_id as new_request_id
from ..policy.request import ContextValue
from ..server.auth import KeyDirectory, anonymous_caller
from ..server.gateway import Gateway
from ..store.database import UnitOfWork
from ..wire import sigv4
from ..wire.aws_chunked import AwsChunkedDecoder, AwsChunkedError, ChunkSigning
from ..wire.checksums import (
    UnsupportedChecksumAlgorithm,
    algorithm_for_header,
    b64_checksum,
    composite_checksum,
    new_checksum,
)
from ..wire.restxml import RestXmlError, parse_rest_request, serialize_rest_response
from ..wire.restxml import serialize_s3_error as render_error
from . import catalog
from .access import AccessInfo, authorize, decide, denied_message, validate_bucket_policy
from .catalog import Bucket, ObjectRecord, Part, Upload
from .errors import (
    S3Error,
    access_denied,
    bucket_not_empty,
    invalid_argument,
    invalid_bucket_name,
    invalid_request,
    malformed_xml,
    no_such_bucket,
    no_such_key,
    no_such_upload,
    precondition_failed,
)
from .names import bucket_arn, is_valid_bucket_name, object_arn
from .routing import Route, decode_query, route_request
from .storage import BlobStore, Ingest, IngestResult, entity_too_large

__all__ = ["MAX_OBJECT_SIZE", "MIN_PART_SIZE", "S3Endpoint", "default_data_dir"]

log = logging.getLogger("rolegate.s3")

MAX_OBJECT_SIZE: Final = 5 * 1024**3  # one PUT or one part
MAX_MULTIPART_SIZE: Final = 5 * 1024**4
MIN_PART_SIZE: Final = 5 * 1024**2
MAX_SMALL_BODY: Final = 8 * 1024 * 1024
MAX_METADATA_SIZE: Final = 2048
FEED_SIZE: Final = 1024 * 1024
READ_SIZE: Final = 1024 * 1024
DEFAULT_REGION: Final = "us-east-1"
STREAMING_PREFIX: Final = "STREAMING-"
SIGNED_STREAMING: Final = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")
_STORED_HEADERS: Final = (
    ("cache-control", "CacheControl"),
    ("content-disposition", "ContentDisposition"),
    ("content-encoding", "ContentEncoding"),
    ("content-language", "ContentLanguage"),
    ("expires", "ExpiresString"),
)
_RESPONSE_OVERRIDES: Final = (
    ("response-cache-control", "Cache-Control"),
    ("response-content-disposition", "Content-Disposition"),
    ("response-content-encoding", "Content-Encoding"),
    ("response-content-language", "Content-Language"),
    ("response-content-type", "Content-Type"),
    ("response-expires", "Expires"),
)

T = TypeVar("T")


def default_data_dir(database_url: str) -> Path:
    """`s3-objects` next to the SQLite file; `./.rolegate/s3-objects` for a server store."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "s3-objects"
    return Path(".rolegate/s3-objects").resolve()


def canonical_user_id(account_id: str) -> str:
    """S3's 64-hex canonical user id of an account (stable, derived from the account id)."""
    return hashlib.sha256(f"rolegate-canonical:{account_id}".encode()).hexdigest()


def _owner(account_id: str) -> dict[str, str]:
    return {"ID": canonical_user_id(account_id), "DisplayName": account_id}


def _quote_etag(etag: str) -> str:
    return f'"{etag}"'


def _etag_matches(condition: str, etag: str) -> bool:
    for item in condition.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/").strip('"') == etag:
            return True
    return False


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise invalid_argument(
            f"Provided {name} not an integer or within integer range", name, value
        )
    return int(value)


@dataclass
class Call:
    """One S3 request after routing and authentication."""

    request_id: str
    route: Route
    method: str
    headers: dict[str, str]  # lowercased names, repeated values joined with ","
    header_list: list[tuple[str, str]]
    query: dict[str, str]
    query_pairs: list[tuple[str, str]]
    body: bytes | None
    info: AccessInfo
    verified: sigv4.VerifiedRequest | None
    signing: ChunkSigning | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        assert self.route.bucket is not None
        return self.route.bucket

    @property
    def key(self) -> str:
        assert self.route.key is not None
        return self.route.key

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(frozen=True)
class _Opened:
    record: ObjectRecord
    file: BinaryIO | None


class S3Endpoint:
    """Serves S3 on the shared endpoint; `data_dir` holds the object bytes."""

    def __init__(
        self,
        gateway: Gateway,
        data_dir: Path | None = None,
        *,
        max_object_size: int = MAX_OBJECT_SIZE,
        min_part_size: int = MIN_PART_SIZE,
    ) -> None:
        self.gateway = gateway
        self.database = gateway.database
        self.store = BlobStore(data_dir or default_data_dir(self.database.url))
        self.store.sweep()
        self.max_object_size = max_object_size
        self.min_part_size = min_part_size
        self._operations: dict[str, Callable[[Call, Request], Any]] = {
            name.removeprefix("_op_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("_op_")
        }

    # ------------------------------------------------------------------ entry point
    async def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        scope = request.scope
        method = request.method
        header_list = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers: dict[str, str] = {}
        for name, value in header_list:
            lowered = name.lower()
            headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        resource = unquote(raw_path)
        route_streams = method in ("PUT", "POST")
        try:
            pairs = decode_query(query)
            route = route_request(method, raw_path, pairs, headers)
            route_streams = route.streams_body
            body = None if route.streams_body else await self._small_body(request)
            http_request = sigv4.HttpRequest(method, raw_path, query, header_list, body)
            source_ip = request.client.host if request.client else "127.0.0.1"
            call = await run_in_threadpool(
                self._authenticate,
                http_request,
                request_id,
                route,
                headers,
                pairs,
                source_ip,
                scope.get("scheme") == "https",
            )
            if body:
                _verify_body_digests(call.headers, body)
            response: Response = await self._operations[route.operation](call, request)
            response.headers["x-amz-request-id"] = request_id
            response.headers["x-amz-id-2"] = _host_id(request_id)
            return response
        except S3Error as error:
            if route_streams and not getattr(request.state, "body_received", False):
                # The body was not read (maybe not even sent, after Expect: 100-continue):
                # the connection cannot carry another request.
                error.headers["Connection"] = "close"
            return self._error_response(error, request_id, resource, method)
        except RestXmlError as error:
            converted = S3Error(error.code, error.message, error.status, extra=error.extra)
            return self._error_response(converted, request_id, resource, method)
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception:
            log.exception("S3 request %s failed", request_id)
            internal = S3Error(
                "InternalError", "We encountered an internal error. Please try again.", 500
            )
            return self._error_response(internal, request_id, resource, method)

    def _error_response(
        self, error: S3Error, request_id: str, resource: str, method: str
    ) -> Response:
        headers = {
            "x-amz-request-id": request_id,
            "x-amz-id-2": _host_id(request_id),
            **error.headers,
        }
        if method == "HEAD":
            return Response(None, error.status, headers)
        body = render_error(
            error.code,
            error.message,
            resource=resource,
            request_id=request_id,
            host_id=_host_id(request_id),
            extra=error.extra,
        )
        headers["Content-Type"] = "application/xml"
        return Response(body, error.status, headers)

    async def _small_body(self, request: Request) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_SMALL_BODY:
                raise S3Error("MaxMessageLengthExceeded", "Your request was too big.", 400)
            chunks.append(chunk)
        return b"".join(chunks)

    # ------------------------------------------------------------------ authentication
    def _authenticate(
        self,
        http_request: sigv4.HttpRequest,
        request_id: str,
        route: Route,
        headers: dict[str, str],
        pairs: list[tuple[str, str]],
        source_ip: str,
        secure: bool,
    ) -> Call:
        content_sha256 = headers.get("x-amz-content-sha256")
        if route.streams_body and content_sha256 is not None:
            value = content_sha256.strip()
            if not (
                _HEX64.fullmatch(value)
                or value == sigv4.UNSIGNED_PAYLOAD
                or value.startswith(STREAMING_PREFIX)
            ):
                raise invalid_argument(
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                    "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.",
                    "x-amz-content-sha256",
                    value,
                )
        if _is_sigv2(headers, pairs):
            raise invalid_request(
                "The authorization mechanism you have provided is not supported. Please use "
                "AWS4-HMAC-SHA256."
            )
        with self.database.read() as uow:
            verified: sigv4.VerifiedRequest | None
            try:
                verified, caller = self.gateway.authenticate(uow, http_request)
            except sigv4.MissingAuthenticationToken:
                verified, caller = None, anonymous_caller()
            except (sigv4.SigV4Error, ServiceError) as error:
                raise _auth_error(error, http_request) from None
            except ValueError:
                # A streamed body without x-amz-content-sha256 cannot be verified.
                raise invalid_request(
                    "Missing required header for this request: x-amz-content-sha256"
                ) from None
            now = uow.now
            signing = None
            if verified is not None and verified.payload_hash.startswith(SIGNED_STREAMING):
                signing = self._chunk_signing(uow, verified)
        signature_age = None
        if verified is not None and verified.is_presigned:
            signing_now = self.gateway.signing_clock.now()
            signature_age = int((signing_now - verified.request_time).total_seconds() * 1000)
        info = AccessInfo(
            caller=caller,
            source_ip=source_ip,
            region=verified.region if verified is not None else DEFAULT_REGION,
            now=now,
            secure=secure,
            auth_type=(
                None
                if verified is None
                else ("REST-QUERY-STRING" if verified.is_presigned else "REST-HEADER")
            ),
            signature_age_ms=signature_age,
            content_sha256=content_sha256,
            user_agent=headers.get("user-agent"),
            referer=headers.get("referer"),
        )
        return Call(
            request_id=request_id,
            route=route,
            method=http_request.method,
            headers=headers,
            header_list=list(http_request.headers),
            query={name: value for name, value in reversed(pairs)},
            query_pairs=pairs,
            body=http_request.body,
            info=info,
            verified=verified,
            signing=signing,
        )

    def _chunk_signing(self, uow: UnitOfWork, verified: sigv4.VerifiedRequest) -> ChunkSigning:
        secret = KeyDirectory(uow, self.gateway.keys, verified.security_token).secret_for(
            verified.access_key_id
        )
        if secret is None:  # pragma: no cover - the key verified a moment ago
            raise S3Error(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                403,
            )
        amz_date = sigv4.format_amz_date(verified.request_time)
        date = amz_date[:8]
        scope = sigv4.CredentialScope(date, verified.region, verified.service)
        return ChunkSigning(
            signing_key=sigv4.derive_signing_key(secret, date, verified.region, verified.service),
            amz_date=amz_date,
            scope=str(scope),
            seed_signature=verified.signature,
        )

    # ------------------------------------------------------------------ helpers
    async def _thread(self, function: Callable[..., T], *args: Any) -> T:
        return await run_in_threadpool(function, *args)

    def _parse(self, call: Call, operation: str) -> dict[str, Any]:
        labels = {"Bucket": call.route.bucket or ""}
        if call.route.key is not None:
            labels["Key"] = call.route.key
        return parse_rest_request(
            operation,
            uri_labels=labels,
            query=call.query_pairs,
            headers=call.header_list,
            body=call.body,
        )

    def _authorized_bucket(
        self,
        uow: UnitOfWork,
        call: Call,
        action: str,
        *,
        key: str | None = None,
        keys: Mapping[str, ContextValue] | None = None,
        bucket_name: str | None = None,
    ) -> Bucket:
        """Load the bucket and authorize `action` on it (or on `key` in it).

        A missing bucket is NoSuchBucket only to a caller whose own policies allow the action;
        anyone else gets AccessDenied (AWS answers NoSuchBucket to everyone).
        """
        name = bucket_name or call.bucket
        resource = object_arn(name, key) if key is not None else bucket_arn(name)
        bucket = catalog.get_bucket(uow, name)
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

    def _response(
        self,
        operation: str,
        result: Mapping[str, Any] | None,
        *,
        status: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Response:
        code, headers, body = serialize_rest_response(operation, result)
        response_headers = dict(headers)
        if body:
            response_headers.setdefault("Content-Type", "application/xml")
        if extra_headers:
            response_headers.update(extra_headers)
        return Response(body or b"", status or code, response_headers)

    def _acl_keys(self, call: Call) -> dict[str, ContextValue]:
        keys: dict[str, ContextValue] = {}
        for header in (
            "x-amz-acl",
            "x-amz-grant-full-control",
            "x-amz-grant-read",
            "x-amz-grant-write",
            "x-amz-server-side-encryption",
            "x-amz-storage-class",
            "x-amz-metadata-directive",
            "x-amz-copy-source",
            "x-amz-object-ownership",
        ):
            value = call.header(header)
            if value is not None:
                keys[f"s3:{header}"] = value
        return keys

    # ------------------------------------------------------------------ buckets
    async def _op_ListBuckets(self, call: Call, request: Request) -> Response:
        def run() -> dict[str, Any]:
            if call.info.anonymous:
                raise access_denied()
            with self.database.read() as uow:
                authorize(
                    call.info,
                    "s3:ListAllMyBuckets",
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
                "Owner": _owner(call.info.caller.account_id),
            }

        return self._response("ListBuckets", await self._thread(run))

    async def _op_CreateBucket(self, call: Call, request: Request) -> Response:
        params = self._parse(call, "CreateBucket")
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
            with self.database.write() as uow:
                authorize(
                    call.info,
                    "s3:CreateBucket",
                    bucket_arn(name),
                    owner_account=caller.account_id,
                    bucket_policy=None,
                    bucket=name,
                    keys=self._acl_keys(call),
                )
                created = catalog.create_bucket(uow, name, caller.account_id, region)
                if not created:
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

        await self._thread(run)
        return self._response("CreateBucket", {"Location": f"/{name}"})

    async def _op_HeadBucket(self, call: Call, request: Request) -> Response:
        def run() -> Bucket:
            with self.database.read() as uow:
                return self._authorized_bucket(uow, call, "s3:ListBucket")

        bucket = await self._thread(run)
        return self._response(
            "HeadBucket", {"BucketRegion": bucket.region, "AccessPointAlias": False}
        )

    async def _op_DeleteBucket(self, call: Call, request: Request) -> Response:
        def run() -> list[str]:
            with self.database.write() as uow:
                self._authorized_bucket(uow, call, "s3:DeleteBucket")
                catalog.get_bucket(uow, call.bucket, for_update=True)
                if not catalog.bucket_is_empty(uow, call.bucket):
                    raise bucket_not_empty(call.bucket)
                return catalog.delete_bucket(uow, call.bucket)

        blobs = await self._thread(run)
        await self._thread(self.store.delete_all, blobs)
        return self._response("DeleteBucket", None)

    async def _op_GetBucketLocation(self, call: Call, request: Request) -> Response:
        def run() -> Bucket:
            with self.database.read() as uow:
                return self._authorized_bucket(uow, call, "s3:GetBucketLocation")

        bucket = await self._thread(run)
        location = None if bucket.region == DEFAULT_REGION else bucket.region
        return self._response("GetBucketLocation", {"LocationConstraint": location})

    def _policy_bucket(self, uow: UnitOfWork, call: Call, action: str) -> Bucket:
        """The bucket owner's root may always manage the policy (no lock-out)."""
        bucket = catalog.get_bucket(uow, call.bucket)
        caller = call.info.caller
        if bucket is not None and caller.is_root and caller.account_id == bucket.account_id:
            return bucket
        return self._authorized_bucket(uow, call, action)

    async def _op_GetBucketPolicy(self, call: Call, request: Request) -> Response:
        def run() -> str:
            with self.database.read() as uow:
                bucket = self._policy_bucket(uow, call, "s3:GetBucketPolicy")
            if bucket.policy is None:
                raise S3Error(
                    "NoSuchBucketPolicy",
                    "The bucket policy does not exist",
                    404,
                    extra={"BucketName": bucket.name},
                )
            return bucket.policy

        policy = await self._thread(run)
        return Response(policy.encode(), 200, {"Content-Type": "application/json"})

    async def _op_PutBucketPolicy(self, call: Call, request: Request) -> Response:
        params = self._parse(call, "PutBucketPolicy")
        document = params.get("Policy") or ""

        def run() -> None:
            with self.database.write() as uow:
                self._policy_bucket(uow, call, "s3:PutBucketPolicy")
                validate_bucket_policy(document, call.bucket)
                catalog.set_bucket_policy(uow, call.bucket, document)

        await self._thread(run)
        return Response(status_code=204)

    async def _op_DeleteBucketPolicy(self, call: Call, request: Request) -> Response:
        def run() -> None:
            with self.database.write() as uow:
                self._policy_bucket(uow, call, "s3:DeleteBucketPolicy")
                catalog.set_bucket_policy(uow, call.bucket, None)

        await self._thread(run)
        return Response(status_code=204)

    # ------------------------------------------------------------------ listing
    def _list_keys(self, call: Call, params: Mapping[str, Any]) -> dict[str, ContextValue]:
        keys: dict[str, ContextValue] = {}
        for name, query_name in (("s3:prefix", "prefix"), ("s3:delimiter", "delimiter")):
            if query_name in call.query:
                keys[name] = call.query[query_name]
        if "max-keys" in call.query:
            keys["s3:max-keys"] = call.query["max-keys"]
        return keys

    async def _op_ListObjectsV2(self, call: Call, request: Request) -> Response:
        return await self._list_objects(call, version=2)

    async def _op_ListObjects(self, call: Call, request: Request) -> Response:
        return await self._list_objects(call, version=1)

    async def _list_objects(self, call: Call, *, version: int) -> Response:
        operation = "ListObjectsV2" if version == 2 else "ListObjects"
        params = self._parse(call, operation)
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
            with self.database.read() as uow:
                self._authorized_bucket(
                    uow, call, "s3:ListBucket", keys=self._list_keys(call, params)
                )
                return catalog.list_page(
                    uow,
                    call.bucket,
                    prefix=prefix,
                    delimiter=delimiter,
                    after=after,
                    after_is_prefix=after_is_prefix,
                    max_keys=max_keys,
                )

        page = await self._thread(run)

        def enc(text: str) -> str:
            return quote_plus(text, safe="/") if encoding == "url" else text

        contents = []
        for item in page.contents:
            entry: dict[str, Any] = {
                "Key": enc(item.key),
                "LastModified": item.last_modified,
                "ETag": _quote_etag(item.etag),
                "Size": item.size,
                "StorageClass": "STANDARD",
            }
            if item.checksum_algorithm:
                entry["ChecksumAlgorithm"] = [item.checksum_algorithm]
            if version == 1 or params.get("FetchOwner"):
                owner_account = call.info.caller.account_id
                entry["Owner"] = _owner(owner_account) if owner_account else None
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
        return self._response(operation, result)

    # ------------------------------------------------------------------ objects: write
    def _object_headers(self, call: Call) -> tuple[str, dict[str, str], dict[str, str]]:
        """Content-Type, the stored standard headers, and the user metadata of a write."""
        content_type = call.header("content-type") or "binary/octet-stream"
        stored: dict[str, str] = {}
        for header, _ in _STORED_HEADERS:
            value = call.header(header)
            if value is None:
                continue
            if header == "content-encoding":
                value = ",".join(
                    part.strip()
                    for part in value.split(",")
                    if part.strip() and part.strip().lower() != "aws-chunked"
                )
                if not value:
                    continue
            stored[header] = value
        metadata = {
            name.removeprefix("x-amz-meta-"): value
            for name, value in call.headers.items()
            if name.startswith("x-amz-meta-") and len(name) > len("x-amz-meta-")
        }
        size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
        if size > MAX_METADATA_SIZE:
            raise S3Error(
                "MetadataTooLarge",
                "Your metadata headers exceed the maximum allowed metadata size.",
                400,
                extra={"Size": size, "MaxSizeAllowed": MAX_METADATA_SIZE},
            )
        return content_type, stored, metadata

    def _build_ingest(self, call: Call, max_size: int) -> Ingest:
        mode = (call.header("x-amz-content-sha256") or "").strip()
        encodings = [e.strip().lower() for e in (call.header("content-encoding") or "").split(",")]
        chunked = mode.startswith(STREAMING_PREFIX) or "aws-chunked" in encodings
        raw_length = call.header("content-length")
        if raw_length is None and not chunked:
            raise S3Error(
                "MissingContentLength", "You must provide the Content-Length HTTP header.", 411
            )
        length = _int(raw_length, "Content-Length", 0) if raw_length is not None else None
        declared = call.header("x-amz-decoded-content-length") if chunked else raw_length
        if declared is not None and declared.strip().isdigit() and int(declared) > max_size:
            raise entity_too_large(int(declared), max_size)
        content_md5 = call.header("content-md5")
        if chunked:
            try:
                decoder = AwsChunkedDecoder.from_headers(call.header_list, signing=call.signing)
            except AwsChunkedError as error:
                raise S3Error(error.code, error.message, error.status) from error
            return Ingest(
                self.store,
                max_size=max_size,
                expected_size=length,
                decoder=decoder,
                content_md5=content_md5,
            )
        checksums: dict[str, str | None] = {}
        for name, value in call.headers.items():
            algorithm = algorithm_for_header(name)
            if algorithm is not None:
                checksums[algorithm] = value
        sdk_algorithm = call.header("x-amz-sdk-checksum-algorithm")
        if sdk_algorithm and not checksums:
            try:
                new_checksum(sdk_algorithm)
            except UnsupportedChecksumAlgorithm:
                raise invalid_request("Checksum algorithm provided is unsupported.") from None
            checksums[sdk_algorithm.strip().upper()] = None
        expected_sha256 = mode if _HEX64.fullmatch(mode) else None
        return Ingest(
            self.store,
            max_size=max_size,
            expected_size=length,
            expected_sha256=expected_sha256,
            checksums=checksums,
            content_md5=content_md5,
        )

    async def _receive(self, request: Request, ingest: Ingest) -> IngestResult:
        """Stream the body into the blob; on any failure (or disconnect) nothing remains."""
        try:
            pending: list[bytes] = []
            size = 0
            async for chunk in request.stream():
                if not chunk:
                    continue
                pending.append(chunk)
                size += len(chunk)
                if size >= FEED_SIZE:
                    data = b"".join(pending)
                    pending, size = [], 0
                    await run_in_threadpool(ingest.feed, data)
            if pending:
                await run_in_threadpool(ingest.feed, b"".join(pending))
            request.state.body_received = True
            return await run_in_threadpool(ingest.finish)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(ingest.abort)
            raise

    async def _op_PutObject(self, call: Call, request: Request) -> Response:
        content_type, stored, metadata = self._object_headers(call)
        ingest = self._build_ingest(call, self.max_object_size)
        try:
            keys = self._acl_keys(call)

            def prepare() -> None:
                with self.database.read() as uow:
                    self._authorized_bucket(uow, call, "s3:PutObject", key=call.key, keys=keys)

            await self._thread(prepare)
        except BaseException:
            await self._thread(ingest.abort)
            raise
        result = await self._receive(request, ingest)
        record = ObjectRecord(
            bucket=call.bucket,
            key=call.key,
            blob=result.blob,
            size=result.size,
            etag=result.md5_hex,
            last_modified=self.database.clock.now(),
            content_type=content_type,
            headers=stored,
            metadata=metadata,
            checksum_algorithm=result.checksum_algorithm,
            checksum_value=result.checksum_value,
            checksum_type="FULL_OBJECT" if result.checksum_algorithm else None,
        )
        await self._commit_object(call, record)
        response: dict[str, Any] = {"ETag": _quote_etag(record.etag)}
        if result.checksum_algorithm and result.checksum_value:
            response[f"Checksum{result.checksum_algorithm}"] = result.checksum_value
            response["ChecksumType"] = "FULL_OBJECT"
        return self._response("PutObject", response)

    async def _commit_object(
        self,
        call: Call,
        record: ObjectRecord,
        *,
        upload_id: str | None = None,
    ) -> list[str]:
        """Point the key at the new blob (the blob is removed again if this fails); then
        delete the blob it replaced. With `upload_id`, the upload ends in the same commit and
        its part blobs are returned for removal."""
        if_none_match = call.header("if-none-match") if call.method in ("PUT", "POST") else None
        if_match = call.header("if-match") if call.method in ("PUT", "POST") else None

        def run() -> tuple[str | None, list[str]]:
            with self.database.write() as uow:
                record_now = replace(record, last_modified=uow.now)
                if catalog.get_bucket(uow, record.bucket, for_update=True) is None:
                    raise no_such_bucket(record.bucket)
                parts: list[str] = []
                if upload_id is not None:
                    if not catalog.lock_upload(uow, upload_id):
                        raise no_such_upload(upload_id)
                    parts = catalog.delete_upload(uow, upload_id)
                if if_none_match is not None or if_match is not None:
                    existing = catalog.get_object(uow, record.bucket, record.key)
                    if (
                        if_none_match is not None
                        and existing is not None
                        and _etag_matches(if_none_match, existing.etag)
                    ):
                        raise precondition_failed("If-None-Match")
                    if if_match is not None and (
                        existing is None or not _etag_matches(if_match, existing.etag)
                    ):
                        if existing is None:
                            raise no_such_key(record.key)
                        raise precondition_failed("If-Match")
                old = catalog.put_object(uow, record_now)
                return old, parts

        try:
            old, parts = await self._thread(run)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._thread(self.store.delete, record.blob)
            raise
        garbage = [*parts]
        if old is not None and old != record.blob:
            garbage.append(old)
        if garbage:
            await self._thread(self.store.delete_all, garbage)
        return parts

    async def _op_CopyObject(self, call: Call, request: Request) -> Response:
        source_bucket, source_key = _copy_source(call.header("x-amz-copy-source") or "")
        directive = (call.header("x-amz-metadata-directive") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise invalid_argument(
                "Unknown metadata directive.", "x-amz-metadata-directive", directive
            )
        if directive == "REPLACE":
            content_type, stored, metadata = self._object_headers(call)
        keys = self._acl_keys(call)

        def prepare() -> ObjectRecord:
            with self.database.read() as uow:
                self._authorized_bucket(uow, call, "s3:PutObject", key=call.key, keys=keys)
                self._authorized_bucket(
                    uow, call, "s3:GetObject", key=source_key, bucket_name=source_bucket
                )
                source = catalog.get_object(uow, source_bucket, source_key)
            if source is None:
                raise no_such_key(source_key)
            _check_copy_conditions(call, source)
            if source_bucket == call.bucket and source_key == call.key and directive == "COPY":
                raise invalid_request(
                    "This copy request is illegal because it is trying to copy an object to "
                    "itself without changing the object's metadata, storage class, website "
                    "redirect location or encryption attributes."
                )
            if source.size > MAX_OBJECT_SIZE:
                raise invalid_request(
                    "The specified copy source is larger than the maximum allowable size for a "
                    f"copy source: {MAX_OBJECT_SIZE}"
                )
            try:
                blob = self.store.duplicate(source.blob)
            except FileNotFoundError:  # overwritten meanwhile: copy what is there now
                with self.database.read() as uow:
                    fresh = catalog.get_object(uow, source_bucket, source_key)
                if fresh is None:
                    raise no_such_key(source_key) from None
                source = fresh
                blob = self.store.duplicate(source.blob)
            return replace(source, bucket=call.bucket, key=call.key, blob=blob)

        copied = await self._thread(prepare)
        if directive == "REPLACE":
            copied = replace(copied, content_type=content_type, headers=stored, metadata=metadata)
        copied = replace(copied, last_modified=self.database.clock.now())
        await self._commit_object(call, copied)
        result: dict[str, Any] = {
            "ETag": _quote_etag(copied.etag),
            "LastModified": copied.last_modified,
        }
        if (
            copied.checksum_algorithm
            and copied.checksum_value
            and copied.checksum_type == "FULL_OBJECT"
        ):
            result[f"Checksum{copied.checksum_algorithm}"] = copied.checksum_value
        return self._response("CopyObject", {"CopyObjectResult": result})

    async def _op_DeleteObject(self, call: Call, request: Request) -> Response:
        def run() -> str | None:
            with self.database.write() as uow:
                self._authorized_bucket(uow, call, "s3:DeleteObject", key=call.key)
                catalog.get_bucket(uow, call.bucket, for_update=True)
                return catalog.delete_object(uow, call.bucket, call.key)

        old = await self._thread(run)
        if old is not None:
            await self._thread(self.store.delete, old)
        return self._response("DeleteObject", None)

    async def _op_DeleteObjects(self, call: Call, request: Request) -> Response:
        if not call.body:
            raise malformed_xml()
        if call.header("content-md5") is None and not any(
            algorithm_for_header(name) for name in call.headers
        ):
            raise invalid_request("Missing required header for this request: Content-Md5")
        params = self._parse(call, "DeleteObjects")
        spec = params.get("Delete") or {}
        objects = spec.get("Objects") or []
        if not objects or len(objects) > 1000:
            raise malformed_xml()
        quiet = bool(spec.get("Quiet"))

        def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
            deleted: list[dict[str, Any]] = []
            errors: list[dict[str, Any]] = []
            blobs: list[str] = []
            with self.database.write() as uow:
                bucket = catalog.get_bucket(uow, call.bucket, for_update=True)
                if bucket is None:
                    self._authorized_bucket(uow, call, "s3:DeleteObject", key="*")
                    raise no_such_bucket(call.bucket)
                for item in objects:
                    key = item.get("Key", "")
                    resource = object_arn(call.bucket, key)
                    decision = decide(
                        call.info,
                        "s3:DeleteObject",
                        resource,
                        owner_account=bucket.account_id,
                        bucket_policy=bucket.policy,
                        bucket=bucket.name,
                    )
                    if not decision.allowed:
                        errors.append(
                            {
                                "Key": key,
                                "Code": "AccessDenied",
                                "Message": denied_message(
                                    call.info,
                                    "s3:DeleteObject",
                                    resource,
                                    decision,
                                    bucket.account_id,
                                ),
                            }
                        )
                        continue
                    old = catalog.delete_object(uow, call.bucket, key)
                    if old is not None:
                        blobs.append(old)
                    if not quiet:
                        deleted.append({"Key": key})
            return deleted, errors, blobs

        deleted, errors, blobs = await self._thread(run)
        await self._thread(self.store.delete_all, blobs)
        return self._response(
            "DeleteObjects", {"Deleted": deleted or None, "Errors": errors or None}
        )

    # ------------------------------------------------------------------ objects: read
    def _open(self, call: Call, open_file: bool) -> _Opened:
        """Authorize s3:GetObject, read the row and open its blob (retrying if an overwrite
        removed the blob between the row and the open)."""
        for _attempt in range(5):
            with self.database.read() as uow:
                bucket = self._authorized_bucket(uow, call, "s3:GetObject", key=call.key)
                record = catalog.get_object(uow, call.bucket, call.key)
                if record is None:
                    resource = bucket_arn(call.bucket)
                    decision = decide(
                        call.info,
                        "s3:ListBucket",
                        resource,
                        owner_account=bucket.account_id,
                        bucket_policy=bucket.policy,
                        bucket=bucket.name,
                    )
                    if not decision.allowed:
                        raise access_denied(
                            denied_message(
                                call.info, "s3:ListBucket", resource, decision, bucket.account_id
                            )
                        )
                    raise no_such_key(call.key)
            if not open_file:
                return _Opened(record, None)
            try:
                return _Opened(record, self.store.open(record.blob))
            except FileNotFoundError:
                continue
        raise S3Error("InternalError", "We encountered an internal error. Please try again.", 500)

    async def _op_HeadObject(self, call: Call, request: Request) -> Response:
        return await self._get(call, head=True)

    async def _op_GetObject(self, call: Call, request: Request) -> Response:
        return await self._get(call, head=False)

    async def _get(self, call: Call, *, head: bool) -> Response:
        if "partNumber" in call.query:
            raise S3Error("NotImplemented", "partNumber is not implemented", 501)
        opened = await self._thread(self._open, call, not head)
        record = opened.record
        try:
            status = _check_read_conditions(call, record)
            byte_range = None
            if status is None:
                byte_range = _parse_range(call.header("range"), record.size)
            result: dict[str, Any] = {
                "AcceptRanges": "bytes",
                "LastModified": record.last_modified,
                "ETag": _quote_etag(record.etag),
                "ContentType": record.content_type,
                "Metadata": dict(record.metadata) or None,
            }
            for header, member in _STORED_HEADERS:
                if header in record.headers:
                    result[member] = record.headers[header]
            if status == 304:
                if opened.file is not None:
                    opened.file.close()
                headers = {
                    "ETag": _quote_etag(record.etag),
                    "Last-Modified": _format_http_date(record.last_modified),
                }
                return Response(None, 304, headers)
            start, length = 0, record.size
            if byte_range is not None:
                start, end = byte_range
                length = end - start + 1
                result["ContentRange"] = f"bytes {start}-{end}/{record.size}"
            elif (
                (call.header("x-amz-checksum-mode") or "").upper() == "ENABLED"
                and record.checksum_algorithm
                and record.checksum_value
            ):
                result[f"Checksum{record.checksum_algorithm}"] = record.checksum_value
                result["ChecksumType"] = record.checksum_type or "FULL_OBJECT"
            result["ContentLength"] = length
            operation = "HeadObject" if head else "GetObject"
            code, header_items, _ = serialize_rest_response(operation, result)
            headers = dict(header_items)
            for query_name, header in _RESPONSE_OVERRIDES:
                if query_name in call.query:
                    if call.info.anonymous:
                        raise invalid_request(
                            "Request specific response headers cannot be used for anonymous "
                            "GET requests."
                        )
                    headers = {k: v for k, v in headers.items() if k.lower() != header.lower()}
                    headers[header] = call.query[query_name]
            headers["Content-Length"] = str(length)
            code = 206 if byte_range is not None else code
            if head or opened.file is None:
                return Response(None, code, headers)
            file = opened.file
            opened = _Opened(record, None)  # the stream owns the file now
            return StreamingResponse(_stream(file, start, length), code, headers)
        finally:
            if opened.file is not None:
                opened.file.close()

    # ------------------------------------------------------------------ multipart
    async def _op_CreateMultipartUpload(self, call: Call, request: Request) -> Response:
        content_type, stored, metadata = self._object_headers(call)
        algorithm = call.header("x-amz-checksum-algorithm")
        if algorithm:
            try:
                algorithm = new_checksum(algorithm).algorithm
            except UnsupportedChecksumAlgorithm:
                raise invalid_request("Checksum algorithm provided is unsupported.") from None
        keys = self._acl_keys(call)
        upload = Upload(
            upload_id=secrets.token_urlsafe(48),
            bucket=call.bucket,
            key=call.key,
            initiator_arn=call.info.caller.arn,
            initiator_id=call.info.caller.account_id,
            content_type=content_type,
            headers=stored,
            metadata=metadata,
            checksum_algorithm=algorithm or None,
            initiated=self.database.clock.now(),
        )

        def run() -> None:
            with self.database.write() as uow:
                self._authorized_bucket(uow, call, "s3:PutObject", key=call.key, keys=keys)
                catalog.create_upload(uow, replace(upload, initiated=uow.now))

        await self._thread(run)
        result: dict[str, Any] = {
            "Bucket": call.bucket,
            "Key": call.key,
            "UploadId": upload.upload_id,
        }
        if upload.checksum_algorithm:
            result["ChecksumAlgorithm"] = upload.checksum_algorithm
            result["ChecksumType"] = "COMPOSITE"
        return self._response("CreateMultipartUpload", result)

    def _upload_for(self, uow: UnitOfWork, call: Call, action: str) -> tuple[Bucket, Upload]:
        bucket = self._authorized_bucket(uow, call, action, key=call.key)
        upload_id = call.query.get("uploadId", "")
        upload = catalog.get_upload(uow, upload_id, call.bucket, call.key)
        if upload is None:
            raise no_such_upload(upload_id)
        return bucket, upload

    async def _op_UploadPart(self, call: Call, request: Request) -> Response:
        raw_number = call.query.get("partNumber", "")
        if not raw_number.isdigit() or not 1 <= int(raw_number) <= 10000:
            raise invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                raw_number,
            )
        number = int(raw_number)
        ingest = self._build_ingest(call, self.max_object_size)
        try:

            def prepare() -> Upload:
                with self.database.read() as uow:
                    return self._upload_for(uow, call, "s3:PutObject")[1]

            upload = await self._thread(prepare)
        except BaseException:
            await self._thread(ingest.abort)
            raise
        result = await self._receive(request, ingest)
        checksum_value = (
            result.checksum_value
            if upload.checksum_algorithm and result.checksum_algorithm == upload.checksum_algorithm
            else None
        )
        part = Part(
            number,
            result.blob,
            result.size,
            result.md5_hex,
            checksum_value,
            self.database.clock.now(),
        )

        def commit() -> str | None:
            with self.database.write() as uow:
                if not catalog.lock_upload(uow, upload.upload_id):
                    raise no_such_upload(upload.upload_id)
                return catalog.put_part(uow, upload.upload_id, replace(part, last_modified=uow.now))

        try:
            old = await self._thread(commit)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._thread(self.store.delete, result.blob)
            raise
        if old is not None:
            await self._thread(self.store.delete, old)
        response: dict[str, Any] = {"ETag": _quote_etag(result.md5_hex)}
        if result.checksum_algorithm and result.checksum_value:
            response[f"Checksum{result.checksum_algorithm}"] = result.checksum_value
        return self._response("UploadPart", response)

    async def _op_CompleteMultipartUpload(self, call: Call, request: Request) -> Response:
        params = self._parse(call, "CompleteMultipartUpload")
        requested = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise malformed_xml()

        def prepare() -> tuple[Upload, list[Part]]:
            with self.database.read() as uow:
                _, upload = self._upload_for(uow, call, "s3:PutObject")
                stored = {p.part_number: p for p in catalog.list_parts(uow, upload.upload_id)}
            chosen: list[Part] = []
            previous = 0
            for item in requested:
                number = int(item.get("PartNumber", 0))
                if number <= previous:
                    raise S3Error(
                        "InvalidPartOrder",
                        "The list of parts was not in ascending order. Parts must be ordered by "
                        "part number.",
                        400,
                        extra={"UploadId": upload.upload_id},
                    )
                previous = number
                part = stored.get(number)
                etag = str(item.get("ETag", "")).strip().strip('"')
                if part is None or part.etag != etag:
                    raise S3Error(
                        "InvalidPart",
                        "One or more of the specified parts could not be found.  The part may not "
                        "have been uploaded, or the specified entity tag may not match the part's "
                        "entity tag.",
                        400,
                        extra={"UploadId": upload.upload_id, "PartNumber": number, "ETag": etag},
                    )
                if upload.checksum_algorithm and part.checksum_value:
                    sent = item.get(f"Checksum{upload.checksum_algorithm}")
                    if sent is not None and sent != part.checksum_value:
                        raise S3Error(
                            "InvalidPart",
                            "One or more of the specified parts could not be found.  The part may "
                            "not have been uploaded, or the specified entity tag may not match the "
                            "part's entity tag.",
                            400,
                            extra={
                                "UploadId": upload.upload_id,
                                "PartNumber": number,
                                "ETag": etag,
                            },
                        )
                chosen.append(part)
            for part in chosen[:-1]:
                if part.size < self.min_part_size:
                    raise S3Error(
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed size",
                        400,
                        extra={
                            "ProposedSize": part.size,
                            "MinSizeAllowed": self.min_part_size,
                            "PartNumber": part.part_number,
                            "ETag": part.etag,
                        },
                    )
            total = sum(p.size for p in chosen)
            if total > MAX_MULTIPART_SIZE:
                raise entity_too_large(total, MAX_MULTIPART_SIZE)
            return upload, chosen

        upload, chosen = await self._thread(prepare)
        try:
            blob = await self._thread(self.store.concat, [p.blob for p in chosen])
        except FileNotFoundError:
            raise no_such_upload(upload.upload_id) from None
        md5s = b"".join(bytes.fromhex(p.etag) for p in chosen)
        etag = f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(chosen)}"
        checksum_value = None
        if upload.checksum_algorithm and all(p.checksum_value for p in chosen):
            checksum_value = composite_checksum(
                upload.checksum_algorithm, [p.checksum_value or "" for p in chosen]
            )
        record = ObjectRecord(
            bucket=call.bucket,
            key=call.key,
            blob=blob,
            size=sum(p.size for p in chosen),
            etag=etag,
            last_modified=self.database.clock.now(),
            content_type=upload.content_type,
            headers=upload.headers,
            metadata=upload.metadata,
            checksum_algorithm=upload.checksum_algorithm if checksum_value else None,
            checksum_value=checksum_value,
            checksum_type="COMPOSITE" if checksum_value else None,
            parts_count=len(chosen),
        )
        await self._commit_object(call, record, upload_id=upload.upload_id)
        result: dict[str, Any] = {
            "Location": f"/{call.bucket}/{call.key}",
            "Bucket": call.bucket,
            "Key": call.key,
            "ETag": _quote_etag(etag),
        }
        if checksum_value and upload.checksum_algorithm:
            result[f"Checksum{upload.checksum_algorithm}"] = checksum_value
            result["ChecksumType"] = "COMPOSITE"
        return self._response("CompleteMultipartUpload", result)

    async def _op_AbortMultipartUpload(self, call: Call, request: Request) -> Response:
        def run() -> list[str]:
            with self.database.write() as uow:
                _, upload = self._upload_for(uow, call, "s3:AbortMultipartUpload")
                catalog.lock_upload(uow, upload.upload_id)
                return catalog.delete_upload(uow, upload.upload_id)

        blobs = await self._thread(run)
        await self._thread(self.store.delete_all, blobs)
        return self._response("AbortMultipartUpload", None)

    async def _op_ListParts(self, call: Call, request: Request) -> Response:
        max_parts = min(_int(call.query.get("max-parts"), "max-parts", 1000), 1000)
        marker = _int(call.query.get("part-number-marker"), "part-number-marker", 0)

        def run() -> tuple[Bucket, Upload, list[Part]]:
            with self.database.read() as uow:
                bucket, upload = self._upload_for(uow, call, "s3:ListMultipartUploadParts")
                parts = catalog.list_parts(uow, upload.upload_id, after=marker, limit=max_parts + 1)
            return bucket, upload, parts

        bucket, upload, parts = await self._thread(run)
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        listed = []
        for part in parts:
            entry: dict[str, Any] = {
                "PartNumber": part.part_number,
                "LastModified": part.last_modified,
                "ETag": _quote_etag(part.etag),
                "Size": part.size,
            }
            if part.checksum_value and upload.checksum_algorithm:
                entry[f"Checksum{upload.checksum_algorithm}"] = part.checksum_value
            listed.append(entry)
        result: dict[str, Any] = {
            "Bucket": call.bucket,
            "Key": call.key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "MaxParts": max_parts,
            "IsTruncated": truncated,
            "Parts": listed or None,
            "Initiator": {"ID": upload.initiator_arn, "DisplayName": upload.initiator_id},
            "Owner": _owner(bucket.account_id),
            "StorageClass": "STANDARD",
        }
        if parts:
            result["NextPartNumberMarker"] = parts[-1].part_number
        if upload.checksum_algorithm:
            result["ChecksumAlgorithm"] = upload.checksum_algorithm
        return self._response("ListParts", result)

    async def _op_ListMultipartUploads(self, call: Call, request: Request) -> Response:
        prefix = call.query.get("prefix", "")
        key_marker = call.query.get("key-marker") or None
        max_uploads = min(_int(call.query.get("max-uploads"), "max-uploads", 1000), 1000)
        keys: dict[str, ContextValue] = {}
        if "prefix" in call.query:
            keys["s3:prefix"] = prefix

        def run() -> tuple[Bucket, list[Upload]]:
            with self.database.read() as uow:
                bucket = self._authorized_bucket(
                    uow, call, "s3:ListBucketMultipartUploads", keys=keys
                )
                uploads = catalog.list_uploads(
                    uow, call.bucket, prefix=prefix, key_marker=key_marker, limit=max_uploads + 1
                )
            return bucket, uploads

        bucket, uploads = await self._thread(run)
        truncated = len(uploads) > max_uploads
        uploads = uploads[:max_uploads]
        result: dict[str, Any] = {
            "Bucket": call.bucket,
            "KeyMarker": key_marker or "",
            "UploadIdMarker": call.query.get("upload-id-marker", ""),
            "Prefix": prefix,
            "MaxUploads": max_uploads,
            "IsTruncated": truncated,
            "Uploads": [
                {
                    "UploadId": u.upload_id,
                    "Key": u.key,
                    "Initiated": u.initiated,
                    "StorageClass": "STANDARD",
                    "Owner": _owner(bucket.account_id),
                    "Initiator": {"ID": u.initiator_arn, "DisplayName": u.initiator_id},
                    **({"ChecksumAlgorithm": u.checksum_algorithm} if u.checksum_algorithm else {}),
                }
                for u in uploads
            ]
            or None,
        }
        if truncated and uploads:
            result["NextKeyMarker"] = uploads[-1].key
            result["NextUploadIdMarker"] = uploads[-1].upload_id
        return self._response("ListMultipartUploads", result)


# ---------------------------------------------------------------------------- helpers


def _host_id(request_id: str) -> str:
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode()


def _format_http_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


async def _stream(file: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    try:
        await run_in_threadpool(file.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await run_in_threadpool(file.read, min(READ_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        file.close()


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range; None to send the whole object."""
    if not value:
        return None
    found = _RANGE.fullmatch(value.strip())
    if found is None or (not found.group(1) and not found.group(2)):
        return None
    first_text, last_text = found.groups()
    if first_text:
        first = int(first_text)
        if first >= size:
            raise _invalid_range(value, size)
        last = int(last_text) if last_text else size - 1
        if last < first:
            return None
        return first, min(last, size - 1)
    suffix = int(last_text)
    if suffix == 0 or size == 0:
        raise _invalid_range(value, size)
    return max(0, size - suffix), size - 1


def _invalid_range(value: str, size: int) -> S3Error:
    return S3Error(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        extra={"RangeRequested": value, "ActualObjectSize": size},
        headers={"Content-Range": f"bytes */{size}"},
    )


def _check_read_conditions(call: Call, record: ObjectRecord) -> int | None:
    """None to proceed, 304 for Not Modified; raise 412 PreconditionFailed."""
    modified = _seconds(record.last_modified)
    if_match = call.header("if-match")
    if_none_match = call.header("if-none-match")
    if if_match is not None and not _etag_matches(if_match, record.etag):
        raise precondition_failed("If-Match")
    since = _http_date(call.header("if-unmodified-since"))
    if if_match is None and since is not None and modified > since:
        raise precondition_failed("If-Unmodified-Since")
    if if_none_match is not None and _etag_matches(if_none_match, record.etag):
        return 304
    modified_since = _http_date(call.header("if-modified-since"))
    if if_none_match is None and modified_since is not None and modified <= modified_since:
        return 304
    return None


def _check_copy_conditions(call: Call, source: ObjectRecord) -> None:
    modified = _seconds(source.last_modified)
    if_match = call.header("x-amz-copy-source-if-match")
    if if_match is not None and not _etag_matches(if_match, source.etag):
        raise precondition_failed("x-amz-copy-source-If-Match")
    if_none_match = call.header("x-amz-copy-source-if-none-match")
    if if_none_match is not None and _etag_matches(if_none_match, source.etag):
        raise precondition_failed("x-amz-copy-source-If-None-Match")
    since = _http_date(call.header("x-amz-copy-source-if-unmodified-since"))
    if since is not None and modified > since:
        raise precondition_failed("x-amz-copy-source-If-Unmodified-Since")
    modified_since = _http_date(call.header("x-amz-copy-source-if-modified-since"))
    if modified_since is not None and modified <= modified_since:
        raise precondition_failed("x-amz-copy-source-If-Modified-Since")


def _copy_source(value: str) -> tuple[str, str]:
    source = unquote(value.strip())
    source, _, version = source.partition("?versionId=")
    source = source.removeprefix("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    if version and version != "null":
        raise S3Error("NoSuchVersion", "The specified version does not exist.", 404)
    return bucket, key


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


def _verify_body_digests(headers: Mapping[str, str], body: bytes) -> None:
    """Content-MD5 and x-amz-checksum-* of a small (buffered) body."""
    content_md5 = headers.get("content-md5")
    if content_md5 is not None:
        try:
            expected = base64.b64decode(content_md5.strip(), validate=True)
        except (ValueError, binascii.Error):
            raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.") from None
        if not hmac.compare_digest(expected, hashlib.md5(body, usedforsecurity=False).digest()):
            raise S3Error(
                "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
    for name, value in headers.items():
        algorithm = algorithm_for_header(name)
        if algorithm is None:
            continue
        if not hmac.compare_digest(
            b64_checksum(algorithm, body).encode(), value.strip().encode("ascii", "replace")
        ):
            raise S3Error(
                "BadDigest", f"The {algorithm} you specified did not match the calculated checksum."
            )


def _auth_error(error: Exception, request: sigv4.HttpRequest) -> S3Error:
    """S3's codes for authentication failures."""
    if isinstance(error, sigv4.RequestTimeTooSkewed):
        return S3Error(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            403,
            extra={
                "RequestTime": sigv4.format_amz_date(error.request_time),
                "ServerTime": error.server_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "MaxAllowedSkewMilliseconds": int(error.max_skew.total_seconds() * 1000),
            },
        )
    if isinstance(error, sigv4.PresignedUrlExpired):
        return S3Error(
            "AccessDenied",
            "Request has expired",
            403,
            extra={
                "Expires": error.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ServerTime": error.server_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
    if isinstance(error, sigv4.ConflictingAuthentication):
        return S3Error("InvalidArgument", error.message, 400)
    if isinstance(error, sigv4.MalformedPresignedQuery):
        return S3Error("AuthorizationQueryParametersError", error.message, 400)
    if isinstance(error, sigv4.IncompleteSignature):
        return S3Error("AuthorizationHeaderMalformed", error.message, 400)
    if isinstance(error, sigv4.ContentSHA256Mismatch):
        return S3Error("XAmzContentSHA256Mismatch", error.message, 400)
    key_id = _access_key_id(request)
    if isinstance(error, sigv4.SignatureDoesNotMatch):
        return S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            403,
            extra={"AWSAccessKeyId": key_id} if key_id else None,
        )
    code = getattr(error, "code", "")
    if code == "ExpiredToken":
        return S3Error("ExpiredToken", "The provided token has expired.", 400)
    if key_id.startswith("ASIA"):
        return S3Error("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
    return S3Error(
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        403,
        extra={"AWSAccessKeyId": key_id} if key_id else None,
    )


def _is_sigv2(headers: Mapping[str, str], pairs: list[tuple[str, str]]) -> bool:
    """Signature Version 2 (header `AWS key:sig`, or `AWSAccessKeyId`+`Signature` query)."""
    if headers.get("authorization", "").startswith("AWS "):
        return True
    names = {name for name, _ in pairs}
    return "AWSAccessKeyId" in names and "Signature" in names


def _access_key_id(request: sigv4.HttpRequest) -> str:
    for value in request.header_values("authorization"):
        found = re.search(r"Credential=([^/,\s]+)/", value)
        if found:
            return found.group(1)
    for name, value in decode_query(request.query):
        if name == "X-Amz-Credential":
            return value.split("/", 1)[0]
    return ""
