"""CloudTrail's LookupEvents end to end: boto3, its paginator and the aws CLI against the server.

Events are inserted straight into the store (`_Events`: realistic CloudTrail records with the
filter columns the recorder fills); one test looks up events recorded by real calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import insert

from rolegate.iam.accounts import NewAccount
from rolegate.store.schema import audit_data_events, audit_event_resources, audit_events

from .conftest import ClientFactory
from .server import RunningServer

EVENT_SOURCES = {"iam": "iam.amazonaws.com", "sts": "sts.amazonaws.com", "s3": "s3.amazonaws.com"}


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


class _Events:
    """Inserts CloudTrail records for one account, `age` seconds before the server's now."""

    def __init__(self, server: RunningServer, account_id: str) -> None:
        self.server = server
        self.account_id = account_id

    def add(
        self,
        name: str,
        *,
        age: float = 60.0,
        service: str = "iam",
        user: str | None = "alice",
        key: str | None = "AKIAALICEEXAMPLE0001",
        read_only: bool | None = None,
        category: str = "Management",
        resources: tuple[tuple[str, str], ...] = (),
        at: datetime | None = None,
    ) -> str:
        moment = at or self.server.clock.now() - timedelta(seconds=age)
        event_id = str(uuid.uuid4())
        read_only = name.startswith(("Get", "List", "Describe")) if read_only is None else read_only
        arn = f"arn:aws:iam::{self.account_id}:user/{user}" if user else None
        record = {
            "eventVersion": "1.11",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": arn,
                "accountId": self.account_id,
                "accessKeyId": key,
                "userName": user,
            },
            "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": EVENT_SOURCES[service],
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "192.0.2.10",
            "userAgent": "test",
            "requestParameters": None,
            "responseElements": None,
            "requestID": str(uuid.uuid4()),
            "eventID": event_id,
            "readOnly": read_only,
            "resources": [{"type": kind, "ARN": value} for kind, value in resources],
            "eventType": "AwsApiCall",
            "managementEvent": category == "Management",
            "recipientAccountId": self.account_id,
            "eventCategory": category,
        }
        with self.server.database.write() as uow:
            if category == "Data":  # stored as the recorder stores them: apart, no lookup rows
                uow.connection.execute(
                    insert(audit_data_events).values(
                        event_id=event_id,
                        account_id=self.account_id,
                        event_time=moment,
                        event_name=name,
                        record=json.dumps(record),
                    )
                )
                return event_id
            uow.connection.execute(
                insert(audit_events).values(
                    event_id=event_id,
                    account_id=self.account_id,
                    event_time=moment,
                    event_name=name,
                    event_source=EVENT_SOURCES[service],
                    read_only=read_only,
                    username=user,
                    access_key_id=key,
                    event_category=category,
                    record=json.dumps(record),
                )
            )
            for kind, value in resources:
                uow.connection.execute(
                    insert(audit_event_resources).values(
                        event_id=event_id,
                        account_id=self.account_id,
                        event_time=moment,
                        resource_type=kind,
                        resource_name=value,
                    )
                )
        return event_id


@pytest.fixture
def events(server: RunningServer, account: NewAccount) -> _Events:
    return _Events(server, account.account_id)


@pytest.fixture
def trail(account: NewAccount, client: ClientFactory) -> Any:
    """A CloudTrail client signed with the account's root key."""
    return client("cloudtrail", account.access_key_id, account.secret_access_key)


def _ids(response: dict[str, Any]) -> list[str]:
    return [event["EventId"] for event in response["Events"]]


def _lookup(trail: Any, key: str, value: str, **extra: Any) -> list[str]:
    attributes = [{"AttributeKey": key, "AttributeValue": value}]
    return _ids(trail.lookup_events(LookupAttributes=attributes, **extra))


# --------------------------------------------------------------------------- lookups


