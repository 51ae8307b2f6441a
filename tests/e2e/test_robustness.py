"""No request, however malformed, gets a 500 or a traceback: always an AWS-shaped error."""

from __future__ import annotations

import urllib.parse

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolegate.iam.accounts import NewAccount

from .server import RunningServer

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def _signed(
    server: RunningServer,
    account: NewAccount,
    body: bytes,
    *,
    service: str = "iam",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = AWSRequest(method="POST", url=server.url + "/", data=body, headers=headers or FORM)
    credentials = Credentials(account.access_key_id, account.secret_access_key)
    SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return httpx.post(server.url + "/", content=body, headers=dict(prepared.headers), timeout=30)


def _assert_aws_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<ErrorResponse" in response.text
    assert "Traceback" not in response.text
    if code is not None:
        assert f"<Code>{code}</Code>" in response.text, response.text


def test_unsigned_request_is_refused(server: RunningServer) -> None:
    response = httpx.post(
        server.url + "/", content=b"Action=ListUsers&Version=2010-05-08", headers=FORM
    )
    _assert_aws_error(response, 403, "MissingAuthenticationToken")


def test_missing_action(server: RunningServer, account: NewAccount) -> None:
    _assert_aws_error(_signed(server, account, b"Version=2010-05-08"), 400, "MissingAction")


def test_unknown_version_and_action(server: RunningServer, account: NewAccount) -> None:
    body = b"Action=ListUsers&Version=2099-01-01"
    _assert_aws_error(_signed(server, account, body), 400, "InvalidAction")
    body = b"Action=MakeCoffee&Version=2010-05-08"
    _assert_aws_error(_signed(server, account, body), 400, "InvalidAction")


def test_invalid_utf8_and_bad_encoding(server: RunningServer, account: NewAccount) -> None:
    body = b"Action=GetUser&Version=2010-05-08&UserName=%ff%fe\xff"
    response = _signed(server, account, body)
    assert response.status_code in (400, 404)
    _assert_aws_error(response, response.status_code)
    response = _signed(server, account, b"Action=ListUsers&Version=2010-05-08&MaxItems=abc%")
    _assert_aws_error(response, 400)


def test_huge_body_is_refused(server: RunningServer, account: NewAccount) -> None:
    body = b"Action=ListUsers&Version=2010-05-08&Junk=" + b"x" * (2 * 1024 * 1024)
    _assert_aws_error(_signed(server, account, body), 413, "RequestEntityTooLarge")


def test_unknown_service_in_scope(server: RunningServer, account: NewAccount) -> None:
    body = b"Action=ListUsers&Version=2010-05-08"
    _assert_aws_error(_signed(server, account, body, service="sqs"), 400)


def test_garbage_authorization_header(server: RunningServer) -> None:
    headers = {**FORM, "Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Date": "nonsense"}
    response = httpx.post(server.url + "/", content=b"Action=ListUsers", headers=headers)
    assert response.status_code in (400, 403)
    _assert_aws_error(response, response.status_code)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Action",
                    "Version",
                    "UserName",
                    "MaxItems",
                    "Marker",
                    "Tags.member.1.Key",
                    "Path",
                    "PolicyDocument",
                    "Tags.member.x.Value",
                    "Foo.Bar.1",
                ]
            )
            | st.text(max_size=12),
            st.text(max_size=40) | st.sampled_from(["ListUsers", "2010-05-08", "GetUser", "-1"]),
        ),
        max_size=6,
    ),
    raw=st.binary(max_size=64),
)
def test_fuzzed_signed_bodies_never_fail_the_server(
    server: RunningServer, account: NewAccount, pairs: list[tuple[str, str]], raw: bytes
) -> None:
    for body in (urllib.parse.urlencode(pairs).encode(), raw):
        response = _signed(server, account, body)
        assert response.status_code < 500, response.text
        assert "Traceback" not in response.text
        assert response.headers["content-type"].startswith("text/xml")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"])
def test_unsigned_rest_requests_get_s3_errors(server: RunningServer, method: str) -> None:
    response = httpx.request(method, server.url + "/some-bucket/some/key?x=1")
    assert 400 <= response.status_code < 500
    if method != "HEAD":
        assert "<Error>" in response.text and "<Code>" in response.text
        assert "Traceback" not in response.text
