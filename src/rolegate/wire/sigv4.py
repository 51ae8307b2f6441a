"""AWS Signature Version 4 request verification, as small pure step functions.

Each step of the SigV4 spec is one function (``canonical_uri``, ``canonical_query_string``,
``canonical_headers``, ``canonical_request``, ``string_to_sign``, ``derive_signing_key``,
``compute_signature``); ``verify`` chains them for an incoming request. Nothing here does I/O
or reads a clock: callers pass ``now``.

The request is described as the server received it: the path still percent-encoded exactly as
on the wire, the raw query string, and every header line (duplicates kept, in order).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import ClassVar
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

__all__ = [
    "ALGORITHM",
    "DEFAULT_MAX_SKEW",
    "EMPTY_SHA256",
    "MAX_PRESIGNED_EXPIRES_SECONDS",
    "UNSIGNED_PAYLOAD",
    "AuthorizationHeader",
    "ConflictingAuthentication",
    "ContentSHA256Mismatch",
    "CredentialScope",
    "HttpRequest",
    "IncompleteSignature",
    "InvalidClientTokenId",
    "MalformedPresignedQuery",
    "MissingAuthenticationToken",
    "PresignedQuery",
    "PresignedUrlExpired",
    "RequestTimeTooSkewed",
    "SigV4Error",
    "SignatureDoesNotMatch",
    "VerifiedRequest",
    "canonical_headers",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "compute_signature",
    "derive_signing_key",
    "format_amz_date",
    "format_authorization_header",
    "parse_authorization_header",
    "parse_presigned_query",
    "payload_hash",
    "string_to_sign",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
SCOPE_TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD_PREFIX = "STREAMING-"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_PRESIGNED_EXPIRES_SECONDS = 604800
DEFAULT_MAX_SKEW = timedelta(minutes=5)

_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# For an input of this shape strptime(_AMZ_DATE_FORMAT) reads every field at its full width
# (4 digits of year, 2 of each other field), which is what _amz_datetime relies on.
_AMZ_DATE_PATTERN = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SHA256_HEX_PATTERN = re.compile(r"[0-9a-fA-F]{64}")
_SIGNING_KEY_CACHE_SIZE = 256
_AMZ_DATE_CACHE_SIZE = 64
# RFC 3986 unreserved characters: what ``_uri_encode`` leaves as is.
_UNRESERVED_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
# The Authorization header exactly as AWS SDKs write it. A value of this shape parses to the
# same result through the general parser; anything else takes the general path. Values are
# printable ASCII without space, ',' or '=', so no stripping or splitting can change them.
_AUTHORIZATION_VALUE = r"([\x21-\x2b\x2d-\x3c\x3e-\x7e]+)"
_SDK_AUTHORIZATION_PATTERN = re.compile(
    f"{ALGORITHM} Credential={_AUTHORIZATION_VALUE}, ?"
    f"SignedHeaders={_AUTHORIZATION_VALUE}, ?Signature={_AUTHORIZATION_VALUE}"
)

# S3 signs the path exactly as sent (single-encoded, never normalized); every other service
# normalizes it and encodes it once more.
_UNNORMALIZED_PATH_SERVICES = frozenset({"s3", "s3-object-lambda", "s3-outposts", "s3express"})

_QUERY_ALGORITHM = "X-Amz-Algorithm"
_QUERY_CREDENTIAL = "X-Amz-Credential"
_QUERY_DATE = "X-Amz-Date"
_QUERY_EXPIRES = "X-Amz-Expires"
_QUERY_SIGNED_HEADERS = "X-Amz-SignedHeaders"
_QUERY_SIGNATURE = "X-Amz-Signature"
_QUERY_SECURITY_TOKEN = "X-Amz-Security-Token"
_PRESIGNED_REQUIRED_PARAMS = (
    _QUERY_ALGORITHM,
    _QUERY_CREDENTIAL,
    _QUERY_DATE,
    _QUERY_EXPIRES,
    _QUERY_SIGNED_HEADERS,
    _QUERY_SIGNATURE,
)
_PRESIGNED_MARKER_PARAMS = frozenset({_QUERY_ALGORITHM, _QUERY_CREDENTIAL, _QUERY_SIGNATURE})


# --------------------------------------------------------------------------------------------
# Errors


class SigV4Error(Exception):
    """Base of every authentication failure; ``code``/``http_status`` are what AWS answers."""

    code: ClassVar[str] = "SignatureDoesNotMatch"
    http_status: ClassVar[int] = 403
    default_message: ClassVar[str] = ""

    def __init__(self, message: str | None = None) -> None:
        self.message = self.default_message if message is None else message
        super().__init__(self.message)


class MissingAuthenticationToken(SigV4Error):
    """Neither an ``Authorization`` header nor presigned query parameters were sent."""

    code = "MissingAuthenticationToken"
    http_status = 403
    default_message = "Request is missing Authentication Token"


class IncompleteSignature(SigV4Error):
    """The Authorization header (or a header it relies on) is malformed."""

    code = "IncompleteSignature"
    http_status = 400
    default_message = "The request signature does not conform to AWS standards."


class MalformedPresignedQuery(IncompleteSignature):
    """Presigned query parameters are missing or malformed.

    S3 reports this as ``AuthorizationQueryParametersError`` (400).
    """


class ConflictingAuthentication(IncompleteSignature):
    """Both an Authorization header and presigned query parameters were sent.

    S3 reports this as ``InvalidArgument`` (400).
    """

    default_message = (
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
        "Signature query string parameter or the Authorization header should be specified"
    )


class InvalidClientTokenId(SigV4Error):
    """The access key id is unknown."""

    code = "InvalidClientTokenId"
    http_status = 403
    default_message = "The security token included in the request is invalid."


class SignatureDoesNotMatch(SigV4Error):
    """The signature (or its credential scope) does not match the request."""

    code = "SignatureDoesNotMatch"
    http_status = 403
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )


class RequestTimeTooSkewed(SignatureDoesNotMatch):
    """The request time is too far from the server clock.

    IAM and STS answer ``SignatureDoesNotMatch`` with the message carried here; S3 maps this
    class to ``RequestTimeTooSkewed`` using ``request_time``/``server_time``/``max_skew``.
    """

    def __init__(
        self, message: str, *, request_time: datetime, server_time: datetime, max_skew: timedelta
    ) -> None:
        super().__init__(message)
        self.request_time = request_time
        self.server_time = server_time
        self.max_skew = max_skew


class PresignedUrlExpired(SigV4Error):
    """A presigned request is used after ``X-Amz-Date + X-Amz-Expires``."""

    code = "AccessDenied"
    http_status = 403
    default_message = "Request has expired"

    def __init__(self, *, expires_at: datetime, server_time: datetime) -> None:
        super().__init__()
        self.expires_at = expires_at
        self.server_time = server_time


class ContentSHA256Mismatch(SigV4Error):
    """The ``x-amz-content-sha256`` header is not the hash of the body that arrived."""

    code = "XAmzContentSHA256Mismatch"
    http_status = 400
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


# --------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An incoming HTTP request as received, before any decoding.

    ``path`` is the raw request-target path (percent-encoding untouched, no query), ``query``
    the raw query string without ``?``. ``body`` is ``None`` when the body is streamed and not
    available; then ``body_sha256`` (a hex digest the caller computed) or an
    ``x-amz-content-sha256`` header supplies the payload hash.
    """

    method: str
    path: str
    query: str = ""
    headers: Sequence[tuple[str, str]] = ()
    body: bytes | None = b""
    body_sha256: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", tuple([(n, v) for n, v in self.headers]))

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in arrival order."""
        wanted = name.lower()
        return [value for header, value in self.headers if header.strip().lower() == wanted]


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """``<date>/<region>/<service>/aws4_request`` from a credential."""

    date: str
    region: str
    service: str
    terminator: str = SCOPE_TERMINATOR

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True, slots=True)
class AuthorizationHeader:
    """The parsed ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key_id: str
    scope: CredentialScope
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class PresignedQuery:
    """The parsed ``X-Amz-*`` query parameters of a presigned request."""

    access_key_id: str
    scope: CredentialScope
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires_seconds: int
    security_token: str | None


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """What a successfully verified request proves.

    ``security_token`` is only carried: the caller must check it belongs to
    ``access_key_id``. ``payload_verified`` is False when the payload hash was not checked
    against the body (``UNSIGNED-PAYLOAD``, ``STREAMING-*`` markers, or a streamed body whose
    hash the caller must still compare with ``payload_hash``).
    """

    access_key_id: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    security_token: str | None
    request_time: datetime
    is_presigned: bool
    expires_at: datetime | None
    signature: str
    payload_hash: str
    payload_verified: bool