def test_each_attribute_key_finds_its_events_newest_first(events: _Events, trail: Any) -> None:
    user_arn = f"arn:aws:iam::{events.account_id}:user/bob"
    create = events.add(
        "CreateUser", age=300, resources=(("AWS::IAM::User", user_arn), ("AWS::IAM::User", "x"))
    )
    get = events.add("GetUser", age=200, resources=(("AWS::IAM::User", user_arn),))
    assume = events.add(
        "AssumeRole",
        age=100,
        service="sts",
        user="carol",
        key="AKIACAROLEXAMPLE0001",
        resources=(("AWS::IAM::Role", f"arn:aws:iam::{events.account_id}:role/Admin"),),
    )
    assert _ids(trail.lookup_events()) == [assume, get, create]
    assert _lookup(trail, "EventId", get) == [get]
    assert _lookup(trail, "EventName", "CreateUser") == [create]
    assert _lookup(trail, "ReadOnly", "true") == [get]
    assert _lookup(trail, "ReadOnly", "false") == [assume, create]
    assert _lookup(trail, "Username", "carol") == [assume]
    assert _lookup(trail, "Username", "Carol") == []  # exact, case-sensitive
    assert _lookup(trail, "ResourceType", "AWS::IAM::User") == [get, create]
    assert _lookup(trail, "ResourceName", user_arn) == [get, create]
    assert _lookup(trail, "EventSource", "sts.amazonaws.com") == [assume]
    assert _lookup(trail, "AccessKeyId", "AKIAALICEEXAMPLE0001") == [get, create]

    event = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": create}]
    )["Events"][0]
    assert event["EventName"] == "CreateUser"
    assert event["ReadOnly"] == "false"
    assert event["AccessKeyId"] == "AKIAALICEEXAMPLE0001"
    assert event["EventSource"] == "iam.amazonaws.com"
    assert event["Username"] == "alice"
    assert sorted(event["Resources"], key=lambda r: r["ResourceName"]) == [
        {"ResourceType": "AWS::IAM::User", "ResourceName": user_arn},
        {"ResourceType": "AWS::IAM::User", "ResourceName": "x"},
    ]
    record = json.loads(event["CloudTrailEvent"])  # the whole record, as a JSON string
    assert record["eventID"] == create and record["readOnly"] is False
    assert isinstance(event["EventTime"], datetime)
    assert (
        abs(
            event["EventTime"].timestamp()
            - datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")).timestamp()
        )
        < 1
    )


def test_time_ranges_are_inclusive_and_default_to_90_days(
    events: _Events, trail: Any, server: RunningServer
) -> None:
    old = events.add("CreateRole", age=100 * 86400)
    week = events.add("CreateRole", age=7 * 86400)
    hour = events.add("CreateRole", age=3600)
    assert _lookup(trail, "EventName", "CreateRole") == [hour, week]
    now = server.clock.now()
    window = {"StartTime": now - timedelta(days=8), "EndTime": now - timedelta(days=1)}
    assert _lookup(trail, "EventName", "CreateRole", **window) == [week]
    assert _lookup(trail, "EventName", "CreateRole", StartTime=now - timedelta(days=120)) == [
        hour,
        week,
        old,
    ]
    assert _lookup(trail, "EventName", "CreateRole", EndTime=now - timedelta(days=2)) == [week]
    with pytest.raises(ClientError) as caught:  # EndTime defaults to now
        trail.lookup_events(StartTime=now + timedelta(hours=1))
    assert _error(caught) == ("InvalidTimeRangeException", 400)


def test_data_and_insight_events_are_never_returned(events: _Events, trail: Any) -> None:
    events.add("GetObject", service="s3", category="Data")
    put = events.add("PutBucketPolicy", service="s3")
    assert _ids(trail.lookup_events()) == [put]
    assert _lookup(trail, "EventName", "GetObject") == []
    assert _ids(trail.lookup_events(EventCategory="insight")) == []


def test_another_accounts_events_are_invisible(
    events: _Events,
    trail: Any,
    server: RunningServer,
    make_account: Callable[..., NewAccount],
    client: ClientFactory,
) -> None:
    mine = events.add("CreateUser")
    other = make_account()
    theirs = _Events(server, other.account_id).add("CreateUser")
    other_trail = client("cloudtrail", other.access_key_id, other.secret_access_key)
    assert _ids(trail.lookup_events()) == [mine]
    assert _ids(other_trail.lookup_events()) == [theirs]
    assert _lookup(trail, "EventId", theirs) == []


# --------------------------------------------------------------------------- paging


def test_the_paginator_walks_every_page_newest_first(events: _Events, trail: Any) -> None:
    created = [events.add("ListUsers", age=1000 - i) for i in range(120)]
    paginator = trail.get_paginator("lookup_events")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 50}))
    assert [len(page["Events"]) for page in pages] == [50, 50, 20]
    assert [event_id for page in pages for event_id in _ids(page)] == created[::-1]
    default = list(paginator.paginate())
    assert [len(page["Events"]) for page in default] == [50, 50, 20]  # MaxResults default 50
    limited = paginator.paginate(PaginationConfig={"MaxItems": 30, "PageSize": 20})
    assert [event_id for event_id in limited.build_full_result()["Events"]] != []
    assert len(limited.build_full_result()["Events"]) == 30


