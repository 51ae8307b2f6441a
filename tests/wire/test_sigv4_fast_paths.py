"""The fast paths of ``rolegate.wire.sigv4`` agree with the straightforward code they replace."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import quote, unquote_to_bytes, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import example, given
from hypothesis import strategies as st

from rolegate.wire import sigv4
from rolegate.wire.sigv4 import HttpRequest, IncompleteSignature, SigV4Error

# --------------------------------------------------------------------------------------------
# Dates


def strptime_reference(amz_date: str) -> datetime | None:
    """The parser ``_parse_amz_date`` replaced."""
    if not sigv4._AMZ_DATE_PATTERN.fullmatch(amz_date):
        return None
    try:
        return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def amz_date_fields() -> st.SearchStrategy[str]:
    """Well-shaped dates with every field straddling its valid range."""
    return st.builds(
        "{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}Z".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 62),
    )


@given(st.one_of(amz_date_fields(), st.from_regex(r"[0-9]{8}T[0-9]{6}Z", fullmatch=True)))
@example("20240229T235959Z")  # leap day
@example("20230229T000000Z")  # not a leap year
@example("20240430T000000Z")
@example("20240431T000000Z")
@example("20241231T235960Z")  # strptime reads a leap second, datetime refuses it
@example("20241231T235961Z")
@example("00000101T000000Z")
@example("99991231T235959Z")
def test_parse_amz_date_matches_strptime_on_well_shaped_input(amz_date: str) -> None:
    assert sigv4._parse_amz_date(amz_date) == strptime_reference(amz_date)
    assert sigv4._parse_amz_date(amz_date) == strptime_reference(amz_date)  # cached


@given(st.text(alphabet="0123456789TZtz \n+-:.٣", max_size=20) | st.text(max_size=20))
@example("20240517t093015z")
@example("20240517T093015Z\n")
@example(" 20240517T093015Z")
@example("2024051T093015Z")
@example("20240517T09301٣Z")  # a non-ASCII digit
@example("+2024517T093015Z")
def test_parse_amz_date_matches_strptime_on_any_text(amz_date: str) -> None:
    assert sigv4._parse_amz_date(amz_date) == strptime_reference(amz_date)


def test_parse_amz_date_is_utc_aware() -> None:
    parsed = sigv4._parse_amz_date("20240517T093015Z")
    assert parsed == datetime(2024, 5, 17, 9, 30, 15, tzinfo=UTC)
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "amz_date", ["20241301T000000Z", "20240230T000000Z", "20240517T240000Z", "2024-05-17T09:30Z"]
)
def test_malformed_amz_date_errors_are_unchanged(amz_date: str) -> None:
    request = HttpRequest(
        "GET",
        "/",
        headers=[
            ("Host", "example.com"),
            ("X-Amz-Date", amz_date),
            (
                "Authorization",
                f"AWS4-HMAC-SHA256 Credential=AKID/{amz_date[:8]}/us-east-1/iam/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=abc",
            ),
        ],
    )
    with pytest.raises(IncompleteSignature) as raised:
        sigv4.verify(request, lambda _: "secret", datetime(2024, 5, 17, tzinfo=UTC))
    assert type(raised.value) is IncompleteSignature
    assert raised.value.message == (
        f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


# --------------------------------------------------------------------------------------------
# Authorization header

_value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)


def outcome(value: str) -> object:
    try:
        return sigv4.parse_authorization_header(value)
    except SigV4Error as error:
        return (type(error), error.message)


@given(
    credential=st.one_of(
        _value,
        st.builds(
            "{}/{}/{}/{}/{}".format,
            st.sampled_from(["AKIAEXAMPLE", "ASIA0123", ""]),
            st.sampled_from(["20240517", "2024"]),
            st.sampled_from(["us-east-1", ""]),
            st.sampled_from(["s3", "iam", "sts"]),
            st.sampled_from(["aws4_request", "aws4"]),
        ),
    ),
    signed_headers=st.one_of(_value, st.sampled_from(["host;x-amz-date", "Host;;X-Amz-Date"])),
    signature=_value,
    separator=st.sampled_from([", ", ","]),
)
def test_sdk_shaped_authorization_parses_as_the_general_parser_does(
    credential: str, signed_headers: str, signature: str, separator: str
) -> None:
    value = (
        f"AWS4-HMAC-SHA256 Credential={credential}{separator}"
        f"SignedHeaders={signed_headers}{separator}Signature={signature}"
    )
    fast = outcome(value)
    with mock.patch.object(sigv4, "_SDK_AUTHORIZATION_PATTERN", re.compile(r"(?!)")):
        general = outcome(value)
    assert fast == general


def test_botocore_authorization_takes_the_fast_path() -> None:
    request = _signed_iam_request()
    (authorization,) = request.header_values("authorization")
    assert sigv4._SDK_AUTHORIZATION_PATTERN.fullmatch(authorization)


# --------------------------------------------------------------------------------------------
# Encoding and headers


@given(st.binary(max_size=40) | st.text(max_size=20).map(str.encode))
def test_uri_encode_matches_quote(raw: bytes) -> None:
    assert sigv4._uri_encode(raw) == quote(raw, safe="-_.~")


@given(st.text(max_size=30) | st.text(alphabet="%0123456789abcdefABCDEF+=&é", max_size=30))
@example("\ud800")
def test_percent_decode_matches_unquote(text: str) -> None:
    try:
        expected: object = unquote_to_bytes(text).decode("utf-8", "replace")
    except UnicodeEncodeError:
        expected = UnicodeEncodeError
    try:
        actual: object = sigv4._percent_decode(text)
    except UnicodeEncodeError:
        actual = UnicodeEncodeError
    assert actual == expected


@pytest.mark.parametrize("service", ["iam", "sts", "s3"])
def test_canonical_uri_of_root(service: str) -> None:
    assert sigv4.canonical_uri("/", service) == "/"
    assert sigv4.canonical_uri("", service) == "/"


def canonical_headers_reference(headers: list[tuple[str, str]], signed_headers: list[str]) -> str:
    values_by_name: dict[str, list[str]] = {}
    for name, item in headers:
        values_by_name.setdefault(name.strip().lower(), []).append(item)
    lines = []
    for name in signed_headers:
        joined = ",".join(" ".join(item.split()) for item in values_by_name.get(name, ()))
        lines.append(f"{name}:{joined}\n")
    return "".join(lines)


_header_name = st.sampled_from(["Host", "host ", "X-Amz-Date", "x-amz-date", "My-Header", "a"])


@given(
    headers=st.lists(st.tuples(_header_name, st.text(max_size=12)), max_size=8),
    signed_headers=st.lists(st.sampled_from(["host", "x-amz-date", "my-header", "b"])),
)
def test_canonical_headers_matches_reference(
    headers: list[tuple[str, str]], signed_headers: list[str]
) -> None:
    expected = canonical_headers_reference(headers, signed_headers)
    assert sigv4.canonical_headers(headers, signed_headers) == expected


# --------------------------------------------------------------------------------------------
# Signatures


@given(key=st.binary(min_size=1, max_size=40), message=st.text(max_size=100))
def test_compute_signature_matches_hmac(key: bytes, message: str) -> None:
    expected = hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()
    assert sigv4.compute_signature(key, message) == expected
    assert sigv4.compute_signature(key, message) == expected  # the cached HMAC is untouched


def test_compute_signature_from_many_threads() -> None:
    key = sigv4.derive_signing_key("secret", "20240517", "us-east-1", "s3")
    messages = [f"string to sign {n}" * n for n in range(50)]
    expected = [hmac.new(key, m.encode(), hashlib.sha256).hexdigest() for m in messages]
    failures: list[int] = []

    def work() -> None:
        for _ in range(20):
            for index, message in enumerate(messages):
                if sigv4.compute_signature(key, message) != expected[index]:
                    failures.append(index)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_signing_key_cache_does_not_show_the_secret() -> None:
    secret = "do-not-print-this-secret"
    sigv4.derive_signing_key(secret, "20240517", "us-east-1", "s3")
    cache = sigv4._derive_signing_key_cached
    assert secret not in repr(cache) and secret not in repr(cache.cache_info())
    assert cache.cache_info().maxsize == sigv4._SIGNING_KEY_CACHE_SIZE


# --------------------------------------------------------------------------------------------
# Payload hashed from the body

SIGNING_TIME = datetime(2024, 5, 17, 9, 30, 15, tzinfo=UTC)
ACCESS_KEY = "AKIAROLEGATEEXAMPLE1"
SECRET = "rolegate/secret+key/EXAMPLE0123456789abcd"
IAM_BODY = b"Action=ListUsers&Version=2010-05-08"


def _sign(aws_request: AWSRequest, signer: type[SigV4Auth], service: str) -> HttpRequest:
    naive = SIGNING_TIME.replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", lambda *args, **kwargs: naive):
        signer(Credentials(ACCESS_KEY, SECRET), service, "us-east-1").add_auth(aws_request)
    prepared = aws_request.prepare()
    parts = urlsplit(prepared.url)
    headers = [(name, value) for name, value in prepared.headers.items()]
    headers.append(("Host", parts.netloc))
    body = prepared.body
    if isinstance(body, str):
        body = body.encode()
    return HttpRequest(prepared.method, parts.path, parts.query, headers, body or b"")


def _signed_iam_request() -> HttpRequest:
    return _sign(
        AWSRequest(
            method="POST",
            url="https://iam.amazonaws.com/",
            data=IAM_BODY,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        ),
        SigV4Auth,
        "iam",
    )


def _verify(request: HttpRequest) -> sigv4.VerifiedRequest:
    return sigv4.verify(request, {ACCESS_KEY: SECRET}.get, SIGNING_TIME)


@pytest.mark.parametrize(
    ("body", "body_sha256", "verified"),
    [
        (IAM_BODY, None, True),
        (None, hashlib.sha256(IAM_BODY).hexdigest(), True),
        (None, hashlib.sha256(IAM_BODY).hexdigest().upper(), True),
        (b"ignored when a hash is given", hashlib.sha256(IAM_BODY).hexdigest(), True),
    ],
)
def test_payload_hashed_from_the_body_is_verified(
    body: bytes | None, body_sha256: str | None, verified: bool
) -> None:
    signed = _signed_iam_request()
    request = HttpRequest(
        signed.method, signed.path, signed.query, signed.headers, body, body_sha256
    )
    result = _verify(request)
    assert result.payload_hash == hashlib.sha256(IAM_BODY).hexdigest()
    assert result.payload_verified is verified
    # The same answer the separate body check gives.
    assert result.payload_verified is sigv4._check_payload(request, result.payload_hash)


def test_s3_request_with_content_sha256_header_is_still_checked() -> None:
    body = b"x" * 4096
    signed = _sign(
        AWSRequest(
            method="PUT",
            url="https://bucket.s3.amazonaws.com/key",
            data=body,
            headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()},
        ),
        S3SigV4Auth,
        "s3",
    )
    assert _verify(signed).payload_verified is True
    tampered = HttpRequest(signed.method, signed.path, signed.query, signed.headers, b"y" * 4096)
    with pytest.raises(sigv4.ContentSHA256Mismatch):
        _verify(tampered)
