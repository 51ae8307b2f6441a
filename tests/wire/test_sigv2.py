"""SigV2 (S3 HmacSHA1) verification: AWS's documented examples, botocore's own HmacV1Auth and
HmacV1QueryAuth as the oracle (a property test over many requests), tampering, expiry, skew."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from unittest import mock
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from rolegate.wire import sigv2
from rolegate.wire.sigv2 import (
    SUB_RESOURCES,
    ClockSkewed,
    InvalidExpires,
    MalformedAuthorization,
    MissingDate,
    MissingQueryParameters,
    SignatureMismatch,
    UnknownAccessKey,
    canonical_amz_headers,
    canonical_resource,
    compute_signature,
    is_sigv2,
    parse_authorization_header,
    security_token,
    string_to_sign,
    verify,
)
from rolegate.wire.sigv4 import (
    ConflictingAuthentication,
    HttpRequest,
    MissingAuthenticationToken,
    PresignedUrlExpired,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEXAMPLE+token/with=chars"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
HTTP_NOW = formatdate(NOW.timestamp(), usegmt=True)
HOST = "s3.amazonaws.com"


def lookup_secret(access_key_id: str) -> str | None:
    return SECRET if access_key_id == ACCESS_KEY else None


class _HeaderSigner(HmacV1Auth):
    """botocore's header signer at a fixed Date, keeping the StringToSign it signed."""

    signed: str = ""

    def _get_date(self) -> str:
        return HTTP_NOW

    def sign_string(self, string_to_sign: str) -> str:
        self.signed = string_to_sign
        result: str = super().sign_string(string_to_sign)
        return result


class _QuerySigner(HmacV1QueryAuth):
    signed: str = ""

    def sign_string(self, string_to_sign: str) -> str:
        self.signed = string_to_sign
        result: str = super().sign_string(string_to_sign)
        return result


def _credentials(token: str | None) -> Credentials:
    return Credentials(ACCESS_KEY, SECRET, token)


def sign_header(aws_request: AWSRequest, token: str | None = None) -> tuple[HttpRequest, str]:
    """The request as the server receives it once botocore signed its headers."""
    signer = _HeaderSigner(_credentials(token))
    signer.add_auth(aws_request)
    split = urlsplit(aws_request.url)
    headers = [("Host", HOST), *((k, str(v)) for k, v in aws_request.headers.items())]
    return HttpRequest(aws_request.method, split.path, split.query, headers, b""), signer.signed


def presign(
    aws_request: AWSRequest,
    *,
    expires: int = 3600,
    token: str | None = None,
    send: Sequence[tuple[str, str]] = (),
) -> tuple[HttpRequest, str]:
    """A presigned URL made by botocore, fetched with only the headers in `send`."""
    signer = _QuerySigner(_credentials(token), expires=expires)
    with mock.patch("botocore.auth.time.time", return_value=NOW.timestamp()):
        signer.add_auth(aws_request)
    split = urlsplit(aws_request.url)
    headers = [("Host", HOST), *send]
    return HttpRequest(aws_request.method, split.path, split.query, headers), signer.signed


def get(
    url: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    auth_path: str | None = None,
) -> AWSRequest:
    aws_request = AWSRequest(method=method, url=f"https://{HOST}{url}", headers=headers or {})
    aws_request.auth_path = auth_path
    return aws_request


# ----------------------------------------------------------------------------- AWS's examples

DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("text", "signature"),
    [
        # The examples of S3's "Signing and authenticating REST requests" (Signature Version 2).
        (
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg",
            "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
        ),
        (
            "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n"
            "/awsexamplebucket1/photos/puppy.jpg",
            "iqRzw+ileNPu1fhspnRs8nOjjIA=",
        ),
        (
            "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/awsexamplebucket1/",
            "m0WP8eCtspQl5Ahe6L1SozdX9YA=",
        ),
        (
            "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/awsexamplebucket1/?acl",
            "82ZHiFIjc+WbcwFKGUVEQspPn+0=",
        ),
        (
            "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg",
            "R4dJ53KECjStyBO5iTBJZ4XVOaI=",
        ),
        (
            "DELETE\n\n\nTue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg",
            "lx3byBScXR6KzyMaifNkardMwNk=",
        ),
        (
            "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n"
            "Tue, 27 Mar 2007 21:06:08 +0000\nx-amz-acl:public-read\n"
            "x-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n"
            "x-amz-meta-reviewedby:joe@example.com,jane@example.com\n"
            "/static.example.com/db-backup.dat.gz",
            "jtBQa0Aq+DkULFI8qrpwIjGEx0E=",
        ),
    ],
)
def test_documented_signatures(text: str, signature: str) -> None:
    assert compute_signature(DOC_SECRET, text) == signature