# --------------------------------------------------------------------------------------------
# Parsing


def parse_authorization_header(value: str) -> AuthorizationHeader:
    """Parse ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""
    sdk_form = _SDK_AUTHORIZATION_PATTERN.fullmatch(value)
    if sdk_form is not None:
        credential, signed_headers, signature = sdk_form.groups()
        access_key_id, scope = _parse_credential(credential, IncompleteSignature)
        return AuthorizationHeader(
            access_key_id=access_key_id,
            scope=scope,
            signed_headers=_parse_signed_headers(signed_headers, IncompleteSignature),
            signature=signature,
        )
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'")
    params: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, item = part.partition("=")
        if not sep:
            raise IncompleteSignature(
                f"'{part}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{value}'."
            )
        key = key.strip()
        if key in params:
            raise IncompleteSignature(f"Duplicate '{key}' parameter in Authorization header.")
        params[key] = item.strip()
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if problems:
        raise IncompleteSignature(" ".join(problems) + f" Authorization={value}")
    access_key_id, scope = _parse_credential(params["Credential"], IncompleteSignature)
    return AuthorizationHeader(
        access_key_id=access_key_id,
        scope=scope,
        signed_headers=_parse_signed_headers(params["SignedHeaders"], IncompleteSignature),
        signature=params["Signature"],
    )


def parse_presigned_query(query: str) -> PresignedQuery:
    """Parse the ``X-Amz-*`` parameters of a presigned (query-string authenticated) request."""
    values: dict[str, list[str]] = {}
    for name, item in _decoded_query_pairs(query):
        values.setdefault(name, []).append(item)
    missing = [name for name in _PRESIGNED_REQUIRED_PARAMS if not values.get(name)]
    if missing:
        raise MalformedPresignedQuery(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters."
        )
    for name in (*_PRESIGNED_REQUIRED_PARAMS, _QUERY_SECURITY_TOKEN):
        if len(values.get(name, ())) > 1:
            raise MalformedPresignedQuery(f"Duplicate '{name}' query parameter.")
    single = {name: items[0] for name, items in values.items()}
    if single[_QUERY_ALGORITHM] != ALGORITHM:
        raise MalformedPresignedQuery(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    amz_date = single[_QUERY_DATE]
    if not _AMZ_DATE_PATTERN.fullmatch(amz_date) or _parse_amz_date(amz_date) is None:
        raise MalformedPresignedQuery(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    expires_text = single[_QUERY_EXPIRES]
    if not expires_text.isascii() or not expires_text.isdigit():
        raise MalformedPresignedQuery("X-Amz-Expires should be a number")
    expires_seconds = int(expires_text)
    if expires_seconds > MAX_PRESIGNED_EXPIRES_SECONDS:
        raise MalformedPresignedQuery(
            "X-Amz-Expires must be less than a week (in seconds) that is "
            f"{MAX_PRESIGNED_EXPIRES_SECONDS}"
        )
    access_key_id, scope = _parse_credential(single[_QUERY_CREDENTIAL], MalformedPresignedQuery)
    return PresignedQuery(
        access_key_id=access_key_id,
        scope=scope,
        signed_headers=_parse_signed_headers(
            single[_QUERY_SIGNED_HEADERS], MalformedPresignedQuery
        ),
        signature=single[_QUERY_SIGNATURE],
        amz_date=amz_date,
        expires_seconds=expires_seconds,
        security_token=single.get(_QUERY_SECURITY_TOKEN),
    )


def _parse_credential(
    credential: str, error: type[IncompleteSignature]
) -> tuple[str, CredentialScope]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise error(
            f"Credential is mal-formed: '{credential}'; expecting "
            '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    access_key_id, date, region, service, terminator = parts
    return access_key_id, CredentialScope(date, region, service, terminator)


def _parse_signed_headers(value: str, error: type[IncompleteSignature]) -> tuple[str, ...]:
    names = tuple([name.strip().lower() for name in value.split(";")])
    if not all(names):
        raise error(f"SignedHeaders is mal-formed: '{value}'.")
    return names


def _decoded_query_pairs(query: str) -> list[tuple[str, str]]:
    if not query:
        return []
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, item = part.partition("=")
            pairs.append((_percent_decode(name), _percent_decode(item)))
    return pairs


def _percent_decode(text: str) -> str:
    # '+' stays a literal plus: SigV4 uses RFC 3986 encoding, not HTML form encoding.
    if "%" not in text and text.isascii():
        return text  # nothing to decode: the UTF-8 round trip is the identity
    return unquote_to_bytes(text).decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Canonicalization steps


def canonical_uri(path: str, service: str) -> str:
    """The CanonicalURI line for the raw (as received, still percent-encoded) ``path``.

    For S3 the path is signed exactly as sent. Every other service removes dot segments and
    empty segments and then URI-encodes the already-encoded path again, as botocore does.
    """
    if service in _UNNORMALIZED_PATH_SERVICES:
        return path or "/"
    if path == "/":
        return path
    return quote(_remove_dot_segments(path), safe="/~")


def _remove_dot_segments(path: str) -> str:
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    leading = "/" if path.startswith("/") else ""
    trailing = "/" if path.endswith("/") and kept else ""
    return leading + "/".join(kept) + trailing


def canonical_query_string(query: str, *, exclude: Collection[str] = ()) -> str:
    """The CanonicalQueryString line for a raw query string.

    Names and values are percent-decoded, re-encoded with the RFC 3986 unreserved set, and
    sorted by encoded name then value. Parameters whose decoded name is in ``exclude`` (for a
    presigned request: ``X-Amz-Signature``) are left out.
    """
    if not query:
        return ""
    encoded_pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, item = part.partition("=")
        raw_name = unquote_to_bytes(name)
        if exclude and raw_name.decode("utf-8", "replace") in exclude:
            continue
        encoded_pairs.append((_uri_encode(raw_name), _uri_encode(unquote_to_bytes(item))))
    return "&".join(f"{name}={item}" for name, item in sorted(encoded_pairs))


def _uri_encode(raw: bytes) -> str:
    if not raw.rstrip(_UNRESERVED_BYTES):
        return raw.decode("ascii")  # nothing to encode
    return quote_from_bytes(raw, safe="-_.~")


def canonical_headers(headers: Sequence[tuple[str, str]], signed_headers: Sequence[str]) -> str:
    """The CanonicalHeaders block: one ``name:value\\n`` line per signed header, in order.

    Values are trimmed with inner whitespace runs (including folded continuation lines)
    collapsed to one space; repeated headers are joined with ``,`` in arrival order.
    """
    return _canonical_headers(_index_headers(headers), signed_headers)


def _index_headers(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Header values by trimmed, lower-cased name, in arrival order."""
    index: dict[str, list[str]] = {}
    for name, item in headers:
        key = name.strip().lower()
        values = index.get(key)
        if values is None:
            index[key] = [item]
        else:
            values.append(item)
    return index


