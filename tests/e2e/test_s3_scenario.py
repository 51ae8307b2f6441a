"""The cross-account scenario, extended to S3: the developer, through the UpdateApp role,
reads and writes the `productionapp` bucket (served by rolegate) and nothing else; the
tester is denied; a bucket policy granting another account read-only access works only
together with that account's identity policies. Also with `aws s3` through the profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolegate.demo import build_world, profiles_text
from rolegate.iam.accounts import NewAccount

from .conftest import ClientFactory
from .server import RunningServer
from .test_s3 import denied_message, error_of, new_bucket_name, s3_client

BUCKET = "productionapp"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class World:
    def __init__(self, server: RunningServer, client: ClientFactory, data: dict[str, Any]):
        self.server = server
        self.client = client
        self.data = data
        self.dev = data["Accounts"]["development"]
        self.prod = data["Accounts"]["production"]
        self.update_app = data["Roles"]["UpdateApp"]

    def s3_root(self, account: str) -> Any:
        key = self.data["Roots"][account]
        return s3_client(self.server, key["AccessKeyId"], key["SecretAccessKey"])

    def iam_root(self, account: str) -> Any:
        key = self.data["Roots"][account]
        return self.client("iam", key["AccessKeyId"], key["SecretAccessKey"])

    def s3_user(self, name: str) -> Any:
        key = self.data["Users"][name]
        return s3_client(self.server, key["AccessKeyId"], key["SecretAccessKey"])

    def s3_as_role(self, user: str = "alice") -> Any:
        key = self.data["Users"][user]
        sts = self.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
        credentials = sts.assume_role(RoleArn=self.update_app, RoleSessionName=f"{user}-s3")[
            "Credentials"
        ]
        return s3_client(
            self.server,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )


def _empty_and_delete(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def world(
    server: RunningServer, client: ClientFactory, make_account: Callable[..., NewAccount]
) -> Iterator[World]:
    development, production = make_account(), make_account()
    data = build_world(server.url, development.to_json(), production.to_json())
    world = World(server, client, data)
    prod = world.s3_root("production")
    prod.create_bucket(Bucket=BUCKET)  # bucket names are global: one productionapp at a time
    try:
        yield world
    finally:
        _empty_and_delete(prod, BUCKET)


def test_the_developer_reads_and_writes_productionapp_through_the_role(world: World) -> None:
    s3 = world.s3_as_role()
    s3.put_object(Bucket=BUCKET, Key="releases/v1.txt", Body=b"release 1")
    assert s3.get_object(Bucket=BUCKET, Key="releases/v1.txt")["Body"].read() == b"release 1"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="releases/")
    assert [o["Key"] for o in listed["Contents"]] == ["releases/v1.txt"]
    s3.copy_object(Bucket=BUCKET, Key="releases/latest.txt", CopySource=f"{BUCKET}/releases/v1.txt")
    s3.delete_object(Bucket=BUCKET, Key="releases/v1.txt")
    # The production root sees what the role wrote: the objects belong to the bucket.
    prod = world.s3_root("production")
    assert prod.get_object(Bucket=BUCKET, Key="releases/latest.txt")["Body"].read() == (
        b"release 1"
    )


def test_the_role_is_denied_on_every_other_bucket(world: World) -> None:
    prod = world.s3_root("production")
    other_prod = new_bucket_name("prod-other")
    prod.create_bucket(Bucket=other_prod)
    dev_bucket = new_bucket_name("dev")
    world.s3_root("development").create_bucket(Bucket=dev_bucket)
    s3 = world.s3_as_role()
    role_session = f"arn:aws:sts::{world.prod}:assumed-role/UpdateApp/alice-s3"
    for bucket in (other_prod, dev_bucket):
        for call in (
            lambda b=bucket: s3.list_objects_v2(Bucket=b),
            lambda b=bucket: s3.put_object(Bucket=b, Key="x", Body=b"x"),
            lambda b=bucket: s3.get_object(Bucket=b, Key="x"),
            lambda b=bucket: s3.delete_object(Bucket=b, Key="x"),
        ):
            with pytest.raises(ClientError) as caught:
                call()
            assert error_of(caught) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket=other_prod)
    assert denied_message(caught)[0] == (
        f"User: {role_session} is not authorized to perform: s3:ListBucket on resource: "
        f'"arn:aws:s3:::{other_prod}" because no identity-based policy allows the '
        "s3:ListBucket action"
    )
    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket=dev_bucket)  # cross-account: S3 gives no details
    assert denied_message(caught)[0] == "Access Denied"
    for call in (
        lambda: s3.create_bucket(Bucket=new_bucket_name("new")),
        lambda: s3.list_buckets(),
        lambda: s3.get_bucket_policy(Bucket=BUCKET),
        lambda: s3.delete_bucket(Bucket=BUCKET),
        lambda: s3.list_objects_v2(Bucket=new_bucket_name("missing")),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught) == ("AccessDenied", 403)
    _empty_and_delete(prod, other_prod)
    _empty_and_delete(world.s3_root("development"), dev_bucket)


def test_the_tester_gets_access_denied(world: World) -> None:
    world.s3_root("production").put_object(Bucket=BUCKET, Key="app.cfg", Body=b"cfg")
    bob = world.s3_user("bob")
    for call in (
        lambda: bob.get_object(Bucket=BUCKET, Key="app.cfg"),
        lambda: bob.put_object(Bucket=BUCKET, Key="app.cfg", Body=b"evil"),
        lambda: bob.list_objects_v2(Bucket=BUCKET),
        lambda: bob.delete_object(Bucket=BUCKET, Key="app.cfg"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught) == ("AccessDenied", 403)
        assert denied_message(caught)[0] == "Access Denied"
        assert caught.value.response["ResponseMetadata"]["RequestId"]


def test_the_testers_denial_decodes_only_with_sts_decode_authorization_message(
    world: World,
) -> None:
    world.s3_root("production").put_object(Bucket=BUCKET, Key="app.cfg", Body=b"cfg")
    with pytest.raises(ClientError) as caught:
        world.s3_user("bob").get_object(Bucket=BUCKET, Key="app.cfg")
    assert error_of(caught) == ("AccessDenied", 403)
    text, blob = denied_message(caught)
    assert text == "Access Denied"
    world.iam_root("development").put_user_policy(
        UserName="alice",
        PolicyName="decode-denials",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}
        ),
    )
    alice = world.data["Users"]["alice"]
    sts = world.client("sts", alice["AccessKeyId"], alice["SecretAccessKey"])
    decoded = json.loads(sts.decode_authorization_message(EncodedMessage=blob)["DecodedMessage"])
    assert decoded["allowed"] is False
    assert decoded["explicitDeny"] is False
    context = decoded["context"]
    assert context["action"] == "s3:GetObject"
    assert context["resource"] == f"arn:aws:s3:::{BUCKET}/app.cfg"
    assert context["principal"]["arn"] == f"arn:aws:iam::{world.dev}:user/bob"
    assert context["principal"]["id"].startswith("AIDA")
    conditions = {c["key"]: c["values"]["items"] for c in context["conditions"]["items"]}
    assert conditions["s3:ResourceAccount"] == [{"value": world.prod}]
    assert decoded["failures"]["items"]
    # The bucket owner's policy stays private to a caller from another account.
    assert all(s["policyType"] != "resource" for s in decoded["matchedStatements"]["items"])

    bob = world.data["Users"]["bob"]
    bob_sts = world.client("sts", bob["AccessKeyId"], bob["SecretAccessKey"])
    with pytest.raises(ClientError) as refused:
        bob_sts.decode_authorization_message(EncodedMessage=blob)
    assert error_of(refused) == ("AccessDenied", 403)


def test_cross_account_read_only_needs_the_bucket_policy_and_the_identity_policy(
    world: World,
) -> None:
    prod = world.s3_root("production")
    prod.put_object(Bucket=BUCKET, Key="shared/report.csv", Body=b"a,b\n")
    alice = world.s3_user("alice")
    dev_root = world.s3_root("development")
    # No bucket policy: even the development root is denied (cross-account).
    with pytest.raises(ClientError) as caught:
        dev_root.get_object(Bucket=BUCKET, Key="shared/report.csv")
    assert error_of(caught) == ("AccessDenied", 403)

    prod.put_bucket_policy(
        Bucket=BUCKET,
        Policy=_doc(
            {
                "Sid": "DevelopmentReadOnly",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{world.dev}:root"},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            }
        ),
    )
    # The root of the development account has every identity permission: it can read now.
    assert dev_root.get_object(Bucket=BUCKET, Key="shared/report.csv")["Body"].read() == b"a,b\n"
    # alice's identity policies say nothing about S3: still denied.
    with pytest.raises(ClientError) as caught:
        alice.get_object(Bucket=BUCKET, Key="shared/report.csv")
    assert error_of(caught) == ("AccessDenied", 403)

    world.iam_root("development").put_user_policy(
        UserName="alice",
        PolicyName="s3-everything",
        PolicyDocument=_doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
    )
    assert alice.get_object(Bucket=BUCKET, Key="shared/report.csv")["Body"].read() == b"a,b\n"
    assert alice.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    # Read-only: the bucket policy grants no write, whatever alice's own policy says.
    with pytest.raises(ClientError) as caught:
        alice.put_object(Bucket=BUCKET, Key="shared/report.csv", Body=b"overwritten")
    assert error_of(caught) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        alice.delete_object(Bucket=BUCKET, Key="shared/report.csv")
    assert error_of(caught) == ("AccessDenied", 403)
    # bob (no identity permission) stays out.
    with pytest.raises(ClientError) as caught:
        world.s3_user("bob").get_object(Bucket=BUCKET, Key="shared/report.csv")
    assert error_of(caught) == ("AccessDenied", 403)
    # An explicit deny in the bucket policy wins over the production root's own allow too.
    prod.put_bucket_policy(
        Bucket=BUCKET,
        Policy=_doc(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/shared/*",
            }
        ),
    )
    with pytest.raises(ClientError) as caught:
        prod.delete_object(Bucket=BUCKET, Key="shared/report.csv")
    assert error_of(caught) == ("AccessDenied", 403)
    prod.delete_bucket_policy(Bucket=BUCKET)  # the owner's root can always manage the policy


def _aws(world: World, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (home / "config").write_text(profiles_text(world.data), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("aws")), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_aws_s3_cp_ls_sync_rm_through_the_role_profile(world: World, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>hello</h1>")
    (site / "css" / "app.css").write_text("h1 {}")
    big = tmp_path / "bundle.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over the CLI's 8 MB multipart threshold
    profile = ("--profile", "rolegate-updateapp")

    done = _aws(world, home, "s3", "cp", str(big), f"s3://{BUCKET}/bundle.bin", *profile)
    assert done.returncode == 0, done.stderr
    done = _aws(world, home, "s3", "sync", str(site), f"s3://{BUCKET}/site", *profile)
    assert done.returncode == 0, done.stderr
    listed = _aws(world, home, "s3", "ls", f"s3://{BUCKET}/", "--recursive", *profile)
    assert listed.returncode == 0, listed.stderr
    names = sorted(line.split()[-1] for line in listed.stdout.splitlines())
    assert names == ["bundle.bin", "site/css/app.css", "site/index.html"]
    top = _aws(world, home, "s3", "ls", f"s3://{BUCKET}/", *profile)
    assert "PRE site/" in top.stdout

    back = tmp_path / "back.bin"
    done = _aws(world, home, "s3", "cp", f"s3://{BUCKET}/bundle.bin", str(back), *profile)
    assert done.returncode == 0, done.stderr
    assert back.read_bytes() == big.read_bytes()
    # Bucket to bucket over 8 MB: CreateMultipartUpload + UploadPartCopy ranges + Complete.
    copy = f"s3://{BUCKET}/copies/bundle.bin"
    done = _aws(world, home, "s3", "cp", f"s3://{BUCKET}/bundle.bin", copy, *profile)
    assert done.returncode == 0, done.stderr
    copied_back = tmp_path / "copied-back.bin"
    done = _aws(world, home, "s3", "cp", copy, str(copied_back), *profile)
    assert done.returncode == 0, done.stderr
    assert copied_back.read_bytes() == big.read_bytes()
    done = _aws(world, home, "s3", "rm", copy, *profile)
    assert done.returncode == 0, done.stderr
    again = _aws(world, home, "s3", "sync", str(site), f"s3://{BUCKET}/site", *profile)
    assert again.returncode == 0 and again.stdout.strip() == ""  # nothing changed

    done = _aws(world, home, "s3", "rm", f"s3://{BUCKET}/site", "--recursive", *profile)
    assert done.returncode == 0, done.stderr
    listed = _aws(world, home, "s3", "ls", f"s3://{BUCKET}/", "--recursive", *profile)
    assert [line.split()[-1] for line in listed.stdout.splitlines()] == ["bundle.bin"]

    denied = _aws(world, home, "s3", "ls", f"s3://{BUCKET}/", "--profile", "rolegate-bob")
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