def test_documented_upload_string_to_sign() -> None:
    headers = [
        ("x-amz-acl", "public-read"),
        ("X-Amz-Meta-ReviewedBy", "joe@example.com"),
        ("X-Amz-Meta-ReviewedBy", "jane@example.com"),
        ("X-Amz-Meta-FileChecksum", "0x02661779"),
        ("X-Amz-Meta-ChecksumAlgorithm", "crc32"),
        ("Content-Type", "application/x-download"),
    ]
    amz = canonical_amz_headers(headers)
    assert amz == (
        "x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\n"
        "x-amz-meta-filechecksum:0x02661779\n"
        "x-amz-meta-reviewedby:joe@example.com,jane@example.com\n"
    )
    text = string_to_sign(
        "put",
        "4gJE4saaMU4BqNR0kLY+lw==",
        "application/x-download",
        "Tue, 27 Mar 2007 21:06:08 +0000",
        amz,
        "/static.example.com/db-backup.dat.gz",
    )
    assert compute_signature(DOC_SECRET, text) == "jtBQa0Aq+DkULFI8qrpwIjGEx0E="


@pytest.mark.parametrize(
    ("amz_date_form", "signature"),
    [("empty", "R4dJ53KECjStyBO5iTBJZ4XVOaI="), ("value", "lx3byBScXR6KzyMaifNkardMwNk=")],
)
def test_x_amz_date_forms(amz_date_form: str, signature: str) -> None:
    """With x-amz-date, AWS's rule (empty date line) and its older documented form (the
    x-amz-date value as the date line) both verify; the clock check uses x-amz-date."""
    amz_date = "Tue, 27 Mar 2007 21:20:26 +0000"
    text = (
        f"DELETE\n\n\n\nx-amz-date:{amz_date}\n/johnsmith/photos/puppy.jpg"
        if amz_date_form == "empty"
        else f"DELETE\n\n\n{amz_date}\n/johnsmith/photos/puppy.jpg"
    )
    good = compute_signature(SECRET, text)
    assert compute_signature(DOC_SECRET, text) == signature
    request = HttpRequest(
        "DELETE",
        "/johnsmith/photos/puppy.jpg",
        headers=[
            ("Date", "Tue, 27 Mar 2007 21:20:27 +0000"),
            ("x-amz-date", amz_date),
            ("Authorization", f"AWS {ACCESS_KEY}:{good}"),
        ],
    )
    now = datetime(2007, 3, 27, 21, 25, tzinfo=UTC)
    assert verify(request, lookup_secret, now).string_to_sign == text
    with pytest.raises(ClockSkewed) as caught:
        verify(request, lookup_secret, now + timedelta(minutes=20))
    assert caught.value.date_text == amz_date


# ----------------------------------------------------------------------------- steps


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/b/k", "", "/b/k"),
        ("", "", "/"),
        ("/b", "uploads", "/b?uploads"),
        ("/b", "uploads=", "/b?uploads="),
        ("/b/k", "uploadId=abc%2Fdef&partNumber=3", "/b/k?partNumber=3&uploadId=abc/def"),
        ("/b", "prefix=a&delimiter=%2F&max-keys=2&list-type=2", "/b"),
        ("/b/k", "versionId=v%201&acl", "/b/k?acl&versionId=v 1"),
        (
            "/b/k%20x",
            "response-content-type=text%2Fplain&response-expires=x&AWSAccessKeyId=A",
            "/b/k%20x?response-content-type=text/plain&response-expires=x",
        ),
        ("/b/k", "tagging&torrent&website&Tagging", "/b/k?tagging&torrent&website"),
        ("/b", "delete&x-amz-security-token=t", "/b?delete"),
    ],
)
def test_canonical_resource(path: str, query: str, expected: str) -> None:
    assert canonical_resource(path, query) == expected


