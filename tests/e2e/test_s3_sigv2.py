"""S3 with Signature Version 2 against the real server: boto3's own v2 signer
(`Config(signature_version="s3")`) for header auth, its default presigned URLs used from
curl, temporary credentials, and S3's error shapes for tampered, expired and foreign ones."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount
from rolegate.wire import sigv2

from .conftest import ClientFactory
from .server import RunningServer
from .test_s3 import s3_client

REGION = "us-east-1"
CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def v2_client(server: RunningServer, key: str, secret: str, token: str | None = None) -> Any:
    """boto3 signing every request with botocore's HmacV1Auth (SigV2 header auth)."""
    return s3_client(server, key, secret, token, signature_version="s3")


def default_client(server: RunningServer, key: str, secret: str, token: str | None = None) -> Any:
    """boto3 with default settings in us-east-1: its presigned URLs are SigV2."""
    return s3_client(server, key, secret, token, signature_version=None)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def error_fields(content: bytes) -> dict[str, str]:
    root = ElementTree.fromstring(content)
    assert root.tag == "Error"
    return {child.tag: child.text or "" for child in root}


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "-sS", "--noproxy", "*", *args], capture_output=True, timeout=30, check=False
    )


def is_sigv2_url(url: str) -> bool:
    query = urlsplit(url).query
    return "AWSAccessKeyId=" in query and "Signature=" in query and "Expires=" in query


@pytest.fixture
def owner(account: NewAccount, server: RunningServer) -> Any:
    return v2_client(server, account.access_key_id, account.secret_access_key)


@pytest.fixture
def bucket(owner: Any) -> Iterator[str]:
    name = f"rg2-{uuid.uuid4().hex[:16]}"
    owner.create_bucket(Bucket=name)
    yield name


# ---------------------------------------------------------------------------- header auth


def test_header_auth_object_round_trip(owner: Any, bucket: str) -> None:
    key = "dir/a b+c é.txt"
    owner.put_object(
        Bucket=bucket, Key=key, Body=b"hello v2", ContentType="text/plain", Metadata={"m": "1"}
    )
    large = bytes(range(256)) * 800  # 200 KiB: streamed to a blob, not inline
    owner.put_object(Bucket=bucket, Key="large.bin", Body=large)
    got = owner.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == b"hello v2"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"m": "1"}
    assert owner.get_object(Bucket=bucket, Key="large.bin")["Body"].read() == large
    ranged = owner.get_object(Bucket=bucket, Key="large.bin", Range="bytes=0-3")
    assert ranged["Body"].read() == large[:4]
    overridden = owner.get_object(Bucket=bucket, Key=key, ResponseContentType="text/x-v2")
    assert overridden["ContentType"] == "text/x-v2"
    assert owner.head_object(Bucket=bucket, Key=key)["ContentLength"] == 8

    listed = owner.list_objects(Bucket=bucket, Prefix="dir/")
    assert [item["Key"] for item in listed["Contents"]] == [key]
    listed_v2 = owner.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in listed_v2["CommonPrefixes"]] == ["dir/"]
    assert owner.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    assert bucket in [b["Name"] for b in owner.list_buckets()["Buckets"]]

    # Multipart: uploads, uploadId and partNumber are signed sub-resources.
    upload = owner.create_multipart_upload(Bucket=bucket, Key="parts.bin")["UploadId"]
    part = owner.upload_part(
        Bucket=bucket, Key="parts.bin", UploadId=upload, PartNumber=1, Body=b"one part"
    )
    parts = owner.list_parts(Bucket=bucket, Key="parts.bin", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]
    owner.complete_multipart_upload(
        Bucket=bucket,
        Key="parts.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert owner.get_object(Bucket=bucket, Key="parts.bin")["Body"].read() == b"one part"

    owner.delete_object(Bucket=bucket, Key=key)
    deleted = owner.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "large.bin"}, {"Key": "parts.bin"}]}
    )
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["large.bin", "parts.bin"]
    assert owner.list_objects(Bucket=bucket).get("Contents") is None
    owner.delete_bucket(Bucket=bucket)


