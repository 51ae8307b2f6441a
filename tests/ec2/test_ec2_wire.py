"""EC2's Query variant (server side) against botocore's own EC2 serializer and parser: what
boto3 sends parses to the params it was given, and what we write parses back in boto3 as
written. No server: the protocol functions only."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.parsers import EC2QueryParser
from botocore.serialize import EC2Serializer

from rolegate.wire.query import QueryProtocolError, get_protocol, parse_form_body

MODEL = botocore.session.get_session().get_service_model("ec2")
EC2 = get_protocol("ec2")

REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "RunInstances",
        {
            "ImageId": "ami-0a3c3a20c09d6f377",
            "MinCount": 1,
            "MaxCount": 3,
            "InstanceType": "t3.micro",
            "KeyName": "deploy",
            "SubnetId": "subnet-0abc",
            "TagSpecifications": [
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "env", "Value": "production"}, {"Key": "team", "Value": ""}],
                }
            ],
        },
    ),
    (
        "DescribeInstances",
        {
            "Filters": [
                {"Name": "tag:env", "Values": ["production", "staging"]},
                {"Name": "instance-state-name", "Values": ["running"]},
            ],
            "MaxResults": 5,
            "NextToken": "abc",
            "DryRun": False,
        },
    ),
    ("TerminateInstances", {"InstanceIds": ["i-0123456789abcdef0", "i-1"], "DryRun": True}),
    ("StopInstances", {"InstanceIds": ["i-1"], "Force": True}),
    ("CreateTags", {"Resources": ["i-1"], "Tags": [{"Key": "k", "Value": "v"}]}),
    ("DeleteTags", {"Resources": ["i-1", "i-2"], "Tags": [{"Key": "k"}]}),
    ("ModifyInstanceAttribute", {"InstanceId": "i-1", "DisableApiTermination": {"Value": True}}),
    ("ModifyInstanceAttribute", {"InstanceId": "i-1", "Attribute": "instanceType", "Value": "x"}),
    ("DescribeInstanceAttribute", {"InstanceId": "i-1", "Attribute": "disableApiTermination"}),
    ("DescribeImages", {"ImageIds": ["ami-1"], "Owners": ["amazon"]}),
    ("DescribeInstanceTypes", {"InstanceTypes": ["t3.micro"], "MaxResults": 5}),
]


@pytest.mark.parametrize(
    ("name", "params"), REQUESTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(REQUESTS)]
)
def test_what_botocore_sends_parses_to_its_params(name: str, params: dict[str, Any]) -> None:
    serialized = EC2Serializer().serialize_to_request(params, MODEL.operation_model(name))
    body = urllib.parse.urlencode(serialized["body"])
    operation, parsed = EC2.parse_request(parse_form_body(body))
    assert operation.name == name
    assert parsed == params


def test_a_missing_required_member_is_missing_parameter() -> None:
    form = parse_form_body("Action=TerminateInstances&Version=2016-11-15")
    with pytest.raises(QueryProtocolError) as raised:
        EC2.parse_request(form)
    assert (raised.value.code, raised.value.message) == (
        "MissingParameter",
        "The request must contain the parameter InstanceId",
    )


def test_a_bad_value_and_an_unknown_action_read_as_ec2_does() -> None:
    with pytest.raises(QueryProtocolError) as raised:
        EC2.parse_request(parse_form_body("Action=RunInstances&Version=2016-11-15&MinCount=x"))
    assert raised.value.code == "InvalidParameterValue"
    with pytest.raises(QueryProtocolError) as raised:
        EC2.parse_request(parse_form_body("Action=LaunchRockets&Version=2016-11-15"))
    assert (raised.value.code, raised.value.message) == (
        "InvalidAction",
        "The action LaunchRockets is not valid for this web service.",
    )


def _parsed(name: str, body: bytes, status: int = 200) -> dict[str, Any]:
    operation = MODEL.operation_model(name)
    parsed: dict[str, Any] = EC2QueryParser().parse(
        {"body": body, "headers": {}, "status_code": status}, operation.output_shape
    )
    return parsed


def test_answers_parse_back_in_botocore_as_written() -> None:
    launched = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    result = {
        "Reservations": [
            {
                "ReservationId": "r-1",
                "OwnerId": "111122223333",
                "Groups": [],
                "Instances": [
                    {
                        "InstanceId": "i-1",
                        "State": {"Code": 16, "Name": "running"},
                        "LaunchTime": launched,
                        "Tags": [{"Key": "env", "Value": "production"}],
                        "Placement": {"AvailabilityZone": "us-east-1a"},
                        "EbsOptimized": False,
                    }
                ],
            }
        ],
        "NextToken": "t",
    }
    body = EC2.serialize_response("DescribeInstances", result, "req-1")
    text = body.decode()
    assert text.startswith(
        '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        "<requestId>req-1</requestId>"
    )
    assert "<reservationSet><item>" in text and "DescribeInstancesResult" not in text
    parsed = _parsed("DescribeInstances", body)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    result["Reservations"][0]["Groups"] = []
    parsed["Reservations"][0].setdefault("Groups", [])
    assert parsed == result


def test_an_operation_without_output_answers_return_true() -> None:
    body = EC2.serialize_response("CreateTags", None, "req-2").decode()
    assert body == (
        '<CreateTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        "<requestId>req-2</requestId><return>true</return></CreateTagsResponse>"
    )


def test_errors_are_in_response_errors_with_request_id() -> None:
    body = EC2.serialize_error("InvalidInstanceID.NotFound", "The instance ID 'i-1' ...", 400, "r")
    assert b"<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>" in body
    assert body.endswith(b"</Error></Errors><RequestID>r</RequestID></Response>")
    parsed = EC2QueryParser().parse({"body": body, "headers": {}, "status_code": 400}, None)
    assert parsed["Error"] == {
        "Code": "InvalidInstanceID.NotFound",
        "Message": "The instance ID 'i-1' ...",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "r"