def test_every_documented_sub_resource_is_signed() -> None:
    documented = {
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification",
        "partNumber", "policy", "requestPayment", "restore", "tagging", "torrent", "uploadId",
        "uploads", "versionId", "versioning", "versions", "website", "response-cache-control",
        "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
    }  # fmt: skip
    assert documented <= SUB_RESOURCES
    assert set(HmacV1Auth.QSAOfInterest) == SUB_RESOURCES


def test_canonical_amz_headers() -> None:
    assert canonical_amz_headers([("Content-Type", "x"), ("Date", "d")]) == ""
    headers = [("X-Amz-Meta-B", " two "), ("x-amz-meta-a", "1"), ("x-amz-meta-b", "three")]
    assert canonical_amz_headers(headers) == "x-amz-meta-a:1\nx-amz-meta-b:two,three\n"
    query = [("x-amz-security-token", "tok"), ("prefix", "p"), ("AWSAccessKeyId", "A")]
    assert canonical_amz_headers([], query) == "x-amz-security-token:tok\n"


def test_parse_authorization_header() -> None:
    assert parse_authorization_header("AWS AKID:c2ln=") == ("AKID", "c2ln=")
    for bad in ("AWS AKID", "AWS :sig", "AWS AKID:", "AWS4 AKID:sig", "AWS"):
        with pytest.raises(MalformedAuthorization):
            parse_authorization_header(bad)


def test_is_sigv2() -> None:
    assert is_sigv2(HttpRequest("GET", "/", headers=[("Authorization", "AWS a:b")]))
    assert is_sigv2(HttpRequest("GET", "/b", "AWSAccessKeyId=a&Signature=b&Expires=1"))
    assert is_sigv2(HttpRequest("GET", "/b", "Signature=b"))
    assert not is_sigv2(HttpRequest("GET", "/b", "prefix=Signature"))
    assert not is_sigv2(HttpRequest("GET", "/b", "X-Amz-Signature=x"))
    v4 = "AWS4-HMAC-SHA256 Credential=a/20150830/us-east-1/s3/aws4_request, Signature=x"
    assert not is_sigv2(HttpRequest("GET", "/", headers=[("Authorization", v4)]))
    assert not is_sigv2(HttpRequest("GET", "/"))


def test_security_token_sources() -> None:
    query = "AWSAccessKeyId=a&Signature=b&Expires=1&x-amz-security-token=t%2Bq"
    assert security_token(HttpRequest("GET", "/b", query)) == "t+q"
    with_header = HttpRequest("GET", "/b", query, [("X-Amz-Security-Token", "h")])
    assert security_token(with_header) == "h"
    # Header auth only takes the header: a query token would not be signed.
    header_auth = HttpRequest("GET", "/b", "x-amz-security-token=t", [("Authorization", "AWS a:b")])
    assert security_token(header_auth) is None
    assert security_token(HttpRequest("GET", "/b")) is None


# ----------------------------------------------------------------------------- botocore oracle


def test_botocore_header_auth_verifies() -> None:
    aws_request = get(
        "/bucket/photos/a%20b%2Bc.jpg?versionId=3&response-content-type=text%2Fplain",
        {"x-amz-meta-who": "me", "Content-Type": "image/jpeg", "Content-MD5": "bWQ1"},
    )
    request, botocore_string = sign_header(aws_request, token=TOKEN)
    verified = verify(request, lookup_secret, NOW)
    assert verified.string_to_sign == botocore_string
    assert verified.access_key_id == ACCESS_KEY
    assert verified.security_token == TOKEN
    assert not verified.is_presigned
    assert verified.request_time == NOW
    assert verified.expires_at is None


