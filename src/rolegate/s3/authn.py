"""Authentication of an S3 request: SigV4 or SigV2, header or presigned query, or anonymous.

The signature is verified and the caller built by the gateway; this module adds S3's rules
around it (the accepted `x-amz-content-sha256` values, S3's error codes) and what the
request's condition keys are made of (`AccessInfo`).

Signature Version 2 (`wire/sigv2.py`) is accepted as S3 still does in its older regions; the
caller is then built and authorized exactly as for SigV4. Such a call has no SigV4 proof
(`Call.verified` is None): `info.auth_type` says how it was signed and `s3:signatureversion`
is `AWS`. The Query protocol's own SigV2 (`SignatureVersion=2`) stays refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ..api.registry import Caller
from ..errors import ServiceError
from ..ids import TEMPORARY_KEY_PREFIX
from ..policy.request import ContextValue
from ..server.auth import KeyDirectory, anonymous_caller
from ..server.gateway import Gateway
from ..store.database import UnitOfWork
from ..wire import sigv2, sigv4
from ..wire.aws_chunked import ChunkSigning
from .access import AccessInfo
from .call import DEFAULT_REGION, Call
from .errors import S3Error, invalid_argument, invalid_request
from .routing import Route, decode_query

__all__ = ["HEX64", "SIGNED_STREAMING", "STREAMING_PREFIX", "Arrival", "authenticate"]

STREAMING_PREFIX: Final = "STREAMING-"
SIGNED_STREAMING: Final = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_CREDENTIAL: Final = re.compile(r"Credential=([^/,\s]+)/")
_SIGNATURE_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_SIGV2_CONTEXT: Final[Mapping[str, ContextValue]] = {"s3:signatureversion": "AWS"}


@dataclass(frozen=True)
class Arrival:
    """A routed request before authentication (what the transport knows)."""

    request_id: str
    route: Route
    action: str
    http_request: sigv4.HttpRequest
    headers: dict[str, str]
    pairs: list[tuple[str, str]]
    source_ip: str
    secure: bool
    object_data: bytes | None = None  # a small object body, read before authenticating


def authenticate(gateway: Gateway, uow: UnitOfWork, arrival: Arrival) -> Call:
    """The authenticated `Call` (anonymous without credentials); S3Error otherwise."""
    headers = arrival.headers
    http_request = arrival.http_request
    content_sha256 = headers.get("x-amz-content-sha256")
    if arrival.route.streams_body and content_sha256 is not None:
        value = content_sha256.strip()
        if not (
            HEX64.fullmatch(value)
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
    if sigv2.is_sigv2(http_request):
        if any(name == "SignatureVersion" for name, _ in arrival.pairs):
            # The Query protocol's Signature Version 2 (IAM, STS, ...): never S3's.
            raise invalid_request(
                "The authorization mechanism you have provided is not supported. Please use "
                "AWS4-HMAC-SHA256."
            )
        return _authenticate_sigv2(gateway, uow, arrival, content_sha256)
    verified: sigv4.VerifiedRequest | None
    try:
        verified, caller = gateway.authenticate(uow, http_request)
    except sigv4.MissingAuthenticationToken:
        verified, caller = None, anonymous_caller()
    except (sigv4.SigV4Error, ServiceError) as error:
        raise _auth_error(error, http_request) from None
    except ValueError:
        # A streamed body without x-amz-content-sha256 cannot be verified.
        raise invalid_request(
            "Missing required header for this request: x-amz-content-sha256"
        ) from None
    signing = None
    if verified is not None and verified.payload_hash.startswith(SIGNED_STREAMING):
        signing = _chunk_signing(gateway, uow, verified)
    signature_age = None
    if verified is not None and verified.is_presigned:
        signing_now = gateway.signing_clock.now()
        signature_age = int((signing_now - verified.request_time).total_seconds() * 1000)
    return _call(
        gateway,
        uow,
        arrival,
        caller,
        verified=verified,
        region=verified.region if verified is not None else DEFAULT_REGION,
        auth_type=(
            None
            if verified is None
            else ("REST-QUERY-STRING" if verified.is_presigned else "REST-HEADER")
        ),
        signature_age_ms=signature_age,
        signing=signing,
    )


def _authenticate_sigv2(
    gateway: Gateway, uow: UnitOfWork, arrival: Arrival, content_sha256: str | None
) -> Call:
    """A Signature Version 2 request: HMAC-SHA1 over S3's canonical string, no region."""
    if content_sha256 is not None and content_sha256.strip().startswith(SIGNED_STREAMING):
        raise invalid_request(
            "The x-amz-content-sha256 value STREAMING-AWS4-HMAC-SHA256-PAYLOAD requires an "
            "AWS4-HMAC-SHA256 signature."
        )
    try:
        verified, caller = gateway.authenticate_sigv2(uow, arrival.http_request, DEFAULT_REGION)
    except (sigv4.SigV4Error, ServiceError) as error:
        raise _sigv2_error(error, arrival.http_request) from None
    return _call(
        gateway,
        uow,
        arrival,
        caller,
        verified=None,
        region=DEFAULT_REGION,
        auth_type="REST-QUERY-STRING" if verified.is_presigned else "REST-HEADER",
        signature_age_ms=None,  # s3:signatureAge is SigV4's
        signing=None,
        extra=_SIGV2_CONTEXT,
    )


