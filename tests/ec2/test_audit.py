"""EC2 calls in the audit trail: eventSource ec2.amazonaws.com, readOnly for Describe*, the
instances a call was authorized on as its resources, EC2's `Client.` error codes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

import audit.conftest as audit_fixtures
from rolegate.iam.accounts import NewAccount

from .conftest import UserClients

events = audit_fixtures.events

AMI = "ami-0a3c3a20c09d6f377"


def _named(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [record for record in found if record["eventName"] == name]


def test_ec2_calls_are_recorded_with_their_instances(
    root_ec2: Any, account: NewAccount, user_clients: UserClients, events: Any
) -> None:
    made = root_ec2.run_instances(
        ImageId=AMI,
        MinCount=2,
        MaxCount=2,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": "staging"}]}
        ],
    )
    ids = [instance["InstanceId"] for instance in made["Instances"]]
    root_ec2.describe_instances()
    root_ec2.terminate_instances(InstanceIds=ids)
    user = user_clients({"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"})
    with pytest.raises(ClientError):  # refused: its record is what matters here
        user["ec2"].stop_instances(InstanceIds=ids[:1])
    found = events(account.account_id, event_source="ec2.amazonaws.com")

    (run,) = _named(found, "RunInstances")
    assert run["eventSource"] == "ec2.amazonaws.com" and run["readOnly"] is False
    assert run["awsRegion"] == "us-east-1"
    assert run["requestParameters"]["minCount"] == 2
    assert run["responseElements"]["reservationId"] == made["ReservationId"]
    assert {resource["ARN"] for resource in run["resources"]} == {
        f"arn:aws:ec2:us-east-1::image/{AMI}"
    }

    (describe,) = _named(found, "DescribeInstances")
    assert describe["readOnly"] is True and describe.get("responseElements") is None
    assert "resources" not in describe or describe["resources"] == []

    (terminate,) = _named(found, "TerminateInstances")
    arns = [f"arn:aws:ec2:us-east-1:{account.account_id}:instance/{i}" for i in ids]
    assert terminate["resources"] == [
        {"ARN": arn, "type": "AWS::EC2::Instance", "accountId": account.account_id} for arn in arns
    ]

    (refused,) = _named(found, "StopInstances")
    assert refused["errorCode"] == "Client.UnauthorizedOperation"
    assert refused["userIdentity"]["arn"] == user["arn"]
    assert refused["resources"][0]["ARN"] == arns[0]