def test_botocore_presigned_url_verifies() -> None:
    aws_request = get("/bucket/key%C3%A9?response-content-disposition=attachment%3B%20x")
    request, botocore_string = presign(aws_request, expires=600, token=TOKEN)
    verified = verify(request, lookup_secret, NOW + timedelta(seconds=600))
    assert verified.string_to_sign == botocore_string
    assert verified.is_presigned
    assert verified.security_token == TOKEN
    assert verified.expires_at == NOW + timedelta(seconds=600)
    assert verified.request_time is None
    with pytest.raises(PresignedUrlExpired) as caught:
        verify(request, lookup_secret, NOW + timedelta(seconds=601))
    assert caught.value.expires_at == NOW + timedelta(seconds=600)


@pytest.mark.parametrize("presigned", [False, True])
def test_bucket_requests_signed_with_the_virtual_hosted_path(presigned: bool) -> None:
    """botocore signs bucket operations with its model's authPath `/{Bucket}/` while it sends
    the path-style `/bucket`: S3 accepts both, so does rolegate."""
    aws_request = get("/bucket?uploads", method="GET", auth_path="/bucket/")
    if presigned:
        request, expected = presign(aws_request)
    else:
        request, expected = sign_header(aws_request)
    assert request.path == "/bucket"
    assert expected.endswith("\n/bucket/?uploads")
    assert verify(request, lookup_secret, NOW).string_to_sign == expected
    assert sigv2.canonical_resources("/bucket", "") == ["/bucket", "/bucket/"]
    assert sigv2.canonical_resources("/bucket/key", "") == ["/bucket/key"]
    assert sigv2.canonical_resources("/", "") == ["/"]


def test_presigned_put_with_content_type() -> None:
    """botocore moves a signed Content-Type into the query: the client may send it (it must
    then be the signed one) or leave it out."""
    aws_request = get("/bucket/k", {"Content-Type": "text/plain"}, method="PUT")
    signer = _QuerySigner(_credentials(None), expires=60)
    with mock.patch("botocore.auth.time.time", return_value=NOW.timestamp()):
        signer.add_auth(aws_request)
    split = urlsplit(aws_request.url)
    assert "content-type=text%2Fplain" in split.query
    for send in ([], [("Content-Type", "text/plain")]):
        request = HttpRequest("PUT", split.path, split.query, send)
        assert verify(request, lookup_secret, NOW).string_to_sign == signer.signed
    other = HttpRequest("PUT", split.path, split.query, [("Content-Type", "text/html")])
    with pytest.raises(SignatureMismatch):
        verify(other, lookup_secret, NOW)


path_segments = st.one_of(
    st.sampled_from(["", "a b", "%", "~x", "é☃", "a+b", "photos"]),
    st.text(st.characters(codec="utf-8"), max_size=8),
)
query_names = st.one_of(
    st.sampled_from(sorted(SUB_RESOURCES)),
    st.sampled_from(["prefix", "marker", "list-type", "max-keys", "Acl", "x-id", "uploads "]),
)
query_values = st.one_of(st.none(), st.text(st.characters(codec="utf-8"), max_size=10))
header_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24
).map(str.strip)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
    segments=st.lists(path_segments, max_size=4),
    query=st.lists(st.tuples(query_names, query_values), max_size=5),
    amz_headers=st.dictionaries(header_names, header_values, max_size=4),
    content_type=st.one_of(st.none(), header_values),
    content_md5=st.one_of(st.none(), st.sampled_from(["1B2M2Y8AsgTpgAmY7PhCfg==", "eA=="])),
    token=st.one_of(st.none(), st.just(TOKEN)),
    presigned=st.booleans(),
    bucket_auth_path=st.booleans(),
)
def test_property_botocore_signed_requests_verify(
    method: str,
    segments: list[str],
    query: list[tuple[str, str | None]],
    amz_headers: dict[str, str],
    content_type: str | None,
    content_md5: str | None,
    token: str | None,
    presigned: bool,
    bucket_auth_path: bool,
) -> None:
    path = "/" + "/".join(quote(segment, safe="~") for segment in segments)
    # A bucket operation: botocore signs `/bucket/` (its authPath) for the sent `/bucket`.
    auth_path = path + "/" if bucket_auth_path and len(segments) == 1 and segments[0] else None
    query_string = "&".join(
        name if value is None else f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in query
    )
    headers = {f"x-amz-meta-{name}": value for name, value in amz_headers.items()}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if content_md5 is not None:
        headers["Content-MD5"] = content_md5
    url = path + (f"?{query_string}" if query_string else "")
    aws_request = get(url, headers, method=method, auth_path=auth_path)
    if presigned:
        request, expected = presign(aws_request, expires=900, token=token)
    else:
        request, expected = sign_header(aws_request, token=token)
    verified = verify(request, lookup_secret, NOW)
    assert verified.string_to_sign == expected
    assert verified.is_presigned is presigned
    assert verified.security_token == token
    assert verified.signature == compute_signature(SECRET, expected)