def _call(
    gateway: Gateway,
    uow: UnitOfWork,
    arrival: Arrival,
    caller: Caller,
    *,
    verified: sigv4.VerifiedRequest | None,
    region: str,
    auth_type: str | None,
    signature_age_ms: int | None,
    signing: ChunkSigning | None,
    extra: Mapping[str, ContextValue] | None = None,
) -> Call:
    headers = arrival.headers
    http_request = arrival.http_request
    info = AccessInfo(
        caller=caller,
        source_ip=arrival.source_ip,
        region=region,
        now=uow.now,
        secure=arrival.secure,
        auth_type=auth_type,
        signature_age_ms=signature_age_ms,
        content_sha256=headers.get("x-amz-content-sha256"),
        user_agent=headers.get("user-agent"),
        referer=headers.get("referer"),
        extra=extra or {},
        keys=gateway.keys,
    )
    return Call(
        request_id=arrival.request_id,
        route=arrival.route,
        action=arrival.action,
        method=http_request.method,
        headers=headers,
        header_list=list(http_request.headers),
        query={name: value for name, value in reversed(arrival.pairs)},
        query_pairs=arrival.pairs,
        body=http_request.body,
        object_data=arrival.object_data,
        info=info,
        verified=verified,
        signing=signing,
    )


def _chunk_signing(
    gateway: Gateway, uow: UnitOfWork, verified: sigv4.VerifiedRequest
) -> ChunkSigning:
    secret = KeyDirectory(uow, gateway.keys, verified.security_token).secret_for(
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


def _sigv2_error(error: Exception, request: sigv4.HttpRequest) -> S3Error:
    """S3's codes for SigV2 authentication failures (the shared ones as for SigV4)."""
    if isinstance(error, sigv2.SignatureMismatch):
        return S3Error(
            "SignatureDoesNotMatch",
            _SIGNATURE_MISMATCH,
            403,
            extra={
                "AWSAccessKeyId": error.access_key_id,
                "StringToSign": error.string_to_sign,
                "SignatureProvided": error.signature_provided,
                "StringToSignBytes": sigv2.string_to_sign_bytes(error.string_to_sign),
            },
        )
    if isinstance(error, sigv2.ClockSkewed):
        return S3Error(
            "RequestTimeTooSkewed",
            error.message,
            403,
            extra={
                "RequestTime": error.date_text,
                "ServerTime": error.server_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "MaxAllowedSkewMilliseconds": int(error.max_skew.total_seconds() * 1000),
            },
        )
    if isinstance(error, sigv2.UnknownAccessKey):
        if error.token_sent and error.access_key_id.startswith(TEMPORARY_KEY_PREFIX):
            return S3Error(
                "InvalidToken", "The provided token is malformed or otherwise invalid.", 400
            )
        return S3Error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
            extra={"AWSAccessKeyId": error.access_key_id},
        )
    if isinstance(error, sigv2.MalformedAuthorization):
        return invalid_argument(error.message, "Authorization", error.value)
    if isinstance(error, sigv2.MissingDate | sigv2.MissingQueryParameters | sigv2.InvalidExpires):
        return S3Error(error.code, error.message, error.http_status)
    return _auth_error(error, request)


def _access_key_id(request: sigv4.HttpRequest) -> str:
    for value in request.header_values("authorization"):
        found = _CREDENTIAL.search(value)
        if found:
            return found.group(1)
        if value.startswith(sigv2.AUTHORIZATION_PREFIX):
            return value[len(sigv2.AUTHORIZATION_PREFIX) :].partition(":")[0].strip()
    for name, value in decode_query(request.query):
        if name == "X-Amz-Credential":
            return value.split("/", 1)[0]
        if name == sigv2.ACCESS_KEY_PARAM:
            return value
    return ""
