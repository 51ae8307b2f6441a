"""CloudTrail record shapes, checked against the reference examples (AWS's documented events),
and the journal's crash-safety rules on a local store."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from rolegate.audit.capture import query_records
from rolegate.audit.cli import audit
from rolegate.audit.entries import encode_records
from rolegate.audit.record import (
    account_identity,
    clean,
    console_event,
    identity_for_key,
    identity_for_session,
    java_time,
    lookup_username,
)
from rolegate.audit.recorder import (
    THREAD_NAME,
    DirectAuditTrail,
    DisabledAuditTrail,
    JournalAuditTrail,
    ingest_journals,
    run_ingester,
)
from rolegate.bootstrap import open_database
from rolegate.clock import ManualClock
from rolegate.iam.access_keys import KeyOwner
from rolegate.store.database import Database, default_sqlite_url
from rolegate.store.schema import audit_event_resources, audit_events
from rolegate.sts.tokens import SessionClaims

JOHN = KeyOwner(
    access_key_id="AKIAQRSTUVWXYZEXAMPLE",
    secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    active=True,
    account_id="777788889999",
    generation=1,
    user_id="AIDAQRSTUVWXYZEXAMPLE",
    user_name="JohnDoe",
    user_path="/",
)
WHEN = datetime(2014, 7, 18, 15, 7, 39, tzinfo=UTC)


def _assume_role(request_id: str = "4EXAMPLE-0000") -> list[dict[str, object]]:
    """Its event ids follow from the request id: another request needs another id."""
    return query_records(
        identity=identity_for_key(JOHN),
        service="sts",
        operation="AssumeRole",
        params={
            "RoleArn": "arn:aws:iam::111122223333:role/EC2-dev",
            "RoleSessionName": "JohnDoe-EC2-dev",
            "SourceIdentity": "JohnDoe",
            "SerialNumber": "arn:aws:iam::777788889999:mfa",
            "TokenCode": "123456",
        },
        result={
            "Credentials": {
                "AccessKeyId": "ASIAQRSTUVWXYZEXAMPLE",
                "SecretAccessKey": "the-secret",
                "SessionToken": "the-token",
                "Expiration": WHEN + timedelta(hours=1),
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROAEXAMPLE:JohnDoe-EC2-dev",
                "Arn": "arn:aws:sts::111122223333:assumed-role/EC2-dev/JohnDoe-EC2-dev",
            },
            "SourceIdentity": "JohnDoe",
        },
        error=None,
        resource_arns=(),
        event_time=WHEN,
        region="us-east-2",
        source_ip="192.0.2.101",
        user_agent="aws-cli/1.11.10",
        request_id=request_id,
    )


def test_cross_account_assume_role_matches_the_iam_user_guide_example() -> None:
    mine, theirs = _assume_role()
    assert mine["userIdentity"] == {
        "type": "IAMUser",
        "principalId": "AIDAQRSTUVWXYZEXAMPLE",
        "arn": "arn:aws:iam::777788889999:user/JohnDoe",
        "accountId": "777788889999",
        "accessKeyId": "AKIAQRSTUVWXYZEXAMPLE",
        "userName": "JohnDoe",
    }
    assert mine["eventTime"] == "2014-07-18T15:07:39Z"
    assert mine["requestParameters"] == {
        "roleArn": "arn:aws:iam::111122223333:role/EC2-dev",
        "roleSessionName": "JohnDoe-EC2-dev",
        "sourceIdentity": "JohnDoe",
        "serialNumber": "arn:aws:iam::777788889999:mfa",
    }
    assert mine["responseElements"] == {
        "credentials": {
            "accessKeyId": "ASIAQRSTUVWXYZEXAMPLE",
            "expiration": "Jul 18, 2014 4:07:39 PM",
        },
        "assumedRoleUser": {
            "assumedRoleId": "AROAEXAMPLE:JohnDoe-EC2-dev",
            "arn": "arn:aws:sts::111122223333:assumed-role/EC2-dev/JohnDoe-EC2-dev",
        },
        "sourceIdentity": "JohnDoe",
    }
    assert mine["resources"] == [
        {
            "ARN": "arn:aws:iam::111122223333:role/EC2-dev",
            "accountId": "111122223333",
            "type": "AWS::IAM::Role",
        }
    ]
    assert (mine["eventType"], mine["eventSource"], mine["awsRegion"]) == (
        "AwsApiCall",
        "sts.amazonaws.com",
        "us-east-2",
    )
    assert mine["recipientAccountId"] == "777788889999"
    assert theirs["recipientAccountId"] == "111122223333"
    assert theirs["userIdentity"] == {
        "type": "AWSAccount",
        "principalId": "AIDAQRSTUVWXYZEXAMPLE",
        "accountId": "777788889999",
    }
    assert mine["sharedEventID"] == theirs["sharedEventID"]
    assert mine["eventID"] != theirs["eventID"]
    assert {
        key: value
        for key, value in theirs.items()
        if key not in ("userIdentity", "eventID", "recipientAccountId")
    } == {
        key: value
        for key, value in mine.items()
        if key not in ("userIdentity", "eventID", "recipientAccountId")
    }
    text = json.dumps([mine, theirs])
    assert "the-secret" not in text and "the-token" not in text and "123456" not in text
    assert lookup_username(mine) == "JohnDoe"
    assert lookup_username(theirs) == "JohnDoe-EC2-dev"


def test_same_account_assume_role_is_one_event_without_shared_id() -> None:
    [record] = query_records(
        identity=identity_for_key(JOHN),
        service="sts",
        operation="AssumeRole",
        params={"RoleArn": "arn:aws:iam::777788889999:role/Local", "RoleSessionName": "s"},
        result=None,
        error=("AccessDenied", "User: ... is not authorized"),
        resource_arns=(),
        event_time=WHEN,
        region="us-east-1",
        source_ip="127.0.0.1",
        user_agent=None,
        request_id="r",
    )
    assert "sharedEventID" not in record
    assert record["errorCode"] == "AccessDenied"
    assert record["responseElements"] is None


def test_role_session_identity_matches_the_access_denied_example() -> None:
    claims = SessionClaims(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="s",
        account_id="123456789012",
        issued_at=datetime(2021, 9, 9, 14, 1, 20, tzinfo=UTC).timestamp(),
        expires_at=0,
        kind="AssumedRole",
        principal_id="AROAEXAMPLE",
        principal_name="RscScpDisallow",
        session_name="1631196079303620000",
        source_identity="alice",
    )
    assert identity_for_session(claims) == {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:1631196079303620000",
        "arn": "arn:aws:sts::123456789012:assumed-role/RscScpDisallow/1631196079303620000",
        "accountId": "123456789012",
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": "arn:aws:iam::123456789012:role/RscScpDisallow",
                "accountId": "123456789012",
                "userName": "RscScpDisallow",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2021-09-09T14:01:20Z", "mfaAuthenticated": "false"},
            "sourceIdentity": "alice",
        },
    }
    user_session = SessionClaims(
        access_key_id="ASIAUSER",
        secret_access_key="s",
        account_id="444455556666",
        issued_at=WHEN.timestamp(),
        expires_at=0,
        kind="SessionToken",
        principal_id="AIDACKCEVSQ6C2EXAMPLE",
        principal_name="JaneDoe",
        mfa_authenticated_at=WHEN.timestamp(),
    )
    identity = identity_for_session(user_session)
    assert identity["type"] == "IAMUser"
    assert identity["arn"] == "arn:aws:iam::444455556666:user/JaneDoe"
    assert identity["sessionContext"] == {
        "attributes": {"creationDate": "2014-07-18T15:07:39Z", "mfaAuthenticated": "true"}
    }
    assert account_identity(identity) == {
        "type": "AWSAccount",
        "principalId": "AIDACKCEVSQ6C2EXAMPLE",
        "accountId": "444455556666",
    }


def test_console_login_success_and_failure() -> None:
    identity = {
        "type": "IAMUser",
        "principalId": "AIDACKCEVSQ6C2EXAMPLE",
        "arn": "arn:aws:iam::111122223333:user/anaya",
        "accountId": "111122223333",
        "userName": "anaya",
    }
    success = console_event(
        event_name="ConsoleLogin",
        identity=identity,
        event_time=WHEN,
        recipient="111122223333",
        source_ip="192.0.2.0",
        user_agent="Mozilla/5.0",
        additional={"LoginTo": "https://example/console", "MobileVersion": "No", "MFAUsed": "Yes"},
    )
    assert success["eventSource"] == "signin.amazonaws.com"
    assert success["eventType"] == "AwsConsoleSignIn"
    assert success["requestParameters"] is None
    assert success["responseElements"] == {"ConsoleLogin": "Success"}
    assert success["additionalEventData"]["MFAUsed"] == "Yes"
    assert "errorCode" not in success and "errorMessage" not in success
    failed = console_event(
        event_name="ConsoleLogin",
        identity={**identity, "accessKeyId": ""},
        event_time=WHEN,
        recipient="111122223333",
        source_ip="192.0.2.0",
        user_agent="Mozilla/5.0",
        success=False,
        additional={"Password": "never", "MFAUsed": "No"},
    )
    assert failed["errorMessage"] == "Failed authentication"
    assert "errorCode" not in failed
    assert failed["responseElements"] == {"ConsoleLogin": "Failure"}
    assert "Password" not in failed["additionalEventData"]


def test_clean_drops_secrets_at_any_depth_and_formats_dates() -> None:
    assert clean(
        {
            "AccessKey": {"AccessKeyId": "AKIA1", "SecretAccessKey": "s", "CreateDate": WHEN},
            "VirtualMFADevice": {
                "SerialNumber": "arn",
                "Base32StringSeed": b"x",
                "QRCodePNG": b"y",
            },
            "Password": "p",
            "NewPassword": "n",
            "OldPassword": "o",
            "AuthenticationCode1": "1",
            "AuthenticationCode2": "2",
            "Tags": [{"Key": "k", "Value": "v"}],
        }
    ) == {
        "accessKey": {"accessKeyId": "AKIA1", "createDate": "Jul 18, 2014 3:07:39 PM"},
        "virtualMFADevice": {"serialNumber": "arn"},
        "tags": [{"key": "k", "value": "v"}],
    }
    assert java_time(datetime(2020, 1, 2, 0, 5, 6)) == "Jan 2, 2020 12:05:06 AM"
    assert java_time(datetime(2020, 1, 2, 12, 5, 6)) == "Jan 2, 2020 12:05:06 PM"


# --------------------------------------------------------------------------- the journal
def _database(tmp_path: Path) -> Database:
    return open_database(default_sqlite_url(tmp_path / "store"), clock=ManualClock(WHEN))


def _count(database: Database) -> tuple[int, int]:
    with database.read() as uow:
        events = len(list(uow.connection.execute(audit_events.select())))
        resources = len(list(uow.connection.execute(audit_event_resources.select())))
    return events, resources


def test_journal_ingestion_is_idempotent_and_survives_a_torn_line(tmp_path: Path) -> None:
    database = _database(tmp_path)
    directory = tmp_path / "journal"
    trail = JournalAuditTrail(database, directory, background=False)
    records = _assume_role()
    trail.record(records, at=WHEN)
    assert _count(database) == (0, 0)
    assert trail.flush() == 2
    assert _count(database) == (2, 2)
    # A crash between the commit and the removal: the same lines again, plus a torn one.
    trail.append(encode_records(records, WHEN) + b'["torn')
    assert trail.flush() == 0
    assert _count(database) == (2, 2)
    dead = directory / trail.path.name.replace(str(os.getpid()), "1")
    dead.write_bytes(encode_records(_assume_role("4EXAMPLE-0001"), WHEN) + b'["torn')
    assert ingest_journals(database, directory, skip=trail.path) == 2
    assert not dead.exists()
    assert _count(database) == (4, 4)
    # The live journal is locked: another recorder leaves it alone.
    other = JournalAuditTrail(database, directory, background=False)
    assert other.ingest_orphans() == 0 and trail.path.exists()
    other.close()
    trail.close()
    database.dispose()


def test_journal_rotates_by_size_and_each_closed_journal_is_removed_once_ingested(
    tmp_path: Path,
) -> None:
    database = _database(tmp_path)
    directory = tmp_path / "journal"
    trail = JournalAuditTrail(database, directory, background=False)
    trail.ROTATE_BYTES = 1
    trail.record(_assume_role(), at=WHEN)
    first = trail.path
    trail.record(_assume_role("4EXAMPLE-0001"), at=WHEN)  # past ROTATE_BYTES: a new journal
    assert trail.path != first and first.stat().st_size > 0
    assert trail.flush() == 4
    assert [path.name for path in directory.iterdir()] == [trail.path.name]
    assert trail.path.stat().st_size == 0
    trail.close()
    assert not trail.path.exists()
    database.dispose()


def test_a_separate_ingester_stores_what_the_trail_closes_every_interval(tmp_path: Path) -> None:
    """`ingest=False` (`rolegate serve`): the trail's thread only closes the journal every
    `interval`; `run_ingester` (the ingesting process's loop) stores and removes it. The
    trail's own flush still works beside it."""
    database = _database(tmp_path)
    directory = tmp_path / "journal"
    trail = JournalAuditTrail(database, directory, interval=0.05, ingest=False)
    stop = threading.Event()
    ingester = threading.Thread(
        target=run_ingester, args=(database, directory), kwargs={"interval": 0.05, "stop": stop}
    )
    try:
        trail.record(_assume_role(), at=WHEN)
        ingester.start()
        deadline = time.monotonic() + 10
        while _count(database) != (2, 2) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _count(database) == (2, 2)
        trail.record(_assume_role("4EXAMPLE-0001"), at=WHEN)
        trail.flush()
        assert _count(database) == (4, 4)
    finally:
        stop.set()
        if ingester.is_alive():
            ingester.join(timeout=10)
        trail.close()
    assert list(directory.iterdir()) == []
    database.dispose()


def test_audit_ingest_command_stores_journals_nobody_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = open_database(default_sqlite_url(data))
    directory = data / "audit-journal"
    trail = JournalAuditTrail(database, directory, background=False)
    trail.record(_assume_role(), at=WHEN)
    held = CliRunner().invoke(audit, ["ingest", "--data", str(data)])
    assert held.exit_code == 0 and held.output == "0 events stored, 0 pruned\n"
    trail.close()  # stores its events itself
    orphan = directory / trail.path.name.replace(str(os.getpid()), "1")
    orphan.write_bytes(encode_records(_assume_role("4EXAMPLE-0001"), WHEN))
    result = CliRunner().invoke(audit, ["ingest", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2 events stored, ")
    assert not orphan.exists()
    database.dispose()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="names threads through /proc")
def test_the_ingesting_thread_is_named_in_the_os(tmp_path: Path) -> None:
    database = _database(tmp_path)
    trail = JournalAuditTrail(database, tmp_path / "journal", interval=60.0)
    try:
        assert trail._thread is not None and trail._thread.name == THREAD_NAME
        comm = Path(f"/proc/self/task/{trail._thread.native_id}/comm")
        deadline = time.monotonic() + 5
        while comm.read_text().strip() != THREAD_NAME and time.monotonic() < deadline:
            time.sleep(0.01)
        assert comm.read_text().strip() == THREAD_NAME
    finally:
        trail.close()
        database.dispose()


def test_retention_and_the_other_trails(tmp_path: Path) -> None:
    database = _database(tmp_path)
    clock = database.clock
    assert isinstance(clock, ManualClock)
    direct = DirectAuditTrail(database, retention_days=90, background=False)
    direct.record(_assume_role(), at=WHEN)
    clock.advance(45 * 86400)
    later = WHEN + timedelta(days=45)
    direct.record(_assume_role("4EXAMPLE-0001"), at=later)
    assert _count(database) == (4, 4)
    clock.advance(46 * 86400)
    assert direct.prune() == 2
    assert _count(database) == (2, 2)
    disabled = DisabledAuditTrail(database)
    disabled.record(_assume_role())
    assert not disabled.enabled and _count(database) == (2, 2)
    recorded = direct.record_console_event(
        event_name="SwitchRole",
        identity={"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/s"},
        event_time=later,
        recipient="111122223333",
        source_ip="127.0.0.1",
        user_agent="Mozilla/5.0",
        additional={"SwitchFrom": "arn:aws:iam::2:user/u"},
    )
    assert recorded["responseElements"] == {"SwitchRole": "Success"}
    assert _count(database) == (3, 2)
    database.dispose()


def test_a_captured_request_gives_the_same_event_ids_each_time_it_is_built() -> None:
    """Ingesting a journal line again (a crash before its journal was removed) must not
    store its events twice: the ids follow from the request's time and request id."""
    first, second = _assume_role(), _assume_role()
    assert [r["eventID"] for r in first] == [r["eventID"] for r in second]
    assert first[0]["sharedEventID"] == second[0]["sharedEventID"]
    ids = {first[0]["eventID"], first[1]["eventID"], first[0]["sharedEventID"]}
    assert len(ids) == 3
    other = _assume_role("4EXAMPLE-0001")
    assert not ids & {other[0]["eventID"], other[1]["eventID"], other[0]["sharedEventID"]}
    for event_id in ids:
        assert event_id[14] == "7" and event_id[19] in "89ab"  # RFC 9562 version 7
    milliseconds = int(first[0]["eventID"].replace("-", "")[:12], 16)
    assert milliseconds == int(WHEN.timestamp() * 1000)
