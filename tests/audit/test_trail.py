"""The audit trail end to end: real boto3 calls against a real server (SQLite and PostgreSQL),
then the CloudTrail records in the store."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from e2e.conftest import ClientFactory
from e2e.server import RunningServer
from rolegate.demo import build_world
from rolegate.iam.accounts import NewAccount
from rolegate.mfa import base32_to_seed, totp

from .conftest import Events, trail_of


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _request_id(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


def _by_request(records: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [record for record in records if record.get("requestID") == request_id]


@pytest.fixture
def world(
    server: RunningServer, client: ClientFactory, make_account: Callable[..., NewAccount]
) -> dict[str, Any]:
    development, production = make_account(), make_account()
    return build_world(server.url, development.to_json(), production.to_json())


def _user(world: dict[str, Any], client: ClientFactory, name: str, service: str) -> Any:
    key = world["Users"][name]
    return client(service, key["AccessKeyId"], key["SecretAccessKey"])


def _root(world: dict[str, Any], client: ClientFactory, account: str, service: str) -> Any:
    key = world["Roots"][account]
    return client(service, key["AccessKeyId"], key["SecretAccessKey"])


def test_an_iam_write_is_one_management_event(
    account: NewAccount, root_iam: Any, events: Events, rows: Callable[[str], list[Any]]
) -> None:
    response = root_iam.create_user(UserName="carol", Path="/staff/")
    [record] = _by_request(events(account.account_id), _request_id(response))
    assert record["eventVersion"] == "1.11"
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["eventName"] == "CreateUser"
    assert record["awsRegion"] == "us-east-1"
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert record["userAgent"].startswith("Boto3/")
    assert record["userIdentity"] == {
        "type": "Root",
        "principalId": account.account_id,
        "arn": f"arn:aws:iam::{account.account_id}:root",
        "accountId": account.account_id,
        "accessKeyId": account.access_key_id,
    }
    assert record["requestParameters"] == {"userName": "carol", "path": "/staff/"}
    user = record["responseElements"]["user"]
    assert user["userName"] == "carol"
    assert user["arn"] == f"arn:aws:iam::{account.account_id}:user/staff/carol"
    assert user["createDate"].endswith(("AM", "PM"))  # CloudTrail's Java-style dates
    assert record["readOnly"] is False
    assert record["managementEvent"] is True
    assert record["eventCategory"] == "Management"
    assert record["eventType"] == "AwsApiCall"
    assert record["recipientAccountId"] == account.account_id
    assert record["resources"] == [
        {"ARN": user["arn"], "accountId": account.account_id, "type": "AWS::IAM::User"}
    ]
    assert "errorCode" not in record and "sharedEventID" not in record
    event, resource = rows(record["eventID"])
    assert (event.event_name, event.event_source, event.read_only) == (
        "CreateUser",
        "iam.amazonaws.com",
        False,
    )
    assert (event.username, event.access_key_id, event.event_category) == (
        "root",
        account.access_key_id,
        "Management",
    )
    assert (resource.resource_type, resource.resource_name) == ("AWS::IAM::User", user["arn"])

    listed = root_iam.list_users()
    [read] = _by_request(events(account.account_id), _request_id(listed))
    assert read["readOnly"] is True and read["responseElements"] is None


def test_access_denied_is_recorded_with_the_callers_identity(
    world: dict[str, Any], client: ClientFactory, events: Events
) -> None:
    bob = _user(world, client, "bob", "iam")
    with pytest.raises(ClientError) as denied:
        bob.list_users()
    request_id = denied.value.response["ResponseMetadata"]["RequestId"]
    development = world["Accounts"]["development"]
    [record] = _by_request(events(development, event_name="ListUsers"), request_id)
    assert record["errorCode"] == "AccessDenied"
    assert record["errorMessage"].startswith(
        f"User: arn:aws:iam::{development}:user/bob is not authorized to perform: iam:ListUsers"
    )
    identity = record["userIdentity"]
    assert identity["type"] == "IAMUser"
    assert identity["userName"] == "bob"
    assert identity["accessKeyId"] == world["Users"]["bob"]["AccessKeyId"]
    assert identity["principalId"].startswith("AIDA")
    assert record["readOnly"] is True and record["responseElements"] is None


def test_a_request_that_fails_authentication_is_not_recorded(
    world: dict[str, Any], client: ClientFactory, events: Events
) -> None:
    key = world["Users"]["bob"]
    forged = client("iam", key["AccessKeyId"], "not-the-secret-" + "x" * 25)
    with pytest.raises(ClientError) as failed:
        forged.get_user()
    assert failed.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    request_id = failed.value.response["ResponseMetadata"]["RequestId"]
    assert not _by_request(events(world["Accounts"]["development"]), request_id)


def test_cross_account_assume_role_lands_in_both_accounts(
    world: dict[str, Any], client: ClientFactory, events: Events
) -> None:
    development, production = world["Accounts"]["development"], world["Accounts"]["production"]
    alice = _user(world, client, "alice", "sts")
    response = alice.assume_role(RoleArn=world["Roles"]["UpdateApp"], RoleSessionName="alice")
    request_id = _request_id(response)
    [mine] = _by_request(events(development, event_name="AssumeRole"), request_id)
    [theirs] = _by_request(events(production, event_name="AssumeRole"), request_id)
    assert mine["sharedEventID"] == theirs["sharedEventID"]
    assert mine["eventID"] != theirs["eventID"]
    assert (mine["recipientAccountId"], theirs["recipientAccountId"]) == (development, production)
    assert mine["userIdentity"]["type"] == "IAMUser"
    assert mine["userIdentity"]["userName"] == "alice"
    assert theirs["userIdentity"] == {
        "type": "AWSAccount",
        "principalId": mine["userIdentity"]["principalId"],
        "accountId": development,
    }
    for record in (mine, theirs):
        assert record["eventSource"] == "sts.amazonaws.com"
        assert record["readOnly"] is True
        assert record["requestParameters"] == {
            "roleArn": world["Roles"]["UpdateApp"],
            "roleSessionName": "alice",
        }
        credentials = record["responseElements"]["credentials"]
        assert credentials["accessKeyId"] == response["Credentials"]["AccessKeyId"]
        assert set(credentials) == {"accessKeyId", "expiration"}
        assert record["responseElements"]["assumedRoleUser"]["arn"] == (
            f"arn:aws:sts::{production}:assumed-role/UpdateApp/alice"
        )
        assert record["resources"] == [
            {"ARN": world["Roles"]["UpdateApp"], "accountId": production, "type": "AWS::IAM::Role"}
        ]
    # The role account's Event history names the session asked for.
    assert events(production, username="alice", event_name="AssumeRole")

    # A refusal by the trust policy is the role owner's business too.
    bob = _user(world, client, "bob", "sts")
    with pytest.raises(ClientError) as denied:
        bob.assume_role(RoleArn=world["Roles"]["UpdateApp"], RoleSessionName="bob")
    denied_id = denied.value.response["ResponseMetadata"]["RequestId"]
    [refused] = _by_request(events(production), denied_id)
    assert refused["errorCode"] == "AccessDenied"
    assert refused["userIdentity"]["type"] == "AWSAccount"
    assert (
        _by_request(events(development), denied_id)[0]["sharedEventID"]
        == (refused["sharedEventID"])
    )


def test_calls_with_role_credentials_carry_the_session_issuer(
    world: dict[str, Any], client: ClientFactory, events: Events
) -> None:
    development, production = world["Accounts"]["development"], world["Accounts"]["production"]
    alice = _user(world, client, "alice", "sts")
    assumed = alice.assume_role(RoleArn=world["Roles"]["UpdateApp"], RoleSessionName="alice")
    credentials = assumed["Credentials"]
    session = client(
        "iam",
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    with pytest.raises(ClientError) as denied:  # UpdateApp may not touch IAM
        session.list_roles()
    request_id = denied.value.response["ResponseMetadata"]["RequestId"]
    [record] = _by_request(events(production), request_id)
    identity = record["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{production}:assumed-role/UpdateApp/alice"
    assert identity["accessKeyId"] == credentials["AccessKeyId"]
    assert identity["principalId"].endswith(":alice")
    context = identity["sessionContext"]
    assert context["sessionIssuer"] == {
        "type": "Role",
        "principalId": identity["principalId"].split(":")[0],
        "arn": world["Roles"]["UpdateApp"],
        "accountId": production,
        "userName": "UpdateApp",
    }
    assert context["attributes"]["mfaAuthenticated"] == "false"
    assert context["attributes"]["creationDate"].endswith("Z")
    assert record["errorCode"] == "AccessDenied"

    # "Who used UpdateApp, when, from which user": the session's key names its AssumeRole.
    [origin] = [
        event
        for event in events(production, event_name="AssumeRole")
        if event["responseElements"]
        and event["responseElements"]["credentials"]["accessKeyId"] == identity["accessKeyId"]
    ]
    assert origin["userIdentity"]["accountId"] == development
    assert origin["requestParameters"]["roleSessionName"] == "alice"
    assert events(production, access_key_id=credentials["AccessKeyId"], username="alice")


def test_s3_object_calls_are_data_events_and_bucket_calls_management(
    account: NewAccount, client: ClientFactory, events: Events
) -> None:
    s3 = client("s3", account.access_key_id, account.secret_access_key)
    bucket = f"audit-{secrets.token_hex(4)}"
    created = s3.create_bucket(Bucket=bucket)
    put = s3.put_object(Bucket=bucket, Key="docs/a.txt", Body=b"x" * 4096)
    got = s3.get_object(Bucket=bucket, Key="docs/a.txt")
    got["Body"].read()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="docs/")
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="nope")
    recorded = events(account.account_id, event_source="s3.amazonaws.com")

    [create] = _by_request(recorded, _request_id(created))
    assert create["eventName"] == "CreateBucket"
    assert (create["eventCategory"], create["managementEvent"]) == ("Management", True)
    assert create["requestParameters"]["bucketName"] == bucket

    [write] = _by_request(recorded, _request_id(put))
    assert write["eventName"] == "PutObject"
    assert (write["eventCategory"], write["managementEvent"], write["readOnly"]) == (
        "Data",
        False,
        False,
    )
    assert write["additionalEventData"]["bytesTransferredIn"] == 4096
    assert write["additionalEventData"]["AuthenticationMethod"] == "AuthHeader"
    assert write["resources"] == [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/docs/a.txt"},
        {
            "accountId": account.account_id,
            "type": "AWS::S3::Bucket",
            "ARN": f"arn:aws:s3:::{bucket}",
        },
    ]

    [read] = _by_request(recorded, _request_id(got))
    assert (read["eventName"], read["eventCategory"], read["readOnly"]) == (
        "GetObject",
        "Data",
        True,
    )
    assert read["additionalEventData"]["bytesTransferredOut"] == 4096
    assert read["requestParameters"]["key"] == "docs/a.txt"

    [listing] = _by_request(recorded, _request_id(listed))
    assert listing["eventCategory"] == "Data"
    assert listing["resources"][0] == {
        "type": "AWS::S3::Object",
        "ARNPrefix": f"arn:aws:s3:::{bucket}/docs/",
    }
    assert listing["requestParameters"]["prefix"] == "docs/"

    [failed] = _by_request(recorded, missing.value.response["ResponseMetadata"]["RequestId"])
    assert failed["errorCode"] == "NoSuchKey"
    data = events(account.account_id, event_category="Data")
    assert {record["eventName"] for record in data} == {"PutObject", "GetObject", "ListObjectsV2"}


def test_cross_account_and_anonymous_s3_access(
    world: dict[str, Any], client: ClientFactory, events: Events, server: RunningServer
) -> None:
    development, production = world["Accounts"]["development"], world["Accounts"]["production"]
    owner = _root(world, client, "production", "s3")
    bucket = f"audit-shared-{secrets.token_hex(4)}"
    owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="public/hello.txt", Body=b"hello")
    owner.put_bucket_policy(
        Bucket=bucket,
        Policy=_doc(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/public/*",
            }
        ),
    )
    alice = _user(world, client, "alice", "s3")
    # alice's own policies do not allow s3:GetObject: the bucket policy alone is not enough
    # across accounts, and the refusal is in both accounts.
    with pytest.raises(ClientError) as denied:
        alice.get_object(Bucket=bucket, Key="public/hello.txt")
    request_id = denied.value.response["ResponseMetadata"]["RequestId"]
    [mine] = _by_request(events(development), request_id)
    [theirs] = _by_request(events(production), request_id)
    assert mine["errorCode"] == theirs["errorCode"] == "AccessDenied"
    assert mine["sharedEventID"] == theirs["sharedEventID"]
    assert mine["userIdentity"]["userName"] == "alice"
    assert theirs["userIdentity"]["type"] == "AWSAccount"
    assert theirs["userIdentity"]["accountId"] == development

    response = httpx.get(f"{server.url}/{bucket}/public/hello.txt")
    assert response.status_code == 200
    anonymous_id = response.headers["x-amz-request-id"]
    [anonymous] = _by_request(events(production), anonymous_id)
    assert anonymous["userIdentity"] == {
        "type": "AWSAccount",
        "principalId": "ANONYMOUS_PRINCIPAL",
        "accountId": "anonymous",
    }
    assert anonymous["recipientAccountId"] == production
    assert "SignatureVersion" not in anonymous["additionalEventData"]
    assert "sharedEventID" not in anonymous


def test_no_secret_token_or_password_is_ever_recorded(
    world: dict[str, Any], client: ClientFactory, events: Events, server: RunningServer
) -> None:
    alice = world["Users"]["alice"]
    sts = _user(world, client, "alice", "sts")
    seed = base32_to_seed(alice["MfaSeed"])
    code = totp(seed, server.clock.now().timestamp())
    assumed = sts.assume_role(
        RoleArn=world["Roles"]["UpdateAppMFA"],
        RoleSessionName="alice",
        SerialNumber=alice["MfaSerial"],
        TokenCode=code,
    )["Credentials"]
    session_token = sts.get_session_token()["Credentials"]
    iam = _user(world, client, "alice", "iam")
    with pytest.raises(ClientError):
        iam.change_password(OldPassword=alice["Password"], NewPassword="An0ther-Secret-Pass!")
    dev_root = _root(world, client, "development", "iam")
    dev_root.create_user(UserName="dave")
    key = dev_root.create_access_key(UserName="dave")["AccessKey"]
    dev_root.create_login_profile(UserName="dave", Password="Dave-Secret-Pass-123!")
    session_s3 = client(
        "s3", assumed["AccessKeyId"], assumed["SecretAccessKey"], assumed["SessionToken"]
    )
    url = session_s3.generate_presigned_url(
        "get_object", Params={"Bucket": "no-such-bucket-here", "Key": "k"}
    )
    httpx.get(url)

    secrets_seen = {
        alice["SecretAccessKey"],
        alice["Password"],
        alice["MfaSeed"],
        world["Users"]["bob"]["SecretAccessKey"],
        world["Users"]["bob"]["Password"],
        assumed["SecretAccessKey"],
        assumed["SessionToken"],
        session_token["SecretAccessKey"],
        session_token["SessionToken"],
        key["SecretAccessKey"],
        "Dave-Secret-Pass-123!",
        "An0ther-Secret-Pass!",
        world["Roots"]["development"]["SecretAccessKey"],
        world["Roots"]["production"]["SecretAccessKey"],
    }
    records = [
        *events(world["Accounts"]["development"]),
        *events(world["Accounts"]["production"]),
    ]
    names = {record["eventName"] for record in records}
    assert {
        "CreateAccessKey",
        "CreateLoginProfile",
        "CreateVirtualMFADevice",
        "EnableMFADevice",
        "AssumeRole",
        "GetSessionToken",
        "ChangePassword",
        "GetObject",
    } <= names
    text = json.dumps(records)
    for secret in secrets_seen:
        assert secret not in text
    for record in records:
        parameters = record.get("requestParameters") or {}
        for name in ("tokenCode", "authenticationCode1", "authenticationCode2", "password"):
            assert name not in parameters
        assert not any(name.lower().startswith("x-amz-") for name in parameters)


def test_retention_prunes_old_events(
    account: NewAccount, root_iam: Any, events: Events, server: RunningServer
) -> None:
    root_iam.create_group(GroupName="old-news")
    server.clock.advance(60 * 86400)
    recent = root_iam.create_group(GroupName="recent")
    server.clock.advance(31 * 86400)  # the first event is now 91 days old
    trail = trail_of(server)
    trail.flush()
    assert trail.prune() >= 1
    remaining = events(account.account_id)
    assert [record["eventName"] for record in remaining] == ["CreateGroup"]
    assert remaining[0]["requestID"] == _request_id(recent)


def test_a_success_whose_events_cannot_be_journaled_is_not_acknowledged(
    server: RunningServer,
    account: NewAccount,
    root_iam: Any,
    client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The journal write happens before the answer (batched per event loop turn); when it
    fails, a call that succeeded answers InternalFailure / InternalError instead."""
    trail = trail_of(server)
    if not hasattr(trail, "append"):
        pytest.skip("this store's trail writes each request's events in a transaction")
    s3 = client("s3", account.access_key_id, account.secret_access_key)
    s3.create_bucket(Bucket=f"journal-{secrets.token_hex(4)}")

    def full_disk(lines: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trail, "append", full_disk)
    monkeypatch.setattr(trail, "_batcher", type(trail._batcher)(full_disk))
    with pytest.raises(ClientError) as failed:
        root_iam.get_user()
    assert failed.value.response["Error"]["Code"] == "InternalFailure"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as failed_s3:
        s3.list_buckets()
    assert failed_s3.value.response["Error"]["Code"] == "InternalError"
    monkeypatch.undo()
    assert root_iam.get_user()["User"]["Arn"].endswith(":root")