def test_pages_are_stable_while_events_arrive(events: _Events, trail: Any) -> None:
    created = [events.add("GetRole", age=500 - i) for i in range(10)]
    first = trail.lookup_events(MaxResults=4)
    events.add("GetRole", age=1)  # newer than every page: never shifts them
    events.add("GetRole", age=0.5)
    second = trail.lookup_events(MaxResults=4, NextToken=first["NextToken"])
    third = trail.lookup_events(MaxResults=4, NextToken=second["NextToken"])
    assert _ids(first) + _ids(second) + _ids(third) == created[::-1]
    assert "NextToken" not in third


def test_equal_times_page_by_event_id(events: _Events, trail: Any, server: RunningServer) -> None:
    moment = server.clock.now() - timedelta(minutes=5)
    created = [events.add("GetPolicy", at=moment) for _ in range(3)]
    seen: list[str] = []
    token = None
    for _ in range(3):
        page = trail.lookup_events(MaxResults=1, **({"NextToken": token} if token else {}))
        seen += _ids(page)
        token = page.get("NextToken")
    assert sorted(seen) == sorted(created) and len(set(seen)) == 3
    assert seen == sorted(created, reverse=True)


# --------------------------------------------------------------------------- errors


def test_bad_requests_are_cloudtrails_errors(
    events: _Events,
    trail: Any,
    account: NewAccount,
    client: ClientFactory,
    make_account: Callable[..., NewAccount],
    server: RunningServer,
) -> None:
    for _ in range(3):
        events.add("GetUser")
    two = [
        {"AttributeKey": "Username", "AttributeValue": "alice"},
        {"AttributeKey": "EventName", "AttributeValue": "GetUser"},
    ]
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(LookupAttributes=two)
    assert _error(caught) == ("InvalidLookupAttributesException", 400)
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(LookupAttributes=[{"AttributeKey": "Nope", "AttributeValue": "x"}])
    assert _error(caught) == ("InvalidLookupAttributesException", 400)
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(MaxResults=51)
    assert _error(caught) == ("InvalidMaxResultsException", 400)
    now = server.clock.now()
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(StartTime=now, EndTime=now - timedelta(hours=1))
    assert _error(caught) == ("InvalidTimeRangeException", 400)
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(EventCategory="management")
    assert _error(caught) == ("InvalidEventCategoryException", 400)

    token = trail.lookup_events(MaxResults=1)["NextToken"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (forged, "not-a-token", token[:10]):
        with pytest.raises(ClientError) as caught:
            trail.lookup_events(MaxResults=1, NextToken=bad)
        assert _error(caught) == ("InvalidNextTokenException", 400)
    with pytest.raises(ClientError) as caught:  # same token, another query
        trail.lookup_events(
            MaxResults=1,
            NextToken=token,
            LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "alice"}],
        )
    assert _error(caught) == ("InvalidNextTokenException", 400)
    other = make_account()
    other_trail = client("cloudtrail", other.access_key_id, other.secret_access_key)
    with pytest.raises(ClientError) as caught:  # another account cannot replay it
        other_trail.lookup_events(MaxResults=1, NextToken=token)
    assert _error(caught) == ("InvalidNextTokenException", 400)
    assert len(trail.lookup_events(MaxResults=2, NextToken=token)["Events"]) == 2


def test_unsupported_operations_and_bad_bodies(trail: Any, account: NewAccount) -> None:
    with pytest.raises(ClientError) as caught:
        trail.describe_trails()
    assert _error(caught) == ("UnknownOperationException", 400)

    def send(body: bytes, target: str = "LookupEvents") -> Any:
        def replace(request: Any, **_: Any) -> None:
            request.data = body
            del request.headers["X-Amz-Target"]
            request.headers["X-Amz-Target"] = (
                f"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{target}"
            )

        trail.meta.events.register_first("before-sign.cloudtrail.LookupEvents", replace)
        try:
            return trail.lookup_events()
        finally:
            trail.meta.events.unregister("before-sign.cloudtrail.LookupEvents", replace)

    for body in (b'{"MaxResults": "five"}', b"[]", b"{"):
        with pytest.raises(ClientError) as caught:
            send(body)
        assert _error(caught) == ("SerializationException", 400)
    with pytest.raises(ClientError) as caught:
        send(b"{}", "Nope")
    assert _error(caught) == ("UnknownOperationException", 400)