def test_content_md5_is_checked(owner: Any, bucket: str, server: RunningServer) -> None:
    body = b"checked body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    owner.put_object(Bucket=bucket, Key="k", Body=body, ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as caught:
        owner.put_object(Bucket=bucket, Key="k", Body=body, ContentMD5=wrong)
    assert error_of(caught) == ("BadDigest", 400)
    with pytest.raises(ClientError) as caught:
        owner.put_object(Bucket=bucket, Key="big", Body=body * 10000, ContentMD5=wrong)
    assert error_of(caught) == ("BadDigest", 400)
    assert owner.get_object(Bucket=bucket, Key="k")["Body"].read() == body


def test_authentication_errors(
    account: NewAccount, owner: Any, bucket: str, server: RunningServer
) -> None:
    wrong_secret = v2_client(server, account.access_key_id, "x" * 40)
    with pytest.raises(ClientError) as caught:
        wrong_secret.list_objects(Bucket=bucket)
    assert error_of(caught) == ("SignatureDoesNotMatch", 403)
    error = caught.value.response["Error"]
    assert error["StringToSign"].startswith("GET\n\n\n")
    assert error["StringToSign"].endswith(f"\n/{bucket}")
    assert error["AWSAccessKeyId"] == account.access_key_id
    assert error["SignatureProvided"]

    foreign = v2_client(server, "AKIAFOREIGNKEY000000", "x" * 40)
    with pytest.raises(ClientError) as caught:
        foreign.list_buckets()
    assert error_of(caught) == ("InvalidAccessKeyId", 403)
    assert caught.value.response["Error"]["AWSAccessKeyId"] == "AKIAFOREIGNKEY000000"

    # Header auth dated 20 minutes ago, signed by hand.
    date = formatdate(time.time() - 20 * 60, usegmt=True)
    text = f"GET\n\n\n{date}\n/{bucket}"
    signature = sigv2.compute_signature(account.secret_access_key, text)
    response = httpx.get(
        f"{server.url}/{bucket}",
        headers={"Date": date, "Authorization": f"AWS {account.access_key_id}:{signature}"},
    )
    assert response.status_code == 403
    fields = error_fields(response.content)
    assert fields["Code"] == "RequestTimeTooSkewed"
    assert fields["RequestTime"] == date
    assert fields["MaxAllowedSkewMilliseconds"] == "900000"

    # The same, dated now: accepted.
    date = formatdate(usegmt=True)
    signature = sigv2.compute_signature(account.secret_access_key, f"GET\n\n\n{date}\n/{bucket}")
    response = httpx.get(
        f"{server.url}/{bucket}",
        headers={"Date": date, "Authorization": f"AWS {account.access_key_id}:{signature}"},
    )
    assert response.status_code == 200, response.content

    undated = httpx.get(
        f"{server.url}/{bucket}", headers={"Authorization": f"AWS {account.access_key_id}:x"}
    )
    assert undated.status_code == 403
    assert error_fields(undated.content)["Code"] == "AccessDenied"
    malformed = httpx.get(f"{server.url}/{bucket}", headers={"Authorization": "AWS nocolon"})
    assert malformed.status_code == 400
    assert error_fields(malformed.content)["Code"] == "InvalidArgument"