def _canonical_headers(index: dict[str, list[str]], signed_headers: Sequence[str]) -> str:
    lines = []
    for name in signed_headers:
        values = index.get(name)
        if not values:
            joined = ""
        elif len(values) == 1:
            joined = " ".join(values[0].split())
        else:
            joined = ",".join([" ".join(item.split()) for item in values])
        lines.append(f"{name}:{joined}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    canonical_uri: str,
    canonical_query_string: str,
    canonical_headers: str,
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """Join the canonical parts into the CanonicalRequest string."""
    return "\n".join(
        (
            method,
            canonical_uri,
            canonical_query_string,
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        )
    )


def string_to_sign(amz_date: str, scope: CredentialScope, canonical_request: str) -> str:
    """The StringToSign for ``canonical_request`` signed at ``amz_date`` within ``scope``."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def derive_signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC chain over date, region, service and ``aws4_request`` (cached)."""
    return _derive_signing_key_cached(secret_access_key, date, region, service)


@functools.lru_cache(maxsize=_SIGNING_KEY_CACHE_SIZE)
def _derive_signing_key_cached(
    secret_access_key: str, date: str, region: str, service: str
) -> bytes:
    key = f"AWS4{secret_access_key}".encode()
    for part in (date, region, service, SCOPE_TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def compute_signature(signing_key: bytes, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 of ``string_to_sign`` under ``signing_key``."""
    if not isinstance(signing_key, bytes):  # e.g. a bytearray: not hashable, so not cached
        return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    mac = _keyed_hmac(signing_key).copy()
    mac.update(string_to_sign.encode("utf-8"))
    return mac.hexdigest()


@functools.lru_cache(maxsize=_SIGNING_KEY_CACHE_SIZE)
def _keyed_hmac(signing_key: bytes) -> hmac.HMAC:
    # An HMAC keyed but not yet fed: copying it skips the key schedule. Never updated itself,
    # so concurrent copies are safe.
    return hmac.new(signing_key, digestmod=hashlib.sha256)


def payload_hash(request: HttpRequest, *, presigned: bool, service: str) -> str:
    """The HashedPayload line, chosen as botocore chooses it.

    An ``x-amz-content-sha256`` header wins (a hex digest, ``UNSIGNED-PAYLOAD`` or a
    ``STREAMING-*`` marker); an S3 presigned request otherwise uses ``UNSIGNED-PAYLOAD``;
    everything else hashes the body.
    """
    header = _single_header(request, "x-amz-content-sha256")
    return _payload_hash(header, request, presigned=presigned, service=service)[0]


def _payload_hash(
    header: str | None, request: HttpRequest, *, presigned: bool, service: str
) -> tuple[str, bool]:
    """``payload_hash`` given the ``x-amz-content-sha256`` value, and whether it is the body's."""
    if header is not None:
        return header, False
    if presigned and service in _UNNORMALIZED_PATH_SERVICES:
        return UNSIGNED_PAYLOAD, False
    actual = _actual_body_sha256(request)
    if actual is None:
        raise ValueError(
            "request body is not available: pass body_sha256 or require x-amz-content-sha256"
        )
    return actual, True


def _actual_body_sha256(request: HttpRequest) -> str | None:
    if request.body_sha256 is not None:
        return request.body_sha256.lower()
    if request.body is None:
        return None
    return hashlib.sha256(request.body).hexdigest()


def format_amz_date(moment: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC."""
    return moment.astimezone(UTC).strftime(_AMZ_DATE_FORMAT)


def format_authorization_header(
    access_key_id: str, scope: CredentialScope, signed_headers: Sequence[str], signature: str
) -> str:
    """The Authorization header value a client sends."""
    return (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(signed_headers)}, Signature={signature}"
    )


# --------------------------------------------------------------------------------------------
# Verification


def verify(
    request: HttpRequest,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> VerifiedRequest:
    """Authenticate ``request`` (header or presigned form) or raise a ``SigV4Error``.

    ``lookup_secret`` maps an access key id to its secret access key, or ``None`` when the key
    is unknown. ``now`` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    server_time = now.astimezone(UTC)
    headers = _index_headers(request.headers)
    authorization = _single_value(headers, "authorization")
    query_names = {name for name, _ in _decoded_query_pairs(request.query)}
    presigned = bool(query_names & _PRESIGNED_MARKER_PARAMS)
    if authorization is not None and presigned:
        raise ConflictingAuthentication()
    if authorization is None and not presigned:
        raise MissingAuthenticationToken()

    params: AuthorizationHeader | PresignedQuery
    if authorization is not None:
        params = parse_authorization_header(authorization)
        amz_date = _header_amz_date(headers, authorization)
        security_token = _single_value(headers, "x-amz-security-token")
        if security_token is None:
            security_token = _single_query_value(request.query, _QUERY_SECURITY_TOKEN)
    else:
        params = parse_presigned_query(request.query)
        amz_date = params.amz_date
        security_token = params.security_token
        if security_token is None:
            security_token = _single_value(headers, "x-amz-security-token")
    request_time = _parse_amz_date(amz_date)
    if request_time is None:
        raise IncompleteSignature(_bad_date_message(amz_date))
    _check_scope(params.scope, amz_date)
    if "host" not in params.signed_headers:
        raise IncompleteSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )

    secret = lookup_secret(params.access_key_id)
    if secret is None:
        raise InvalidClientTokenId()

    expires_at = None
    if isinstance(params, PresignedQuery):
        expires_at = request_time + timedelta(seconds=params.expires_seconds)
        _check_not_in_future(amz_date, request_time, server_time, max_skew)
        if server_time > expires_at:
            raise PresignedUrlExpired(expires_at=expires_at, server_time=server_time)
    else:
        _check_not_in_future(amz_date, request_time, server_time, max_skew)
        _check_not_expired(amz_date, request_time, server_time, max_skew)

    service = params.scope.service
    hashed_payload, hashed_from_body = _payload_hash(
        _single_value(headers, "x-amz-content-sha256"),
        request,
        presigned=presigned,
        service=service,
    )
    excluded = (_QUERY_SIGNATURE,) if presigned else ()
    creq = canonical_request(
        request.method,
        canonical_uri(request.path, service),
        canonical_query_string(request.query, exclude=excluded),
        _canonical_headers(headers, params.signed_headers),
        params.signed_headers,
        hashed_payload,
    )
    signing_key = derive_signing_key(
        secret, params.scope.date, params.scope.region, params.scope.service
    )
    expected = compute_signature(signing_key, string_to_sign(amz_date, params.scope, creq))
    if not hmac.compare_digest(expected.encode("ascii"), params.signature.encode("utf-8")):
        raise SignatureDoesNotMatch()
    if hashed_from_body:
        # The hash is the body's own: checking it against the body would hash it again.
        payload_verified = _SHA256_HEX_PATTERN.fullmatch(hashed_payload) is not None
    else:
        payload_verified = _check_payload(request, hashed_payload)

    return VerifiedRequest(
        access_key_id=params.access_key_id,
        region=params.scope.region,
        service=service,
        signed_headers=params.signed_headers,
        security_token=security_token,
        request_time=request_time,
        is_presigned=presigned,
        expires_at=expires_at,
        signature=params.signature,
        payload_hash=hashed_payload,
        payload_verified=payload_verified,
    )


def _single_header(request: HttpRequest, name: str) -> str | None:
    return _single_value({name: request.header_values(name)}, name)


def _single_value(index: dict[str, list[str]], name: str) -> str | None:
    """The one value of lower-case header ``name`` in ``index``, or None; raise on repeats."""
    values = index.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise IncompleteSignature(f"Multiple '{name}' headers are not allowed.")
    return values[0].strip()


def _single_query_value(query: str, name: str) -> str | None:
    values = [item for key, item in _decoded_query_pairs(query) if key == name]
    if len(values) > 1:
        raise IncompleteSignature(f"Duplicate '{name}' query parameter.")
    return values[0] if values else None


def _header_amz_date(headers: dict[str, list[str]], authorization: str) -> str:
    amz_date = _single_value(headers, "x-amz-date")
    if amz_date is not None:
        if _parse_amz_date(amz_date) is None:
            raise IncompleteSignature(_bad_date_message(amz_date))
        return amz_date
    http_date = _single_value(headers, "date")
    if http_date is None:
        raise IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            f"header. Authorization={authorization}"
        )
    try:
        parsed = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        raise IncompleteSignature(_bad_date_message(http_date)) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return format_amz_date(parsed)


def _parse_amz_date(amz_date: str) -> datetime | None:
    """``strptime(amz_date, _AMZ_DATE_FORMAT)`` in UTC, or None; without strptime's cost."""
    if not _AMZ_DATE_PATTERN.fullmatch(amz_date):
        return None
    return _amz_datetime(amz_date)


@functools.lru_cache(maxsize=_AMZ_DATE_CACHE_SIZE)
def _amz_datetime(amz_date: str) -> datetime | None:
    # Only called with a string that fully matches _AMZ_DATE_PATTERN (16 ASCII characters, so
    # the cache stays small); a request's date is parsed twice and is shared by its neighbours.
    try:
        return datetime(
            int(amz_date[0:4]),
            int(amz_date[4:6]),
            int(amz_date[6:8]),
            int(amz_date[9:11]),
            int(amz_date[11:13]),
            int(amz_date[13:15]),
            tzinfo=UTC,
        )
    except ValueError:  # a day, hour, ... out of range: strptime rejects it too
        return None


def _bad_date_message(value: str) -> str:
    return (
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _check_scope(scope: CredentialScope, amz_date: str) -> None:
    if scope.terminator != SCOPE_TERMINATOR:
        raise SignatureDoesNotMatch(
            f"Credential should be scoped with a valid terminator: '{SCOPE_TERMINATOR}', "
            f"not '{scope.terminator}'."
        )
    if scope.date != amz_date[:8]:
        raise SignatureDoesNotMatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )


def _check_not_expired(
    amz_date: str, request_time: datetime, server_time: datetime, max_skew: timedelta
) -> None:
    earliest = server_time - max_skew
    if request_time < earliest:
        raise RequestTimeTooSkewed(
            f"Signature expired: {amz_date} is now earlier than {format_amz_date(earliest)} "
            f"({format_amz_date(server_time)} - {_minutes(max_skew)} min.)",
            request_time=request_time,
            server_time=server_time,
            max_skew=max_skew,
        )


def _check_not_in_future(
    amz_date: str, request_time: datetime, server_time: datetime, max_skew: timedelta
) -> None:
    latest = server_time + max_skew
    if request_time > latest:
        raise RequestTimeTooSkewed(
            f"Signature not yet current: {amz_date} is still later than "
            f"{format_amz_date(latest)} ({format_amz_date(server_time)} + "
            f"{_minutes(max_skew)} min.)",
            request_time=request_time,
            server_time=server_time,
            max_skew=max_skew,
        )


def _minutes(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return str(int(minutes)) if minutes.is_integer() else f"{minutes:g}"


def _check_payload(request: HttpRequest, hashed_payload: str) -> bool:
    """True when ``hashed_payload`` is known to be the body's hash; raise if it is not."""
    if not _SHA256_HEX_PATTERN.fullmatch(hashed_payload):
        return False
    actual = _actual_body_sha256(request)
    if actual is None:
        return False
    if not hmac.compare_digest(actual.encode("ascii"), hashed_payload.lower().encode("ascii")):
        raise ContentSHA256Mismatch()
    return True
