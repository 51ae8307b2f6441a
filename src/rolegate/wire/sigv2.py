"""AWS Signature Version 2 for S3 (``HmacSHA1``), as small pure step functions.

S3 still accepts Signature Version 2 in its older regions, and botocore still signs with it
(``Config(signature_version="s3")``, and ``generate_presigned_url`` by default in
``us-east-1``). Two forms:

- header auth: ``Authorization: AWS <AccessKeyId>:<Signature>`` with a ``Date`` (or
  ``x-amz-date``) header within 15 minutes of the server clock;
- query-string auth (presigned URLs): ``AWSAccessKeyId``, ``Signature`` and ``Expires``
  (epoch seconds) parameters, ``x-amz-security-token`` for temporary credentials.

The signature is ``base64(HMAC-SHA1(secret, StringToSign))`` where StringToSign is::

    VERB \\n Content-MD5 \\n Content-Type \\n Date-or-Expires \\n
    CanonicalizedAmzHeaders CanonicalizedResource

Each step is one function (``canonical_amz_headers``, ``canonical_resource``,
``string_to_sign``, ``compute_signature``); ``verify`` chains them for an incoming request.
botocore's ``HmacV1Auth`` / ``HmacV1QueryAuth`` are the reference the tests compare with.
Nothing here does I/O or reads a clock: callers pass ``now``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import unquote

from . import sigv4
from .sigv4 import HttpRequest

__all__ = [
    "ACCESS_KEY_PARAM",
    "AUTHORIZATION_PREFIX",
    "DEFAULT_MAX_SKEW",
    "EXPIRES_PARAM",
    "SECURITY_TOKEN",
    "SIGNATURE_PARAM",
    "SUB_RESOURCES",
    "ClockSkewed",
    "InvalidExpires",
    "MalformedAuthorization",
    "MissingDate",
    "MissingQueryParameters",
    "PresignedV2Query",
    "SignatureMismatch",
    "UnknownAccessKey",
    "VerifiedV2Request",
    "canonical_amz_headers",
    "canonical_resource",
    "canonical_resources",
    "compute_signature",
    "date_lines",
    "format_authorization_header",
    "is_sigv2",
    "parse_authorization_header",
    "parse_presigned_query",
    "security_token",
    "string_to_sign",
    "string_to_sign_bytes",
    "verify",
]

DEFAULT_MAX_SKEW: Final = timedelta(minutes=15)
ACCESS_KEY_PARAM: Final = "AWSAccessKeyId"
SIGNATURE_PARAM: Final = "Signature"
EXPIRES_PARAM: Final = "Expires"
SECURITY_TOKEN: Final = "x-amz-security-token"
AUTHORIZATION_PREFIX: Final = "AWS "
_AMZ_PREFIX: Final = "x-amz-"
_V2_QUERY_MARKERS: Final = frozenset({ACCESS_KEY_PARAM, SIGNATURE_PARAM})
_LAST_EPOCH: Final = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime holds
_V4_QUERY_MARKERS: Final = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})

# The sub-resources that are part of the CanonicalizedResource: the ones AWS documents (acl,
# cors, delete, lifecycle, location, logging, notification, partNumber, policy,
# requestPayment, restore, tagging, torrent, uploadId, uploads, versionId, versioning,
# versions, website and the response-* overrides) and the newer ones botocore's HmacV1Auth
# also signs (S3 accepts both). Anything else in the query is not signed.
SUB_RESOURCES: Final = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "inventory",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)


# --------------------------------------------------------------------------------------------
# Errors (subclasses of the SigV4 ones, so that callers map both families alike)


class MalformedAuthorization(sigv4.IncompleteSignature):
    """``Authorization: AWS ...`` is not ``AWS <AccessKeyId>:<Signature>``.

    S3 answers ``InvalidArgument`` (400) naming the header.
    """

    code = "InvalidArgument"
    http_status = 400

    def __init__(self, value: str) -> None:
        super().__init__("AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
        self.value = value


class MissingQueryParameters(sigv4.SigV4Error):
    """A presigned URL lacks ``AWSAccessKeyId``, ``Signature`` or ``Expires``."""

    code = "AccessDenied"
    http_status = 403
    default_message = (
        "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
    )


class InvalidExpires(sigv4.SigV4Error):
    """``Expires`` is not a number of seconds since the epoch."""

    code = "AccessDenied"
    http_status = 403

    def __init__(self, value: str) -> None:
        super().__init__(f"Invalid date (should be seconds since epoch): {value}")


class MissingDate(sigv4.SigV4Error):
    """Header auth without a parseable ``Date`` or ``x-amz-date``."""

    code = "AccessDenied"
    http_status = 403
    default_message = "AWS authentication requires a valid Date or x-amz-date header"


class ClockSkewed(sigv4.RequestTimeTooSkewed):
    """Header auth whose date is over ``max_skew`` away from the server clock; ``date_text``
    is the header value as sent (S3 echoes it as ``RequestTime``)."""

    def __init__(
        self, date_text: str, *, request_time: datetime, server_time: datetime, max_skew: timedelta
    ) -> None:
        super().__init__(
            "The difference between the request time and the current time is too large.",
            request_time=request_time,
            server_time=server_time,
            max_skew=max_skew,
        )
        self.date_text = date_text


class UnknownAccessKey(sigv4.InvalidClientTokenId):
    """The access key id has no secret (unknown, inactive, or a temporary key whose security
    token is missing or not its own). ``token_sent`` tells the last two apart."""

    def __init__(self, access_key_id: str, *, token_sent: bool) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.token_sent = token_sent


class SignatureMismatch(sigv4.SignatureDoesNotMatch):
    """The signature is not the one of the request: S3 shows the StringToSign it computed."""

    def __init__(self, access_key_id: str, string_to_sign: str, signature_provided: str) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.string_to_sign = string_to_sign
        self.signature_provided = signature_provided


# --------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True, slots=True)
class PresignedV2Query:
    """The parsed ``AWSAccessKeyId`` / ``Signature`` / ``Expires`` query parameters."""

    access_key_id: str
    signature: str
    expires_text: str
    expires: int


@dataclass(frozen=True, slots=True)
class VerifiedV2Request:
    """What a successfully verified SigV2 request proves.

    ``security_token`` is only carried: the caller checks it belongs to ``access_key_id``.
    ``request_time`` is the header date (None for a presigned URL, which has only
    ``expires_at``). The payload is never signed by SigV2 (Content-MD5, when sent, is).
    """

    access_key_id: str
    security_token: str | None
    is_presigned: bool
    request_time: datetime | None
    expires_at: datetime | None
    signature: str
    string_to_sign: str


# --------------------------------------------------------------------------------------------
# Canonicalization steps


def canonical_amz_headers(
    headers: Iterable[tuple[str, str]], query_pairs: Iterable[tuple[str, str]] = ()
) -> str:
    """The CanonicalizedAmzHeaders block: ``name:value\\n`` per ``x-amz-*`` header.

    Names are lower-cased and sorted, values stripped, repeated headers joined with ``,`` in
    arrival order. ``query_pairs`` (decoded) are the ``x-amz-*`` parameters of a presigned
    URL, which stand for the headers they were when the URL was signed.
    """
    found: dict[str, list[str]] = {}
    for name, value in (*headers, *query_pairs):
        lowered = name.strip().lower()
        if lowered.startswith(_AMZ_PREFIX):
            found.setdefault(lowered, []).append(value.strip())
    return "".join(f"{name}:{','.join(found[name])}\n" for name in sorted(found))


def canonical_resource(path: str, query: str) -> str:
    """The CanonicalizedResource of a path-style request: the path as sent (still
    percent-encoded), then ``?`` and the sub-resources of the raw ``query``, sorted by name
    (stable), their values percent-decoded, ``name`` alone when sent without ``=``."""
    kept: list[tuple[str, str]] = []
    if query:
        for part in query.split("&"):
            name, sep, value = part.partition("=")
            if name in SUB_RESOURCES:
                kept.append((name, f"{name}={unquote(value)}" if sep else name))
    resource = path or "/"
    if not kept:
        return resource
    kept.sort(key=lambda item: item[0])
    return resource + "?" + "&".join(text for _, text in kept)


def canonical_resources(path: str, query: str) -> list[str]:
    """The CanonicalizedResources a request may have signed: ``canonical_resource``, and for a
    bucket addressed as ``/bucket`` also ``/bucket/``, its virtual-hosted form, which S3
    accepts and botocore signs (its S3 model's ``authPath``) for path-style requests too."""
    resources = [canonical_resource(path, query)]
    if path.count("/") == 1 and len(path) > 1:
        resources.append(canonical_resource(path + "/", query))
    return resources


def string_to_sign(
    method: str,
    content_md5: str,
    content_type: str,
    date: str,
    amz_headers: str,
    resource: str,
) -> str:
    """Join the parts into the StringToSign (``date`` is the Expires value when presigned)."""
    return f"{method.upper()}\n{content_md5}\n{content_type}\n{date}\n{amz_headers}{resource}"


def string_to_sign_bytes(text: str) -> str:
    """The StringToSign as S3 shows it in ``StringToSignBytes``: hex bytes, space-separated."""
    return " ".join(f"{byte:02x}" for byte in text.encode("utf-8"))


def compute_signature(secret_access_key: str, string_to_sign: str) -> str:
    """``base64(HMAC-SHA1(secret, StringToSign))``."""
    digest = hmac.new(
        secret_access_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def format_authorization_header(access_key_id: str, signature: str) -> str:
    """The Authorization header value a client sends."""
    return f"{AUTHORIZATION_PREFIX}{access_key_id}:{signature}"


# --------------------------------------------------------------------------------------------
# Parsing


def is_sigv2(request: HttpRequest) -> bool:
    """Signature Version 2: an ``AWS key:sig`` header or ``AWSAccessKeyId``/``Signature``
    query parameters."""
    for value in request.header_values("authorization"):
        if value.strip().startswith(AUTHORIZATION_PREFIX):
            return True
    if "AWSAccessKeyId" not in request.query and "Signature" not in request.query:
        return False
    return bool(_query_names(request.query) & _V2_QUERY_MARKERS)


def parse_authorization_header(value: str) -> tuple[str, str]:
    """``AWS <AccessKeyId>:<Signature>`` as ``(access_key_id, signature)``."""
    text = value.strip()
    if not text.startswith(AUTHORIZATION_PREFIX):
        raise MalformedAuthorization(value)
    access_key_id, sep, signature = text[len(AUTHORIZATION_PREFIX) :].strip().partition(":")
    access_key_id, signature = access_key_id.strip(), signature.strip()
    if not sep or not access_key_id or not signature:
        raise MalformedAuthorization(value)
    return access_key_id, signature


def parse_presigned_query(pairs: Sequence[tuple[str, str]]) -> PresignedV2Query:
    """The SigV2 parameters of decoded query ``pairs`` (each at most once)."""
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in (ACCESS_KEY_PARAM, SIGNATURE_PARAM, EXPIRES_PARAM):
            values.setdefault(name, []).append(value)
    for name, items in values.items():
        if len(items) > 1:
            raise MissingQueryParameters(f"Duplicate '{name}' query parameter.")
    access_key_id = values.get(ACCESS_KEY_PARAM, [""])[0]
    signature = values.get(SIGNATURE_PARAM, [""])[0]
    expires_text = values.get(EXPIRES_PARAM, [""])[0]
    if not access_key_id or not signature or not expires_text:
        raise MissingQueryParameters()
    if not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
        raise InvalidExpires(expires_text)
    return PresignedV2Query(access_key_id, signature, expires_text, int(expires_text))


def security_token(request: HttpRequest) -> str | None:
    """The ``x-amz-security-token`` header, else (a presigned URL, no Authorization header)
    the query parameter: where the signature covers it."""
    found = request.header_values(SECURITY_TOKEN)
    if found:
        return ",".join(value.strip() for value in found)
    if request.header_values("authorization") or SECURITY_TOKEN not in request.query.lower():
        return None
    pairs = _decoded_pairs(request.query)
    tokens = [value for name, value in pairs if name.lower() == SECURITY_TOKEN]
    return ",".join(tokens) if tokens else None


def _decoded_pairs(query: str) -> list[tuple[str, str]]:
    """Percent-decoded (name, value) pairs; ``+`` stays a plus."""
    pairs = []
    for part in query.split("&") if query else ():
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _query_names(query: str) -> set[str]:
    return {name for name, _ in _decoded_pairs(query)}


# --------------------------------------------------------------------------------------------
# Verification


def verify(
    request: HttpRequest,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> VerifiedV2Request:
    """Authenticate a SigV2 ``request`` (header or presigned form) or raise a ``SigV4Error``.

    ``lookup_secret`` maps an access key id to its secret, or None when the key is unknown.
    ``now`` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    server_time = now.astimezone(UTC)
    authorizations = request.header_values("authorization")
    pairs = _decoded_pairs(request.query)
    names = {name for name, _ in pairs}
    presigned = bool(names & (_V2_QUERY_MARKERS | _V4_QUERY_MARKERS))
    if authorizations and presigned:
        raise sigv4.ConflictingAuthentication()
    if not authorizations and not presigned:
        raise sigv4.MissingAuthenticationToken()
    if len(authorizations) > 1:
        raise MalformedAuthorization(",".join(authorizations))
    token = security_token(request)
    request_time = expires_at = None
    if authorizations:
        access_key_id, signature = parse_authorization_header(authorizations[0])
        amz_date = _single(request, "x-amz-date")
        http_date = _single(request, "date")
        date_text = amz_date if amz_date is not None else http_date
        request_time = _parse_date(date_text)
        if date_text is None or request_time is None:
            raise MissingDate()
        dates = date_lines(request.headers, http_date, amz_date)
    else:
        query = parse_presigned_query(pairs)
        access_key_id, signature = query.access_key_id, query.signature
        expires_at = _from_epoch(query.expires)
        dates = [(query.expires_text, canonical_amz_headers(request.headers, pairs))]
        date_text = None

    secret = lookup_secret(access_key_id)
    if secret is None:
        raise UnknownAccessKey(access_key_id, token_sent=token is not None)
    skewed = request_time is not None and abs(server_time - request_time) > max_skew
    if skewed and request_time is not None and date_text is not None:
        raise ClockSkewed(
            date_text, request_time=request_time, server_time=server_time, max_skew=max_skew
        )
    if expires_at is not None and server_time > expires_at:
        raise sigv4.PresignedUrlExpired(expires_at=expires_at, server_time=server_time)

    content_md5 = _standard_header(request, "content-md5", pairs if presigned else ())
    content_type = _standard_header(request, "content-type", pairs if presigned else ())
    provided = signature.encode("utf-8")
    texts = [
        string_to_sign(request.method, content_md5, content_type, date, amz_headers, resource)
        for resource in canonical_resources(request.path, request.query)
        for date, amz_headers in dates
    ]
    for text in texts:
        expected = compute_signature(secret, text)
        if hmac.compare_digest(expected.encode("ascii"), provided):
            return VerifiedV2Request(
                access_key_id=access_key_id,
                security_token=token,
                is_presigned=presigned,
                request_time=request_time,
                expires_at=expires_at,
                signature=signature,
                string_to_sign=text,
            )
    raise SignatureMismatch(access_key_id, texts[0], signature)


def date_lines(
    headers: Sequence[tuple[str, str]], http_date: str | None, amz_date: str | None
) -> list[tuple[str, str]]:
    """The (date line, CanonicalizedAmzHeaders) pairs a header-auth request may have signed.

    Without ``x-amz-date``: the ``Date`` header. With it, AWS's rule first (an empty date
    line, ``x-amz-date`` among the amz headers), then the two other forms S3 accepts and
    clients sign: its value as the date line and not among the amz headers (AWS's older
    documentation), and the ``Date`` header's line kept beside it (botocore's HmacV1Auth).
    Each form signs the ``x-amz-date`` that the clock check uses.
    """
    amz_headers = canonical_amz_headers(headers)
    if amz_date is None:
        return [(http_date or "", amz_headers)]
    without = canonical_amz_headers((n, v) for n, v in headers if n.strip().lower() != "x-amz-date")
    forms = [("", amz_headers), (amz_date, without)]
    if http_date is not None:
        forms.append((http_date, amz_headers))
    return forms


def _single(request: HttpRequest, name: str) -> str | None:
    values = request.header_values(name)
    return ",".join(value.strip() for value in values) if values else None


def _standard_header(
    request: HttpRequest, name: str, query_pairs: Sequence[tuple[str, str]]
) -> str:
    """Content-MD5 / Content-Type as sent; a presigned URL's query parameter of that name when
    the header is absent (botocore moves signed ones there)."""
    value = _single(request, name)
    if value is not None:
        return value
    for key, item in query_pairs:
        if key.lower() == name:
            return item.strip()
    return ""


def _from_epoch(seconds: int) -> datetime:
    if seconds >= _LAST_EPOCH:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.fromtimestamp(seconds, tz=UTC)


def _parse_date(text: str | None) -> datetime | None:
    """An HTTP date (RFC 1123 and the forms ``email.utils`` reads) or an ISO 8601 basic
    ``YYYYMMDDTHHMMSSZ``, in UTC; None when it is neither."""
    if not text:
        return None
    if len(text) == 16 and text[8:9] == "T" and text.endswith("Z"):
        try:
            return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
