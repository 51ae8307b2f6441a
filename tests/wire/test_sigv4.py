"""SigV4 verification: AWS's test suite, real botocore signatures, and a property test."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from rolegate.wire.sigv4 import (
    ConflictingAuthentication,
    ContentSHA256Mismatch,
    CredentialScope,
    HttpRequest,
    IncompleteSignature,
    InvalidClientTokenId,
    MalformedPresignedQuery,
    MissingAuthenticationToken,
    PresignedUrlExpired,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
    SigV4Error,
    VerifiedRequest,
    canonical_headers,
    canonical_query_string,
    canonical_request,
    canonical_uri,
    compute_signature,
    derive_signing_key,
    format_authorization_header,
    parse_authorization_header,
    parse_presigned_query,
    payload_hash,
    string_to_sign,
    verify,
)

VECTOR_ROOT = Path(__file__).resolve().parents[1] / "vectors" / "sigv4"
VECTOR_ACCESS_KEY = "AKIDEXAMPLE"
VECTOR_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
VECTOR_AMZ_DATE = "20150830T123600Z"
VECTOR_NOW = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)
VECTOR_SERVICE = "service"

# Vectors whose .req lacks a header that their .creq/.authz sign. The header is taken from the
# .sreq so the .req reproduces the .creq.
REQ_OMITS_SIGNED_HEADER = {
    "get-vanilla-with-session-token": (
        "the .req has no X-Amz-Security-Token header although .creq and .authz sign "
        "x-amz-security-token"
    ),
}
# Vectors whose .sreq carries a signature that is not the one the suite computes in .authz.
SREQ_SIGNATURE_IS_WRONG = {
    "get-vanilla-with-session-token": (
        "the .sreq Signature (5fa00fa3...) is get-vanilla's signature, not this vector's "
        ".authz signature (07ec1639...); a correct verifier must reject that .sreq, and it "
        "accepts the same request carrying the .authz signature"
    ),
}


def lookup_vector_secret(access_key_id: str) -> str | None:
    return VECTOR_SECRET if access_key_id == VECTOR_ACCESS_KEY else None


# --------------------------------------------------------------------------------------------
# Test-suite files


def parse_raw_request(data: bytes) -> HttpRequest:
    """Parse a suite .req/.sreq file (LF line endings, obs-fold continuation lines)."""
    text = data.decode("utf-8")
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, _, rest = lines[0].partition(" ")
    # The target may itself contain a space (normalize-path/get-space): split off the version.
    target, _, _version = rest.rpartition(" ")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
        elif line:
            name, _, value = line.partition(":")
            headers.append((name, value))
    path, _, query = target.partition("?")
    return HttpRequest(method, path, query, headers, body.encode("utf-8"))


@dataclass(frozen=True)
class Vector:
    name: str
    directory: Path

    def read(self, suffix: str) -> str:
        return (self.directory / f"{self.directory.name}{suffix}").read_text("utf-8")

    def request(self, suffix: str) -> HttpRequest:
        return parse_raw_request((self.directory / f"{self.directory.name}{suffix}").read_bytes())


def discover_vectors() -> list[Vector]:
    return [
        Vector(str(req.parent.relative_to(VECTOR_ROOT)), req.parent)
        for req in sorted(VECTOR_ROOT.rglob("*.req"))
    ]


VECTORS = discover_vectors()


def vector_req(vector: Vector) -> HttpRequest:
    request = vector.request(".req")
    if vector.directory.name in REQ_OMITS_SIGNED_HEADER:
        present = {name.lower() for name, _ in request.headers}
        missing = [
            (name, value)
            for name, value in vector.request(".sreq").headers
            if name.lower() not in present and name.lower() != "authorization"
        ]
        request = replace(request, headers=(*request.headers, *missing))
    return request


def vector_signed_request(vector: Vector) -> HttpRequest:
    if vector.directory.name in SREQ_SIGNATURE_IS_WRONG:
        return replace(
            vector_req(vector),
            headers=(*vector_req(vector).headers, ("Authorization", vector.read(".authz"))),
        )
    return vector.request(".sreq")


def test_vector_suite_is_present() -> None:
    names = {vector.name for vector in VECTORS}
    assert len(VECTORS) >= 34, names
    assert "normalize-path/get-space" in names
    assert "post-sts-token/post-sts-header-before" in names


def test_quirk_tables_name_real_vectors() -> None:
    names = {vector.directory.name for vector in VECTORS}
    assert set(REQ_OMITS_SIGNED_HEADER) <= names
    assert set(SREQ_SIGNATURE_IS_WRONG) <= names


@pytest.mark.parametrize("vector", VECTORS, ids=lambda vector: vector.name)
def test_vector_canonical_request_string_to_sign_and_authorization(vector: Vector) -> None:
    request = vector_req(vector)
    authz = parse_authorization_header(vector.read(".authz"))
    assert authz.signed_headers == tuple(sorted({name.lower() for name, _ in request.headers}))

    creq = canonical_request(
        request.method,
        canonical_uri(request.path, VECTOR_SERVICE),
        canonical_query_string(request.query),
        canonical_headers(request.headers, authz.signed_headers),
        authz.signed_headers,
        payload_hash(request, presigned=False, service=VECTOR_SERVICE),
    )
    assert creq == vector.read(".creq")

    scope = CredentialScope("20150830", "us-east-1", VECTOR_SERVICE)
    sts = string_to_sign(VECTOR_AMZ_DATE, scope, creq)
    assert sts == vector.read(".sts")

    signing_key = derive_signing_key(VECTOR_SECRET, "20150830", "us-east-1", VECTOR_SERVICE)
    signature = compute_signature(signing_key, sts)
    header = format_authorization_header(VECTOR_ACCESS_KEY, scope, authz.signed_headers, signature)
    assert header == vector.read(".authz")


@pytest.mark.parametrize("vector", VECTORS, ids=lambda vector: vector.name)
def test_vector_signed_request_is_accepted(vector: Vector) -> None:
    verified = verify(vector_signed_request(vector), lookup_vector_secret, VECTOR_NOW)
    assert verified.access_key_id == VECTOR_ACCESS_KEY
    assert verified.region == "us-east-1"
    assert verified.service == VECTOR_SERVICE
    assert verified.request_time == VECTOR_NOW
    assert not verified.is_presigned
    assert verified.expires_at is None


def test_vector_with_wrong_sreq_signature_is_rejected_as_shipped() -> None:
    for vector in VECTORS:
        if vector.directory.name in SREQ_SIGNATURE_IS_WRONG:
            with pytest.raises(SignatureDoesNotMatch):
                verify(vector.request(".sreq"), lookup_vector_secret, VECTOR_NOW)


def _with_authorization_signature(request: HttpRequest, signature: str) -> HttpRequest:
    headers = []
    for name, value in request.headers:
        if name.lower() == "authorization":
            value = re.sub(r"Signature=[0-9a-f]+", f"Signature={signature}", value)
        headers.append((name, value))
    return replace(request, headers=tuple(headers))


@pytest.mark.parametrize("vector", VECTORS, ids=lambda vector: vector.name)
def test_vector_rejects_every_single_character_signature_flip(vector: Vector) -> None:
    request = vector_signed_request(vector)
    signature = parse_authorization_header(request.header_values("authorization")[0]).signature
    for index, char in enumerate(signature):
        flipped_char = "0" if char != "0" else "1"
        flipped = signature[:index] + flipped_char + signature[index + 1 :]
        with pytest.raises(SignatureDoesNotMatch):
            tampered = _with_authorization_signature(request, flipped)
            verify(tampered, lookup_vector_secret, VECTOR_NOW)


def _mutate_one_character(value: str) -> str:
    """Change the last digit (else the last ASCII letter) so dates stay well-formed."""
    for index in range(len(value) - 1, -1, -1):
        if value[index].isdigit():
            return value[:index] + str((int(value[index]) + 1) % 10) + value[index + 1 :]
    for index in range(len(value) - 1, -1, -1):
        char = value[index]
        if char.isascii() and char.isalpha():
            replacement = "a" if char.lower() == "z" else chr(ord(char) + 1)
            return value[:index] + replacement + value[index + 1 :]
    raise AssertionError(f"nothing to mutate in {value!r}")


@pytest.mark.parametrize("vector", VECTORS, ids=lambda vector: vector.name)
def test_vector_rejects_a_changed_signed_header(vector: Vector) -> None:
    request = vector_signed_request(vector)
    authz = parse_authorization_header(request.header_values("authorization")[0])
    for signed_name in authz.signed_headers:
        headers = list(request.headers)
        position = next(
            index for index, (name, _) in enumerate(headers) if name.lower() == signed_name
        )
        name, value = headers[position]
        headers[position] = (name, _mutate_one_character(value))
        # A changed x-amz-date stays a valid date in the same scope and within the skew window.
        with pytest.raises(SignatureDoesNotMatch):
            verify(replace(request, headers=tuple(headers)), lookup_vector_secret, VECTOR_NOW)


def test_vector_unsigned_security_token_is_reported_but_not_signed() -> None:
    vector = next(v for v in VECTORS if v.name == "post-sts-token/post-sts-header-after")
    verified = verify(vector.request(".sreq"), lookup_vector_secret, VECTOR_NOW)
    assert verified.security_token is not None
    assert verified.security_token.startswith("AQoDYXdzEPT//")
    assert "x-amz-security-token" not in verified.signed_headers


def test_derive_signing_key_matches_aws_documentation_example() -> None:
    key = derive_signing_key(VECTOR_SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    assert derive_signing_key(VECTOR_SECRET, "20120215", "us-east-1", "iam") == key


# --------------------------------------------------------------------------------------------
# Step functions and error paths


def test_canonical_uri_normalizes_and_double_encodes_except_for_s3() -> None:
    assert canonical_uri("/a/./b/../c//d/", "iam") == "/a/c/d/"
    assert canonical_uri("/my%20key", "sts") == "/my%2520key"
    assert canonical_uri("", "iam") == "/"
    assert canonical_uri("/bucket/a//b/../c%20d", "s3") == "/bucket/a//b/../c%20d"
    assert canonical_uri("", "s3") == "/"


def test_canonical_query_string_decodes_reencodes_sorts_and_excludes() -> None:
    query = "b=2&a=%7e&a=1&c&X-Amz-Signature=ff&sp=a%20b+c"
    assert canonical_query_string(query, exclude={"X-Amz-Signature"}) == (
        "a=1&a=~&b=2&c=&sp=a%20b%2Bc"
    )


def test_canonical_headers_trims_folds_and_joins_duplicates() -> None:
    headers = [("X-A", "  one   two "), ("Host", "h"), ("x-a", "three\n   four")]
    assert canonical_headers(headers, ("host", "x-a")) == "host:h\nx-a:one two,three four\n"


def _vector_request(**header_overrides: str) -> HttpRequest:
    base = next(v for v in VECTORS if v.name == "get-vanilla").request(".sreq")
    headers = [(n, v) for n, v in base.headers if n.lower() not in header_overrides]
    headers += [(n, v) for n, v in header_overrides.items() if v]
    return replace(base, headers=tuple(headers))


def test_missing_authentication() -> None:
    with pytest.raises(MissingAuthenticationToken) as caught:
        verify(HttpRequest("GET", "/", "", [("Host", "h")]), lookup_vector_secret, VECTOR_NOW)
    assert (caught.value.code, caught.value.http_status) == ("MissingAuthenticationToken", 403)
    assert caught.value.message == "Request is missing Authentication Token"


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=00",
        "AWS AKIDEXAMPLE:c2lnbmF0dXJl",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;;x-amz-date, Signature=00",
    ],
)
def test_malformed_authorization_header_is_incomplete_signature(authorization: str) -> None:
    with pytest.raises(IncompleteSignature) as caught:
        verify(_vector_request(authorization=authorization), lookup_vector_secret, VECTOR_NOW)
    assert (caught.value.code, caught.value.http_status) == ("IncompleteSignature", 400)


def test_missing_date_is_incomplete_signature() -> None:
    with pytest.raises(IncompleteSignature, match="'X-Amz-Date' or a 'Date' header"):
        verify(_vector_request(**{"x-amz-date": ""}), lookup_vector_secret, VECTOR_NOW)


def test_unknown_access_key() -> None:
    with pytest.raises(InvalidClientTokenId) as caught:
        verify(_vector_request(), lambda _key: None, VECTOR_NOW)
    assert caught.value.http_status == 403
    assert caught.value.message == "The security token included in the request is invalid."


def test_wrong_signature_error_matches_aws() -> None:
    with pytest.raises(SignatureDoesNotMatch) as caught:
        verify(_vector_request(), lambda _key: "wrong-secret", VECTOR_NOW)
    assert (caught.value.code, caught.value.http_status) == ("SignatureDoesNotMatch", 403)
    assert caught.value.message == (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )


def test_scope_date_must_match_request_date() -> None:
    authorization = _vector_request().header_values("authorization")[0]
    request = _vector_request(authorization=authorization.replace("/20150830/", "/20150831/"))
    with pytest.raises(SignatureDoesNotMatch, match="Date in Credential scope does not match"):
        verify(request, lookup_vector_secret, VECTOR_NOW)


def test_host_must_be_signed() -> None:
    request = _vector_request(
        authorization=(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=x-amz-date, Signature=" + "0" * 64
        )
    )
    with pytest.raises(IncompleteSignature, match="'Host' or ':authority' must be a"):
        verify(request, lookup_vector_secret, VECTOR_NOW)


def test_skew_past_message_matches_aws_format() -> None:
    now = VECTOR_NOW + timedelta(minutes=6)
    with pytest.raises(RequestTimeTooSkewed) as caught:
        verify(_vector_request(), lookup_vector_secret, now)
    error = caught.value
    assert (error.code, error.http_status) == ("SignatureDoesNotMatch", 403)
    assert error.message == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
        "(20150830T124200Z - 5 min.)"
    )
    assert error.request_time == VECTOR_NOW
    assert error.server_time == now
    assert error.max_skew == timedelta(minutes=5)


def test_skew_future_and_boundaries() -> None:
    with pytest.raises(RequestTimeTooSkewed, match=r"^Signature not yet current: 20150830T123600Z"):
        verify(_vector_request(), lookup_vector_secret, VECTOR_NOW - timedelta(minutes=6))
    for offset in (timedelta(minutes=5), timedelta(minutes=-5)):
        verify(_vector_request(), lookup_vector_secret, VECTOR_NOW + offset)
    with pytest.raises(RequestTimeTooSkewed, match=r"\(20150830T125101Z - 15 min\.\)$"):
        verify(
            _vector_request(),
            lookup_vector_secret,
            VECTOR_NOW + timedelta(minutes=15, seconds=1),
            max_skew=timedelta(minutes=15),
        )


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(_vector_request(), lookup_vector_secret, VECTOR_NOW.replace(tzinfo=None))


def test_header_and_query_authentication_together_conflict() -> None:
    request = replace(_vector_request(), query="X-Amz-Algorithm=AWS4-HMAC-SHA256")
    with pytest.raises(ConflictingAuthentication):
        verify(request, lookup_vector_secret, VECTOR_NOW)


def test_duplicate_authorization_headers_are_rejected() -> None:
    request = _vector_request()
    doubled = replace(request, headers=(*request.headers, request.headers[-1]))
    with pytest.raises(IncompleteSignature, match="Multiple"):
        verify(doubled, lookup_vector_secret, VECTOR_NOW)


PRESIGNED_BASE = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request"
    "&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "0" * 64
)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (PRESIGNED_BASE, "requires the X-Amz-Algorithm"),
        (PRESIGNED_BASE + "&X-Amz-Expires=604801", "must be less than a week"),
        (PRESIGNED_BASE + "&X-Amz-Expires=-1", "should be a number"),
        (
            PRESIGNED_BASE.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
            + "&X-Amz-Expires=1",
            "only supports",
        ),
        (
            PRESIGNED_BASE.replace("20150830T123600Z", "2015-08-30") + "&X-Amz-Expires=1",
            "ISO8601 Long Format",
        ),
        (PRESIGNED_BASE + "&X-Amz-Expires=1&X-Amz-Expires=2", "Duplicate"),
    ],
)
def test_malformed_presigned_query(query: str, message: str) -> None:
    with pytest.raises(MalformedPresignedQuery, match=message):
        parse_presigned_query(query)
    request = HttpRequest("GET", "/", query, [("Host", "example.amazonaws.com")])
    with pytest.raises(MalformedPresignedQuery):
        verify(request, lookup_vector_secret, VECTOR_NOW)


def test_presigned_query_accepts_a_week() -> None:
    parsed = parse_presigned_query(PRESIGNED_BASE + "&X-Amz-Expires=604800")
    assert parsed.expires_seconds == 604800
    assert parsed.scope == CredentialScope("20150830", "us-east-1", "service")


def test_error_hierarchy() -> None:
    assert issubclass(RequestTimeTooSkewed, SignatureDoesNotMatch)
    assert issubclass(MalformedPresignedQuery, IncompleteSignature)
    assert PresignedUrlExpired.code == "AccessDenied"
    assert PresignedUrlExpired.default_message == "Request has expired"
    for error in (IncompleteSignature, InvalidClientTokenId, ContentSHA256Mismatch):
        assert issubclass(error, SigV4Error)


# --------------------------------------------------------------------------------------------
# Requests signed by botocore

SIGNING_TIME = datetime(2024, 5, 17, 9, 30, 15, tzinfo=UTC)
ACCESS_KEY = "AKIAROLEGATEEXAMPLE1"
SECRET = "rolegate/secret+key/EXAMPLE0123456789abcd"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE//token+with/odd=chars=="


def lookup_secret(access_key_id: str) -> str | None:
    return SECRET if access_key_id == ACCESS_KEY else None


@contextmanager
def frozen_botocore_clock() -> Iterator[None]:
    naive = SIGNING_TIME.replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", lambda *args, **kwargs: naive):
        yield


def to_http_request(aws_request: AWSRequest) -> HttpRequest:
    prepared = aws_request.prepare()
    parts = urlsplit(prepared.url)
    headers = [(name, value) for name, value in prepared.headers.items()]
    if not any(name.lower() == "host" for name, _ in headers):
        # The HTTP client adds Host from the URL; botocore signs that same value.
        headers.append(("Host", parts.netloc))
    body = prepared.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    return HttpRequest(prepared.method, parts.path, parts.query, headers, body or b"")


def sign_with_header(
    aws_request: AWSRequest, service: str, *, token: str | None = None
) -> HttpRequest:
    credentials = Credentials(ACCESS_KEY, SECRET, token)
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    with frozen_botocore_clock():
        signer_class(credentials, service, "us-east-1").add_auth(aws_request)
    return to_http_request(aws_request)


def presign(
    aws_request: AWSRequest, service: str, *, expires: int = 900, token: str | None = None
) -> HttpRequest:
    credentials = Credentials(ACCESS_KEY, SECRET, token)
    signer_class = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
    with frozen_botocore_clock():
        signer_class(credentials, service, "us-east-1", expires=expires).add_auth(aws_request)
    return to_http_request(aws_request)


def iam_form_post() -> AWSRequest:
    return AWSRequest(
        method="POST",
        url="https://iam.amazonaws.com/",
        data={"Action": "ListUsers", "Version": "2010-05-08", "PathPrefix": "/a b/ü+"},
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


def sts_query_get() -> AWSRequest:
    return AWSRequest(
        method="GET",
        url="https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
    )


S3_KEY = "photos/my holiday//ünïcødé ☃ 100%.jpg"


def s3_unsigned_payload_get() -> AWSRequest:
    request = AWSRequest(
        method="GET",
        url=f"https://bucket.s3.amazonaws.com/{quote(S3_KEY, safe='/~')}?versionId=a%2Bb",
    )
    request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    return request


def s3_signed_payload_put() -> AWSRequest:
    return AWSRequest(
        method="PUT",
        url=f"http://localhost:9000/bucket/{quote(S3_KEY, safe='/~')}",
        data=b"object body \x00\xff",
    )


HEADER_CASES = {
    "iam-form-post": (iam_form_post, "iam"),
    "sts-query-get": (sts_query_get, "sts"),
    "s3-unsigned-payload-get": (s3_unsigned_payload_get, "s3"),
    "s3-signed-payload-put": (s3_signed_payload_put, "s3"),
}


@pytest.mark.parametrize("token", [None, SESSION_TOKEN], ids=["long-term", "session"])
@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_botocore_header_signed_request(case: str, token: str | None) -> None:
    build, service = HEADER_CASES[case]
    request = sign_with_header(build(), service, token=token)

    verified = verify(request, lookup_secret, SIGNING_TIME + timedelta(seconds=30))
    assert verified == VerifiedRequest(
        access_key_id=ACCESS_KEY,
        region="us-east-1",
        service=service,
        signed_headers=verified.signed_headers,
        security_token=token,
        request_time=SIGNING_TIME.replace(microsecond=0),
        is_presigned=False,
        expires_at=None,
        signature=verified.signature,
        payload_hash=verified.payload_hash,
        payload_verified=case != "s3-unsigned-payload-get",
    )
    assert "host" in verified.signed_headers
    if case == "s3-unsigned-payload-get":
        assert verified.payload_hash == "UNSIGNED-PAYLOAD"

    with pytest.raises(SignatureDoesNotMatch):
        verify(request, lambda _key: SECRET + "x", SIGNING_TIME)
    with pytest.raises(RequestTimeTooSkewed, match=r"^Signature expired"):
        verify(request, lookup_secret, SIGNING_TIME + timedelta(minutes=6))
    with pytest.raises(InvalidClientTokenId):
        verify(request, lambda _key: None, SIGNING_TIME)


def test_botocore_signed_body_tampering_is_detected() -> None:
    request = sign_with_header(s3_signed_payload_put(), "s3")
    with pytest.raises(ContentSHA256Mismatch):
        verify(replace(request, body=b"other body"), lookup_secret, SIGNING_TIME)
    streamed = verify(replace(request, body=None), lookup_secret, SIGNING_TIME)
    assert not streamed.payload_verified
    assert streamed.payload_hash == hashlib.sha256(b"object body \x00\xff").hexdigest()

    form = sign_with_header(iam_form_post(), "iam")
    with pytest.raises(SignatureDoesNotMatch):
        verify(
            replace(form, body=b"Action=DeleteUser&Version=2010-05-08"), lookup_secret, SIGNING_TIME
        )


def sts_presign_request() -> AWSRequest:
    return AWSRequest(
        method="GET",
        url="https://sts.amazonaws.com/",
        params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
    )


def s3_presign_request() -> AWSRequest:
    return AWSRequest(method="GET", url=f"https://bucket.s3.amazonaws.com/{quote(S3_KEY)}")


PRESIGN_CASES = {
    "sts": (sts_presign_request, "sts"),
    "iam": (
        lambda: AWSRequest(
            method="GET", url="https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08"
        ),
        "iam",
    ),
    "s3": (s3_presign_request, "s3"),
}


@pytest.mark.parametrize("token", [None, SESSION_TOKEN], ids=["long-term", "session"])
@pytest.mark.parametrize("case", sorted(PRESIGN_CASES))
def test_botocore_presigned_request(case: str, token: str | None) -> None:
    build, service = PRESIGN_CASES[case]
    request = presign(build(), service, expires=3600, token=token)
    assert request.header_values("authorization") == []

    late = SIGNING_TIME + timedelta(minutes=59)
    verified = verify(request, lookup_secret, late)
    assert verified.is_presigned
    assert verified.service == service
    assert verified.security_token == token
    assert verified.expires_at == SIGNING_TIME + timedelta(hours=1)

    with pytest.raises(SignatureDoesNotMatch):
        verify(request, lambda _key: SECRET + "x", SIGNING_TIME)
    with pytest.raises(PresignedUrlExpired) as caught:
        verify(request, lookup_secret, SIGNING_TIME + timedelta(hours=1, seconds=1))
    assert (caught.value.code, caught.value.http_status) == ("AccessDenied", 403)
    assert caught.value.message == "Request has expired"
    with pytest.raises(RequestTimeTooSkewed, match="not yet current"):
        verify(request, lookup_secret, SIGNING_TIME - timedelta(minutes=6))

    tampered_query = request.query.replace("X-Amz-Expires=3600", "X-Amz-Expires=3601")
    assert tampered_query != request.query
    tampered = replace(request, query=tampered_query)
    with pytest.raises(SignatureDoesNotMatch):
        verify(tampered, lookup_secret, SIGNING_TIME)


# --------------------------------------------------------------------------------------------
# Property: whatever botocore signs, we accept

header_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30
).map(str.strip)
path_segments = st.one_of(
    st.sampled_from([".", "..", "", "a b", "%", "~x", "é☃"]),
    st.text(st.characters(codec="utf-8"), max_size=8),
)
query_text = st.text(st.characters(codec="utf-8"), max_size=10)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]),
    service=st.sampled_from(["iam", "sts", "s3"]),
    segments=st.lists(path_segments, max_size=4),
    query=st.lists(st.tuples(query_text.filter(bool), query_text), max_size=4),
    headers=st.dictionaries(header_names, header_values, max_size=4),
    body=st.binary(max_size=64),
    token=st.one_of(st.none(), st.just(SESSION_TOKEN)),
    presigned=st.booleans(),
)
def test_property_botocore_signed_requests_verify(
    method: str,
    service: str,
    segments: list[str],
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    token: str | None,
    presigned: bool,
) -> None:
    path = "/" + "/".join(quote(segment, safe="~") for segment in segments)
    query_string = "&".join(
        f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}" for key, value in query
    )
    url = f"https://example.amazonaws.com{path}" + (f"?{query_string}" if query_string else "")
    aws_request = AWSRequest(
        method=method,
        url=url,
        headers={f"x-rg-{name}": value for name, value in headers.items()},
        data=b"" if presigned else body,
    )
    if presigned:
        request = presign(aws_request, service, token=token)
    else:
        request = sign_with_header(aws_request, service, token=token)
    verified = verify(request, lookup_secret, SIGNING_TIME)
    assert verified.access_key_id == ACCESS_KEY
    assert verified.is_presigned is presigned
    assert verified.security_token == token
