"""The console's S3 pages through their HTTP forms and JSON endpoints, as a browser uses them:
every action an S3 call as the signed-in identity (the role session while in a role),
uploads and downloads straight between the client and presigned S3 URLs, and every refusal
with AWS's message and the policy engine's explanation under its HTTP status."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import boto3  # type: ignore[import-untyped]
import httpx
import pytest

from .conftest import ConsoleClient, ConsoleServer

BUCKET = "productionapp"
BROWSE = f"/console/s3/buckets/{BUCKET}"


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _root_s3(console: ConsoleServer) -> Any:
    root = console.world["Roots"]["production"]
    return boto3.client(
        "s3",
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=root["AccessKeyId"],
        aws_secret_access_key=root["SecretAccessKey"],
    )


def _testids(page: str, testid: str) -> list[str]:
    """The unescaped text of every `<a data-testid=...>` (or other element) on the page."""
    pattern = rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>'
    return [html.unescape(re.sub(r"<[^>]+>", "", m.group(2))) for m in re.finditer(pattern, page)]


def _hrefs(page: str, testid: str) -> list[str]:
    tags = re.findall(rf'<a [^>]*data-testid="{testid}"[^>]*>', page)
    return [html.unescape(re.search(r'href="([^"]*)"', tag).group(1)) for tag in tags]  # type: ignore[union-attr]


def _filename(disposition: str) -> str:
    """The RFC 8187 `filename*` of a Content-Disposition, which must be pure attr-chars."""
    found = re.search(r"filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+)$", disposition)
    assert found, disposition
    return unquote(found.group(1))


def _upload_url(client: ConsoleClient, prefix: str, name: str, **extra: str) -> httpx.Response:
    client.get(BROWSE)  # a fresh page: its CSRF token
    return client.post(f"{BROWSE}/upload-url", {"prefix": prefix, "name": name, **extra})


def _upload(client: ConsoleClient, key: str, body: bytes, content_type: str = "") -> httpx.Response:
    folder, _, name = key.rpartition("/")
    signed = _upload_url(client, folder + "/" if folder else "", name, type=content_type)
    assert signed.status_code == 200, signed.text
    data = signed.json()
    assert data["key"] == key
    return httpx.put(data["url"], content=body, headers=data["headers"], timeout=60)


@pytest.fixture
def role(alice: ConsoleClient) -> ConsoleClient:
    """alice switched to UpdateApp in production."""
    switched = alice.switch_role()
    assert switched.status_code == 200
    return alice


@pytest.fixture(scope="module")
def s3_admin_login(console: ConsoleServer) -> dict[str, str]:
    """A production IAM user allowed everything in S3 (to create and delete buckets)."""
    root = console.world["Roots"]["production"]
    iam = boto3.client(
        "iam",
        endpoint_url=console.url,
        region_name="us-east-1",
        aws_access_key_id=root["AccessKeyId"],
        aws_secret_access_key=root["SecretAccessKey"],
    )
    name = f"s3admin-{_uid()}"
    password = f"Adm1n-{uuid.uuid4().hex}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="s3-all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    iam.create_login_profile(UserName=name, Password=password)
    return {"name": name, "password": password}


@pytest.fixture
def s3_admin(console: ConsoleServer, s3_admin_login: dict[str, str]) -> Iterator[ConsoleClient]:
    client = console.client()
    client.get("/signin")
    signed_in = client.post(
        "/signin",
        {
            "kind": "iam",
            "account": "production",
            "username": s3_admin_login["name"],
            "password": s3_admin_login["password"],
        },
    )
    assert signed_in.url.path == "/console", signed_in.text
    yield client
    client.close()


# ---------------------------------------------------------------------------- buckets


def test_bucket_list_as_update_app_shows_the_denial_and_opens_by_name(
    role: ConsoleClient,
) -> None:
    listing = role.get("/console/s3")
    # UpdateApp may not s3:ListAllMyBuckets: the page says so, with the engine's reason.
    assert listing.status_code == 403
    assert 'data-testid="aws-error"' in listing.text
    assert 'data-testid="explanation"' in listing.text
    assert "s3:ListAllMyBuckets" in listing.text
    opened = role.get("/console/s3/open", params={"bucket": BUCKET})
    assert opened.url.path == BROWSE
    assert "README.txt" in _testids(opened.text, "object-link")


def test_bucket_list_create_and_delete(s3_admin: ConsoleClient, console: ConsoleServer) -> None:
    name = f"console-{_uid()}"
    s3_admin.get("/console/s3")
    created = s3_admin.post("/console/s3/create-bucket", {"name": name})
    assert created.status_code == 200
    assert "Bucket created." in created.text
    assert name in _testids(created.text, "bucket-link")
    assert f"/console/s3/buckets/{name}" in _hrefs(created.text, "bucket-link")
    assert BUCKET in _testids(created.text, "bucket-link")

    # Not empty: S3's BucketNotEmpty, under its status.
    _root_s3(console).put_object(Bucket=name, Key="keep.txt", Body=b"x")
    refused = s3_admin.post(f"/console/s3/buckets/{name}/delete")
    assert refused.status_code == 409
    assert "BucketNotEmpty" in refused.text
    _root_s3(console).delete_object(Bucket=name, Key="keep.txt")

    deleted = s3_admin.post(f"/console/s3/buckets/{name}/delete")
    assert deleted.status_code == 200
    assert "Bucket deleted." in deleted.text
    assert name not in _testids(deleted.text, "bucket-link")


def test_create_bucket_refused_as_the_role(role: ConsoleClient) -> None:
    role.get(BROWSE)
    refused = role.post("/console/s3/create-bucket", {"name": f"nope-{_uid()}"})
    assert refused.status_code == 403
    assert "s3:CreateBucket" in refused.text
    assert 'data-testid="explanation"' in refused.text
    invalid = role.post("/console/s3/create-bucket", {"name": "<Bad Name>"})
    assert invalid.status_code == 400
    assert "<Bad Name>" not in invalid.text


# ---------------------------------------------------------------------------- browsing


def test_browse_productionapp_as_the_role(role: ConsoleClient) -> None:
    page = role.get(BROWSE)
    assert page.status_code == 200
    assert "README.txt" in _testids(page.text, "object-link")
    assert f"{BROWSE}/object?key=README.txt" in _hrefs(page.text, "object-link")
    assert 'data-testid="upload-input"' in page.text
    assert 'data-testid="upload-submit"' in page.text
    assert 'data-testid="upload-status"' in page.text
    assert '<script src="/console/static/s3.js" defer></script>' in page.text
    assert "STANDARD" in page.text


def test_static_assets(role: ConsoleClient) -> None:
    script = role.get("/console/static/s3.js")
    assert script.status_code == 200
    assert "XMLHttpRequest" in script.text
    assert role.get("/console/static/s3.css").status_code == 200


def test_folders_prefixes_and_breadcrumbs(role: ConsoleClient) -> None:
    top = f"t{_uid()}"
    role.get(f"{BROWSE}?prefix={top}/")
    created = role.post(f"{BROWSE}/folder?prefix={top}/", {"prefix": f"{top}/", "name": "docs"})
    assert created.status_code == 200
    assert "Folder created." in created.text
    assert _hrefs(created.text, "folder-link") == [
        f"{BROWSE}?prefix={quote(top + '/docs/', safe='')}"
    ]
    assert _testids(created.text, "folder-link") == ["docs/"]

    assert _upload(role, f"{top}/docs/guide.txt", b"read me").status_code == 200
    assert _upload(role, f"{top}/top.txt", b"top").status_code == 200

    inside = role.get(BROWSE, params={"prefix": f"{top}/docs/"})
    assert _testids(inside.text, "object-link") == ["guide.txt"]  # the marker is hidden
    assert _testids(inside.text, "crumb") == [BUCKET, top, "docs"]
    level = role.get(BROWSE, params={"prefix": f"{top}/"})
    assert _testids(level.text, "object-link") == ["top.txt"]
    assert _testids(level.text, "folder-link") == ["docs/"]

    # A partial prefix filters, and uploads go to its folder.
    partial = role.get(BROWSE, params={"prefix": f"{top}/to"})
    assert _testids(partial.text, "object-link") == ["top.txt"]
    assert f'data-prefix="{top}/"' in partial.text

    for bad in ("", "a/b"):
        refused = role.post(f"{BROWSE}/folder?prefix={top}/", {"prefix": f"{top}/", "name": bad})
        assert refused.status_code == 400


def test_pagination(role: ConsoleClient, console: ConsoleServer) -> None:
    top = f"p{_uid()}/"
    s3 = _root_s3(console)
    keys = [f"{top}{n:02d}.txt" for n in range(5)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    seen: list[str] = []
    page = role.get(BROWSE, params={"prefix": top, "max-keys": "2"})
    pages = 0
    while True:
        pages += 1
        seen += [name for name in _testids(page.text, "object-link")]
        nexts = _hrefs(page.text, "next-page")
        if not nexts:
            break
        assert "max-keys=2" in nexts[0]
        page = role.get(nexts[0])
        assert _hrefs(page.text, "first-page")
    assert pages == 3
    assert seen == [key[len(top) :] for key in keys]


# ---------------------------------------------------------------------------- uploads


def test_upload_through_a_presigned_url(role: ConsoleClient) -> None:
    key = f"up-{_uid()}/hello world.txt"
    signed = _upload_url(role, key.split("/")[0] + "/", "hello world.txt", type="text/plain")
    data = signed.json()
    url = urlsplit(data["url"])
    assert f"{url.scheme}://{url.netloc}" == role.console.url  # the browser's origin
    assert url.path == f"/{BUCKET}/{quote(key)}"
    assert "X-Amz-Signature" in parse_qs(url.query)
    put = httpx.put(data["url"], content=b"hello", headers=data["headers"])
    assert put.status_code == 200, put.text
    listing = role.get(BROWSE, params={"prefix": key.split("/")[0] + "/"})
    assert "hello world.txt" in _testids(listing.text, "object-link")
    details = role.get(f"{BROWSE}/object", params={"key": key})
    assert _testids(details.text, "object-content-type") == ["text/plain"]


def test_large_upload_is_streamed_and_downloads(role: ConsoleClient, tmp_path: Path) -> None:
    key = f"big-{_uid()}.bin"
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(20):
            chunk = os.urandom(1024 * 1024)
            digest.update(chunk)
            out.write(chunk)
    signed = _upload_url(role, "", key).json()
    with source.open("rb") as body:  # a file: streamed with its Content-Length
        put = httpx.put(signed["url"], content=body, timeout=120)
    assert put.status_code == 200, put.text
    details = role.get(f"{BROWSE}/object", params={"key": key})
    assert "20971520 bytes" in details.text
    moved = role.http.get(f"{BROWSE}/download", params={"key": key}, follow_redirects=False)
    assert moved.status_code == 303
    fetched = hashlib.sha256()
    with httpx.stream("GET", moved.headers["location"], timeout=120) as got:
        assert got.status_code == 200
        for chunk in got.iter_bytes():
            fetched.update(chunk)
    assert fetched.hexdigest() == digest.hexdigest()


def test_upload_url_checks(role: ConsoleClient) -> None:
    empty = _upload_url(role, "x/", "")
    assert empty.status_code == 400
    dots = _upload_url(role, "a/../", "f.txt")
    assert dots.status_code == 400
    assert "path segment" in dots.json()["error"]
    assert _upload_url(role, "", "x" * 1025).status_code == 400


# ---------------------------------------------------------------------------- objects


def test_details_download_and_delete(role: ConsoleClient, console: ConsoleServer) -> None:
    key = f"d-{_uid()}/report ü 100%.txt"
    _root_s3(console).put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b"quarterly numbers",
        ContentType="text/plain; charset=utf-8",
        Metadata={"team": "<finance>"},
        ChecksumAlgorithm="SHA256",
    )
    folder = key.split("/")[0] + "/"
    listing = role.get(BROWSE, params={"prefix": folder})
    href = _hrefs(listing.text, "object-link")[0]
    assert href == f"{BROWSE}/object?key={quote(key, safe='')}"
    details = role.get(href)
    assert details.status_code == 200
    assert _testids(details.text, "object-key") == [key]
    assert "17 bytes" in details.text
    assert _testids(details.text, "object-content-type") == ["text/plain; charset=utf-8"]
    etag = hashlib.md5(b"quarterly numbers").hexdigest()
    assert _testids(details.text, "object-etag") == [f'"{etag}"']
    assert "&lt;finance&gt;" in details.text
    assert "x-amz-meta-team" in details.text
    assert _testids(details.text, "object-checksum")
    assert 'data-testid="delete-object"' in details.text
    assert 'data-confirm="Delete ' in details.text

    download = _hrefs(details.text, "download-link")[0]
    moved = role.http.get(download, follow_redirects=False)
    assert moved.status_code == 303
    got = httpx.get(moved.headers["location"])
    assert got.status_code == 200
    assert got.content == b"quarterly numbers"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"report _ 100_.txt\"; filename*=UTF-8''report%20%C3%BC%20100%25.txt"
    )

    role.get(href)
    deleted = role.post(f"{BROWSE}/object/delete", {"key": key})
    assert deleted.status_code == 200
    assert "Object deleted." in deleted.text
    assert deleted.url.params["prefix"] == folder
    assert _testids(deleted.text, "object-link") == []
    gone = role.get(href)
    assert gone.status_code == 404
    assert "NoSuchKey" in gone.text


def test_hostile_keys_are_escaped(role: ConsoleClient, console: ConsoleServer) -> None:
    top = f"h{_uid()}/"
    hostile = [
        '<script>alert("x")<\\script>.txt',
        '<img src=x onerror="alert(1)">.txt',
        "quote\"d 'single'.txt",
        "ünïcødé ☃ 100% & more.txt",
        "spaces  and\ttab?#.txt",
    ]
    s3 = _root_s3(console)
    for name in hostile:
        s3.put_object(Bucket=BUCKET, Key=top + name, Body=name.encode())
    s3.put_object(Bucket=BUCKET, Key=top + "<b>folder<b>/inside.txt", Body=b"in")
    s3.put_object(Bucket=BUCKET, Key=top + "../escape.txt", Body=b"dots")
    page = role.get(BROWSE, params={"prefix": top})
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "<img" not in page.text
    assert "<b>folder" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;\\script&gt;.txt" in page.text
    names = _testids(page.text, "object-link")
    assert sorted(names) == sorted(hostile)
    assert sorted(_testids(page.text, "folder-link")) == ["../", "<b>folder<b>/"]
    for name in hostile:
        href = f"{BROWSE}/object?key={quote(top + name, safe='')}"
        assert href in _hrefs(page.text, "object-link")
        details = role.get(href)
        assert details.status_code == 200, name
        assert _testids(details.text, "object-key") == [top + name]
        moved = role.http.get(_hrefs(details.text, "download-link")[0], follow_redirects=False)
        assert moved.status_code == 303
        got = httpx.get(moved.headers["location"])
        assert got.content == name.encode()
        assert _filename(got.headers["content-disposition"]) == name

    folder = role.get(_hrefs(page.text, "folder-link")[0])
    assert folder.status_code == 200
    # '..' cannot be in a browser URL: the console hands that key over itself.
    dots = role.get(f"{BROWSE}/download", params={"key": top + "../escape.txt"})
    assert dots.status_code == 200
    assert dots.content == b"dots"
    assert 'filename="escape.txt"' in dots.headers["content-disposition"]


# ---------------------------------------------------------------------------- denials


def test_role_listing_another_bucket_is_denied_with_explanation(
    role: ConsoleClient, console: ConsoleServer
) -> None:
    other = f"other-{_uid()}"
    _root_s3(console).create_bucket(Bucket=other)
    page = role.get(f"/console/s3/buckets/{other}")
    assert page.status_code == 403
    assert 'data-testid="aws-error"' in page.text
    assert 'data-testid="explanation"' in page.text
    assert "s3:ListBucket" in page.text
    assert f"arn:aws:s3:::{other}" in page.text
    assert "assumed-role/UpdateApp/alice" in page.text


def test_alice_herself_is_denied_on_productionapp(alice: ConsoleClient) -> None:
    page = alice.get(BROWSE)
    assert page.status_code == 403
    assert "Access Denied" in page.text
    assert 'data-testid="explanation"' in page.text
    assert "arn:aws:iam::111122223333:user/alice" in page.text
    details = alice.get(f"{BROWSE}/object", params={"key": "README.txt"})
    assert details.status_code == 403
    assert 'data-testid="explanation"' in details.text
    assert "s3:GetObject" in details.text
    download = alice.get(f"{BROWSE}/download", params={"key": "README.txt"})
    assert download.status_code == 403


def test_back_to_alice_is_denied_on_productionapp(role: ConsoleClient) -> None:
    assert role.get(BROWSE).status_code == 200
    back = role.post("/console/exit-role")
    assert back.status_code == 200
    page = role.get(BROWSE)
    assert page.status_code == 403
    assert 'data-testid="explanation"' in page.text
    deleted = role.post(f"{BROWSE}/object/delete", {"key": "README.txt"})
    assert deleted.status_code == 403


def test_denied_upload_is_explained_for_the_own_account(alice: ConsoleClient) -> None:
    signed = _upload_url(alice, "", f"denied-{_uid()}.txt").json()
    put = httpx.put(signed["url"], content=b"nope")
    assert put.status_code == 403
    code = re.search(r"<Code>(.*?)</Code>", put.text)
    message = re.search(r"<Message>(.*?)</Message>", put.text)
    assert code and message
    assert "Encoded authorization failure message" in message.group(1)
    explained = alice.post(
        "/console/s3/explain", {"code": code.group(1), "message": html.unescape(message.group(1))}
    )
    assert explained.status_code == 200
    data = explained.json()
    assert data["code"] == "AccessDenied"
    assert data["explanation"]["context"]["action"] == "s3:PutObject"
    assert 'data-testid="aws-error"' in data["html"]
    assert 'data-testid="explanation"' in data["html"]


def test_explain_refuses_a_message_of_another_account(
    role: ConsoleClient, console: ConsoleServer
) -> None:
    other = f"other-{_uid()}"
    _root_s3(console).create_bucket(Bucket=other)
    role.get(BROWSE)
    signed = role.post(
        f"/console/s3/buckets/{other}/upload-url", {"prefix": "", "name": "x.txt"}
    ).json()
    put = httpx.put(signed["url"], content=b"x")
    assert put.status_code == 403
    message = html.unescape(re.search(r"<Message>(.*?)</Message>", put.text).group(1))  # type: ignore[union-attr]
    as_role = role.post("/console/s3/explain", {"code": "AccessDenied", "message": message})
    assert as_role.json()["explanation"] is not None
    role.post("/console/exit-role")
    role.get("/console")
    as_alice = role.post("/console/s3/explain", {"code": "AccessDenied", "message": message})
    data = as_alice.json()
    assert data["explanation"] is None  # production's message is not development's to read
    assert data["message"] == message
    assert 'data-testid="aws-error"' in data["html"]
    assert 'data-testid="explanation"' not in data["html"]
    garbage = role.post(
        "/console/s3/explain",
        {"code": "AccessDenied", "message": "Encoded authorization failure message: junk"},
    )
    assert garbage.json()["explanation"] is None


# ---------------------------------------------------------------------------- CSRF


def test_posts_need_the_csrf_token(role: ConsoleClient, console: ConsoleServer) -> None:
    key = f"csrf-{_uid()}.txt"
    _root_s3(console).put_object(Bucket=BUCKET, Key=key, Body=b"x")
    for path, data in (
        ("/console/s3/create-bucket", {"name": f"csrf-{_uid()}"}),
        (f"{BROWSE}/delete", {}),
        (f"{BROWSE}/folder", {"prefix": "", "name": "f"}),
        (f"{BROWSE}/upload-url", {"prefix": "", "name": "f.txt"}),
        (f"{BROWSE}/object/delete", {"key": key}),
        ("/console/s3/explain", {"code": "x", "message": "y"}),
    ):
        refused = role.http.post(path, data={**data, "csrf": "forged"})
        assert refused.status_code == 403, path
        assert "Request refused" in refused.text
    assert role.get(f"{BROWSE}/object", params={"key": key}).status_code == 200


def test_signed_out_browser_goes_to_sign_in(browser_client: ConsoleClient) -> None:
    page = browser_client.http.get(BROWSE, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/signin?redirect_uri=")


def test_invalid_bucket_names_are_refused_as_text(role: ConsoleClient) -> None:
    page = role.get("/console/s3/buckets/%3Cscript%3Ex%22")
    assert page.status_code == 400
    assert "InvalidBucketName" in page.text
    assert "<script>x" not in page.text
    assert "&lt;script&gt;x&#34;" in page.text
    opened = role.get("/console/s3/open", params={"bucket": "<b>"})
    assert opened.status_code == 400
    assert 'value="&lt;b&gt;"' in opened.text
    details = role.get("/console/s3/buckets/%3Cb%3E/object", params={"key": "k"})
    assert details.status_code == 400
    assert role.get(f"{BROWSE}/object").status_code == 400  # no key