def test_lookup_needs_cloudtrail_lookup_events(
    root_iam: Any, account: NewAccount, client: ClientFactory, events: _Events
) -> None:
    events.add("CreateUser")
    root_iam.create_user(UserName="auditor")
    key = root_iam.create_access_key(UserName="auditor")["AccessKey"]
    auditor = client("cloudtrail", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        auditor.lookup_events()
    assert _error(caught) == ("AccessDeniedException", 400)
    message = caught.value.response["Error"]["Message"]
    assert f"arn:aws:iam::{account.account_id}:user/auditor" in message
    assert "cloudtrail:LookupEvents" in message
    narrow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "cloudtrail:LookupEvents",
                "Resource": f"arn:aws:cloudtrail:us-east-1:{account.account_id}:trail/x",
            }
        ],
    }
    root_iam.put_user_policy(
        UserName="auditor", PolicyName="narrow", PolicyDocument=json.dumps(narrow)
    )
    with pytest.raises(ClientError) as caught:  # LookupEvents is authorized on "*" only
        auditor.lookup_events()
    assert _error(caught) == ("AccessDeniedException", 400)
    narrow["Statement"][0]["Resource"] = "*"
    root_iam.put_user_policy(
        UserName="auditor", PolicyName="narrow", PolicyDocument=json.dumps(narrow)
    )
    assert len(auditor.lookup_events()["Events"]) >= 1


def test_unsigned_and_badly_signed_requests(
    server: RunningServer, client: ClientFactory, account: NewAccount
) -> None:
    import httpx

    target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
    response = httpx.post(
        server.url,
        content=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "MissingAuthenticationTokenException"
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    wrong = client("cloudtrail", account.access_key_id, "not-the-secret")
    with pytest.raises(ClientError) as caught:
        wrong.lookup_events()
    assert _error(caught) == ("InvalidSignatureException", 400)
    unknown = client("cloudtrail", "AKIANOSUCHKEY0000000", "secret")
    with pytest.raises(ClientError) as caught:
        unknown.lookup_events()
    assert _error(caught) == ("UnrecognizedClientException", 400)


# --------------------------------------------------------------------------- real records


def _recorded(trail: Any, key: str, value: str, deadline: float = 15.0) -> list[dict[str, Any]]:
    """Events recorded by real calls reach the store through the journal: poll for them."""
    until = time.monotonic() + deadline
    while True:
        found: list[dict[str, Any]] = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}]
        )["Events"]
        if found or time.monotonic() > until:
            return found
        time.sleep(0.1)


def test_events_recorded_by_real_calls_are_looked_up(
    root_iam: Any, trail: Any, account: NewAccount
) -> None:
    root_iam.create_user(UserName="recorded-user")
    found = _recorded(trail, "EventName", "CreateUser")
    if not found:
        pytest.skip("the audit recorder did not record the call")
    event = found[0]
    assert event["EventSource"] == "iam.amazonaws.com"
    assert event["ReadOnly"] == "false"
    assert event["AccessKeyId"] == account.access_key_id
    record = json.loads(event["CloudTrailEvent"])
    assert record["eventName"] == "CreateUser"
    assert record["recipientAccountId"] == account.account_id
    assert _recorded(trail, "AccessKeyId", account.access_key_id)


# --------------------------------------------------------------------------- aws CLI


@pytest.fixture
def aws(server: RunningServer, account: NewAccount, tmp_path: Path) -> Iterator[Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_MAX_ATTEMPTS": "1",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("aws")), "--endpoint-url", server.url, *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )

    yield run


def test_aws_cloudtrail_lookup_events(events: _Events, aws: Any) -> None:
    created = [events.add("CreateGroup", age=100 - i, user="dave") for i in range(7)]
    events.add("CreateGroup", user="erin")
    done = aws(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=Username,AttributeValue=dave",
        "--page-size",
        "3",
        "--output",
        "json",
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["Events"]
    assert [event["EventId"] for event in listed] == created[::-1]
    assert all(event["Username"] == "dave" for event in listed)
    done = aws("cloudtrail", "lookup-events", "--max-results", "99")
    assert done.returncode != 0
    assert "InvalidMaxResultsException" in done.stderr