def test_query_protocol_sigv2_stays_refused(account: NewAccount, server: RunningServer) -> None:
    """IAM/STS Signature Version 2 (SignatureVersion=2) is not S3's and stays refused."""
    params = (
        f"Action=ListUsers&Version=2010-05-08&AWSAccessKeyId={account.access_key_id}"
        "&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2024-01-01T00%3A00%3A00Z"
        "&Signature=abc%3D"
    )
    response = httpx.get(f"{server.url}/?{params}")
    assert response.status_code == 400
    assert b"Please use AWS4-HMAC-SHA256" in response.content
    posted = httpx.post(
        server.url,
        content=params,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 403
    assert b"MissingAuthenticationToken" in posted.content


# ---------------------------------------------------------------------------- presigned URLs


@needs_curl
def test_default_presigned_urls_from_curl(
    account: NewAccount, owner: Any, bucket: str, server: RunningServer, tmp_path: Path
) -> None:
    presigner = default_client(server, account.access_key_id, account.secret_access_key)
    put_url = presigner.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "via curl.txt"}, ExpiresIn=600
    )
    assert is_sigv2_url(put_url)
    source = tmp_path / "upload.txt"
    source.write_bytes(b"sent by curl")
    done = curl("-f", "-T", str(source), put_url)  # -T: a PUT without a Content-Type
    assert done.returncode == 0, done.stdout + done.stderr

    get_url = presigner.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": "via curl.txt",
            "ResponseContentDisposition": 'attachment; filename="x.txt"',
        },
        ExpiresIn=600,
    )
    assert is_sigv2_url(get_url)
    fetched = curl("-f", "-D", "-", get_url)
    assert fetched.returncode == 0, fetched.stderr
    head, _, body = fetched.stdout.partition(b"\r\n\r\n")
    assert body == b"sent by curl"
    assert b'content-disposition: attachment; filename="x.txt"' in head.lower()

    # A signed Content-Type travels in the URL; the upload must send that type.
    typed_url = presigner.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": "typed.json", "ContentType": "application/json"},
        ExpiresIn=600,
    )
    done = curl(
        "-f", "-X", "PUT", "-H", "Content-Type: application/json", "--data-binary", "{}", typed_url
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert owner.head_object(Bucket=bucket, Key="typed.json")["ContentType"] == "application/json"
    wrong_type = curl("-X", "PUT", "-H", "Content-Type: text/plain", "-d", "{}", typed_url)
    assert b"<Code>SignatureDoesNotMatch</Code>" in wrong_type.stdout

    tampered = get_url.replace("via%20curl.txt", "other.txt")
    response = httpx.get(tampered)
    assert response.status_code == 403
    fields = error_fields(response.content)
    assert fields["Code"] == "SignatureDoesNotMatch"
    assert fields["AWSAccessKeyId"] == account.access_key_id
    assert fields["StringToSign"].endswith(
        f'/{bucket}/other.txt?response-content-disposition=attachment; filename="x.txt"'
    )
    assert fields["SignatureProvided"]
    assert fields["StringToSignBytes"].startswith("47 45 54 0a")  # "GET\n"
    # A query parameter that is not a sub-resource is not signed (as in S3).
    assert httpx.get(get_url + "&unsigned-extra=1").status_code == 200


def test_presigned_get_through_httpx(owner: Any, bucket: str) -> None:
    """Not only curl: any HTTP client, no headers at all."""
    owner.put_object(Bucket=bucket, Key="k é", Body=b"value")
    url = owner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k é"}, ExpiresIn=60
    )
    assert is_sigv2_url(url)
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"value"


def test_expired_presigned_url(account: NewAccount, owner: Any, bucket: str) -> None:
    owner.put_object(Bucket=bucket, Key="k", Body=b"v")
    signed_at = time.time() - 120
    with mock.patch("botocore.auth.time.time", return_value=signed_at):
        url = owner.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60
        )
    assert is_sigv2_url(url)
    response = httpx.get(url)
    assert response.status_code == 403
    fields = error_fields(response.content)
    assert (fields["Code"], fields["Message"]) == ("AccessDenied", "Request has expired")
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(signed_at + 60)))
    assert fields["Expires"] == expires
    assert fields["ServerTime"] > expires


def test_foreign_presigned_url(server: RunningServer, owner: Any, bucket: str) -> None:
    foreign = default_client(server, "AKIAFOREIGNKEY000000", "x" * 40)
    url = foreign.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60
    )
    response = httpx.get(url)
    assert response.status_code == 403
    assert error_fields(response.content)["Code"] == "InvalidAccessKeyId"
    missing = httpx.get(f"{server.url}/{bucket}/k?AWSAccessKeyId=AKIAX&Signature=x")
    assert missing.status_code == 403
    assert error_fields(missing.content)["Code"] == "AccessDenied"


# ---------------------------------------------------------------------------- temporary keys