# ----------------------------------------------------------------------------- failures


def _replace_header(request: HttpRequest, name: str, value: str) -> HttpRequest:
    kept = [(k, v) for k, v in request.headers if k.lower() != name.lower()]
    return HttpRequest(request.method, request.path, request.query, [*kept, (name, value)])


def test_tampered_header_auth_requests_fail() -> None:
    aws_request = get("/bucket/key?versionId=1&prefix=p", {"x-amz-meta-a": "1"}, method="PUT")
    request, text = sign_header(aws_request)
    verify(request, lookup_secret, NOW)
    tampered = [
        HttpRequest("GET", request.path, request.query, request.headers),
        HttpRequest(request.method, "/bucket/other", request.query, request.headers),
        HttpRequest(request.method, request.path, "versionId=2&prefix=p", request.headers),
        _replace_header(request, "x-amz-meta-a", "2"),
        _replace_header(request, "x-amz-acl", "public-read"),
        _replace_header(request, "Content-Type", "text/html"),
        _replace_header(request, "Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        _replace_header(request, "Date", formatdate(NOW.timestamp() + 1, usegmt=True)),
        _replace_header(request, "Authorization", f"AWS {ACCESS_KEY}:{'A' * 27}="),
    ]
    for changed in tampered:
        with pytest.raises(SignatureMismatch) as caught:
            verify(changed, lookup_secret, NOW)
        assert caught.value.access_key_id == ACCESS_KEY
        assert caught.value.signature_provided
    # A query parameter that is not a sub-resource is not signed (as in AWS).
    loose = HttpRequest(request.method, request.path, "versionId=1&prefix=q", request.headers)
    assert verify(loose, lookup_secret, NOW).string_to_sign == text


def test_signature_mismatch_carries_the_string_to_sign() -> None:
    request, text = sign_header(get("/bucket/key"))
    with pytest.raises(SignatureMismatch) as caught:
        verify(request, lambda key: "another secret", NOW)
    assert caught.value.string_to_sign == text
    assert caught.value.signature_provided == compute_signature(SECRET, text)
    assert sigv2.string_to_sign_bytes("GET\n") == "47 45 54 0a"


def test_tampered_presigned_urls_fail() -> None:
    request, _ = presign(get("/bucket/key?versionId=1"), expires=60, token=TOKEN)
    verify(request, lookup_secret, NOW)
    query = request.query
    variants = [
        HttpRequest("PUT", request.path, query),
        HttpRequest("GET", "/bucket/other", query),
        HttpRequest("GET", request.path, query.replace("versionId=1", "versionId=2")),
        HttpRequest("GET", request.path, query.replace("Expires=", "Expires=1")),
        HttpRequest("GET", request.path, query, [("x-amz-meta-extra", "1")]),
        HttpRequest("GET", request.path, query, [("Content-Type", "text/plain")]),
    ]
    for changed in variants:
        with pytest.raises(SignatureMismatch):
            verify(changed, lookup_secret, NOW)


def test_presigned_token_is_signed() -> None:
    request, _ = presign(get("/bucket/key"), token=TOKEN)
    swapped = request.query.replace(quote(TOKEN, safe=""), "other-token")
    assert swapped != request.query
    with pytest.raises(SignatureMismatch):
        verify(HttpRequest("GET", request.path, swapped), lookup_secret, NOW)


@pytest.mark.parametrize("minutes", [-16, 16, 60 * 24])
def test_header_date_outside_fifteen_minutes_is_skewed(minutes: int) -> None:
    request, _ = sign_header(get("/bucket/key"))
    later = NOW + timedelta(minutes=minutes)
    with pytest.raises(ClockSkewed) as caught:
        verify(request, lookup_secret, later)
    assert caught.value.date_text == HTTP_NOW
    assert caught.value.max_skew == timedelta(minutes=15)
    assert caught.value.server_time == later


@pytest.mark.parametrize("minutes", [-14, 0, 14])
def test_header_date_within_fifteen_minutes(minutes: int) -> None:
    request, _ = sign_header(get("/bucket/key"))
    verify(request, lookup_secret, NOW + timedelta(minutes=minutes))


def test_missing_or_bad_date() -> None:
    request, _ = sign_header(get("/bucket/key"))
    undated = HttpRequest(
        "GET", request.path, headers=[(k, v) for k, v in request.headers if k != "Date"]
    )
    for broken in (undated, _replace_header(request, "Date", "yesterday")):
        with pytest.raises(MissingDate):
            verify(broken, lookup_secret, NOW)


def test_unknown_key_and_missing_token() -> None:
    request, _ = sign_header(get("/bucket/key"))
    with pytest.raises(UnknownAccessKey) as caught:
        verify(request, lambda key: None, NOW)
    assert caught.value.access_key_id == ACCESS_KEY
    assert not caught.value.token_sent
    with_token, _ = sign_header(get("/bucket/key"), token=TOKEN)
    with pytest.raises(UnknownAccessKey) as caught:
        verify(with_token, lambda key: None, NOW)
    assert caught.value.token_sent


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("AWSAccessKeyId=AKIDEXAMPLE&Signature=x", MissingQueryParameters),
        ("AWSAccessKeyId=AKIDEXAMPLE&Expires=10", MissingQueryParameters),
        ("Signature=x&Expires=10", MissingQueryParameters),
        ("AWSAccessKeyId=A&AWSAccessKeyId=B&Signature=x&Expires=1", MissingQueryParameters),
        ("AWSAccessKeyId=AKIDEXAMPLE&Signature=x&Expires=soon", InvalidExpires),
        ("AWSAccessKeyId=AKIDEXAMPLE&Signature=x&Expires=-5", InvalidExpires),
    ],
)
def test_malformed_presigned_queries(query: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(HttpRequest("GET", "/b/k", query), lookup_secret, NOW)


def test_far_future_expires_is_accepted() -> None:
    """SigV2 URLs have no maximum lifetime (unlike SigV4's week)."""
    expires = "999999999999"
    text = f"GET\n\n\n{expires}\n/b/k"
    signature = quote(compute_signature(SECRET, text), safe="")
    query = f"AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={signature}"
    verified = verify(HttpRequest("GET", "/b/k", query), lookup_secret, NOW)
    assert verified.expires_at is not None and verified.expires_at.year == 9999


def test_conflicting_or_missing_authentication() -> None:
    header = ("Authorization", "AWS AKIDEXAMPLE:x")
    for query in ("AWSAccessKeyId=A&Signature=x&Expires=1", "X-Amz-Signature=x"):
        with pytest.raises(ConflictingAuthentication):
            verify(HttpRequest("GET", "/b", query, [header]), lookup_secret, NOW)
    with pytest.raises(MissingAuthenticationToken):
        verify(HttpRequest("GET", "/b"), lookup_secret, NOW)
    twice = [header, header, ("Date", HTTP_NOW)]
    with pytest.raises(MalformedAuthorization):
        verify(HttpRequest("GET", "/b", "", twice), lookup_secret, NOW)


def test_naive_now_is_refused() -> None:
    request, _ = sign_header(get("/bucket/key"))
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(request, lookup_secret, NOW.replace(tzinfo=None))