def _role_session(
    root_iam: Any, client: ClientFactory, account: NewAccount, bucket: str
) -> dict[str, str]:
    root_iam.create_user(UserName="alice")
    key = root_iam.create_access_key(UserName="alice")["AccessKey"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:user/alice"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    root_iam.create_role(RoleName="v2-role", AssumeRolePolicyDocument=json.dumps(trust))
    access = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    root_iam.put_role_policy(
        RoleName="v2-role", PolicyName="objects", PolicyDocument=json.dumps(access)
    )
    sts = client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role_arn = f"arn:aws:iam::{account.account_id}:role/v2-role"
    credentials: dict[str, str] = sts.assume_role(RoleArn=role_arn, RoleSessionName="v2")[
        "Credentials"
    ]
    return credentials


def test_assumed_role_with_sigv2(
    root_iam: Any,
    client: ClientFactory,
    account: NewAccount,
    bucket: str,
    server: RunningServer,
) -> None:
    credentials = _role_session(root_iam, client, account, bucket)
    key_id, secret, token = (
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    session = v2_client(server, key_id, secret, token)
    session.put_object(Bucket=bucket, Key="by-role", Body=b"role data")
    assert session.get_object(Bucket=bucket, Key="by-role")["Body"].read() == b"role data"
    assert [o["Key"] for o in session.list_objects(Bucket=bucket)["Contents"]] == ["by-role"]
    with pytest.raises(ClientError) as caught:  # not in the role's policy: the engine says no
        session.delete_object(Bucket=bucket, Key="by-role")
    assert error_of(caught) == ("AccessDenied", 403)

    url = default_client(server, key_id, secret, token).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "by-role"}, ExpiresIn=60
    )
    assert is_sigv2_url(url) and "x-amz-security-token=" in url
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"role data"

    # Without its token the temporary key is unknown; with another token it is invalid.
    encoded = quote(token, safe="")
    without = url.replace(f"&x-amz-security-token={encoded}", "")
    assert without != url
    response = httpx.get(without)
    assert response.status_code == 403
    assert error_fields(response.content)["Code"] == "InvalidAccessKeyId"
    response = httpx.get(url.replace(encoded, encoded[:-8] + "AAAAAAAA"))
    assert response.status_code == 400
    assert error_fields(response.content)["Code"] == "InvalidToken"
    no_token = v2_client(server, key_id, secret)
    with pytest.raises(ClientError) as caught:
        no_token.list_objects(Bucket=bucket)
    assert error_of(caught) == ("InvalidAccessKeyId", 403)

    server.clock.advance(3700)  # the session expired (business time)
    with pytest.raises(ClientError) as caught:
        session.get_object(Bucket=bucket, Key="by-role")
    assert error_of(caught) == ("ExpiredToken", 400)


# ---------------------------------------------------------------------------- authorization


def test_engine_still_decides(
    root_iam: Any, client: ClientFactory, account: NewAccount, bucket: str, server: RunningServer
) -> None:
    owner = v2_client(server, account.access_key_id, account.secret_access_key)
    owner.put_object(Bucket=bucket, Key="public/readme", Body=b"read me")
    root_iam.create_user(UserName="reader")
    key = root_iam.create_access_key(UserName="reader")["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        ],
    }
    root_iam.put_user_policy(
        UserName="reader", PolicyName="read", PolicyDocument=json.dumps(policy)
    )
    reader = v2_client(server, key["AccessKeyId"], key["SecretAccessKey"])
    assert reader.get_object(Bucket=bucket, Key="public/readme")["Body"].read() == b"read me"
    with pytest.raises(ClientError) as caught:
        reader.put_object(Bucket=bucket, Key="public/new", Body=b"x")
    assert error_of(caught) == ("AccessDenied", 403)
    assert ":user/reader is not authorized to perform: s3:PutObject" in str(caught.value)
    url = default_client(server, key["AccessKeyId"], key["SecretAccessKey"]).generate_presigned_url(
        "delete_object", Params={"Bucket": bucket, "Key": "public/readme"}, ExpiresIn=60
    )
    assert httpx.delete(url).status_code == 403

    # s3:signatureversion is "AWS" for SigV2: a bucket policy can refuse it.
    deny_v2 = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}},
            }
        ],
    }
    v4 = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )
    v4.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny_v2))
    with pytest.raises(ClientError) as caught:
        owner.get_object(Bucket=bucket, Key="public/readme")
    assert error_of(caught) == ("AccessDenied", 403)
    assert v4.get_object(Bucket=bucket, Key="public/readme")["Body"].read() == b"read me"
    v4.delete_bucket_policy(Bucket=bucket)
