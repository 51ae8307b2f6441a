"""EC2 authorized by the engine: instance ARNs, EC2's condition keys (resource tags, request
tags, tag keys, instance type, region), per-instance checks of multi-instance calls,
UnauthorizedOperation with a message sts:DecodeAuthorizationMessage opens, and DryRun."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount

from .conftest import UserClients

AMI = "ami-0a3c3a20c09d6f377"
DESCRIBE = {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}
DECODE = {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}
TERMINATE_PRODUCTION = {
    "Effect": "Allow",
    "Action": "ec2:TerminateInstances",
    "Resource": "arn:aws:ec2:*:*:instance/*",
    "Condition": {"StringEquals": {"ec2:ResourceTag/env": "production"}},
}


def _run(ec2: Any, count: int = 1, **tags: str) -> list[str]:
    specification = [
        {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    ]
    made = ec2.run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, TagSpecifications=specification
    )
    return [instance["InstanceId"] for instance in made["Instances"]]


def _refusal(call: Any, *args: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(*args, **params)
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _state(ec2: Any, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(found[0]["Instances"][0]["State"]["Name"])


def test_terminate_only_production_instances_with_a_decodable_refusal(
    root_ec2: Any, user_clients: UserClients, account: NewAccount
) -> None:
    production = _run(root_ec2, 2, env="production")
    (staging,) = _run(root_ec2, 1, env="staging")
    user = user_clients(DESCRIBE, DECODE, TERMINATE_PRODUCTION)
    ec2 = user["ec2"]
    done = ec2.terminate_instances(InstanceIds=[production[0]])["TerminatingInstances"]
    assert done[0]["CurrentState"]["Name"] == "shutting-down"

    code, message, status = _refusal(ec2.terminate_instances, InstanceIds=[staging])
    arn = f"arn:aws:ec2:us-east-1:{account.account_id}:instance/{staging}"
    assert (code, status) == ("UnauthorizedOperation", 403)
    prefix = (
        f"You are not authorized to perform this operation. User: {user['arn']} is not "
        f"authorized to perform: ec2:TerminateInstances on resource: {arn} because no "
        "identity-based policy allows the ec2:TerminateInstances action. "
        "Encoded authorization failure message: "
    )
    assert message.startswith(prefix)
    decoded = json.loads(
        user["sts"].decode_authorization_message(EncodedMessage=message[len(prefix) :])[
            "DecodedMessage"
        ]
    )
    assert decoded["allowed"] is False
    assert decoded["context"]["action"] == "ec2:TerminateInstances"
    assert decoded["context"]["resource"] == arn
    conditions = {
        entry["key"]: entry["values"]["items"]
        for entry in decoded["context"]["conditions"]["items"]
    }
    assert conditions["ec2:ResourceTag/env"] == [{"value": "staging"}]
    assert conditions["ec2:InstanceType"] == [{"value": "t2.micro"}]

    # One refused instance fails the whole call: the production one is left alone.
    code, _, _ = _refusal(ec2.terminate_instances, InstanceIds=[production[1], staging])
    assert code == "UnauthorizedOperation"
    assert _state(root_ec2, production[1]) == "pending"
    assert _state(root_ec2, staging) == "pending"


def test_dry_run_answers_whether_the_call_would_be_allowed(
    root_ec2: Any, user_clients: UserClients
) -> None:
    (production,) = _run(root_ec2, 1, env="production")
    (staging,) = _run(root_ec2, 1, env="staging")
    ec2 = user_clients(DESCRIBE, TERMINATE_PRODUCTION)["ec2"]
    code, message, status = _refusal(ec2.terminate_instances, InstanceIds=[production], DryRun=True)
    assert (code, message, status) == (
        "DryRunOperation",
        "Request would have succeeded, but DryRun flag is set.",
        412,
    )
    assert _state(root_ec2, production) == "pending"
    assert _refusal(ec2.terminate_instances, InstanceIds=[staging], DryRun=True)[0] == (
        "UnauthorizedOperation"
    )
    assert _refusal(ec2.describe_instances, DryRun=True)[0] == "DryRunOperation"


def test_describe_is_authorized_on_every_resource(root_ec2: Any, user_clients: UserClients) -> None:
    _run(root_ec2, 1, env="production")
    scoped = user_clients(
        {
            "Effect": "Allow",
            "Action": "ec2:DescribeInstances",
            "Resource": "arn:aws:ec2:*:*:instance/*",
        }
    )
    code, message, status = _refusal(scoped["ec2"].describe_instances)
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert (
        f"User: {scoped['arn']} is not authorized to perform: ec2:DescribeInstances because"
        in message
    )
    everything = user_clients(DESCRIBE)["ec2"]
    assert len(everything.describe_instances()["Reservations"]) == 1
    assert everything.describe_images()["Images"]


def test_run_instances_checks_request_tags_instance_type_and_tagging_on_create(
    user_clients: UserClients,
) -> None:
    run_staging_micro = {
        "Effect": "Allow",
        "Action": "ec2:RunInstances",
        "Resource": "arn:aws:ec2:*:*:instance/*",
        "Condition": {
            "StringEquals": {"aws:RequestTag/env": "staging", "ec2:InstanceType": "t3.micro"}
        },
    }
    images = {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*::image/*"}
    tag_on_create = {
        "Effect": "Allow",
        "Action": "ec2:CreateTags",
        "Resource": "*",
        "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}},
    }

    def run(ec2: Any, env: str, kind: str) -> Any:
        return ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            InstanceType=kind,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": env}]}
            ],
        )

    ec2 = user_clients(run_staging_micro, images, tag_on_create)["ec2"]
    assert run(ec2, "staging", "t3.micro")["Instances"][0]["Tags"] == [
        {"Key": "env", "Value": "staging"}
    ]
    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        run(ec2, "production", "t3.micro")
    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        run(ec2, "staging", "m5.large")
    without_tagging = user_clients(run_staging_micro, images)["ec2"]
    code, message, _ = _refusal(run, without_tagging, "staging", "t3.micro")
    assert code == "UnauthorizedOperation" and "ec2:CreateTags" in message
    without_image = user_clients(run_staging_micro, tag_on_create)["ec2"]
    code, message, _ = _refusal(run, without_image, "staging", "t3.micro")
    assert code == "UnauthorizedOperation" and f"image/{AMI}" in message


def test_tag_keys_limit_what_may_be_tagged(root_ec2: Any, user_clients: UserClients) -> None:
    (instance_id,) = _run(root_ec2, 1, env="staging")
    ec2 = user_clients(
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
            "Resource": "arn:aws:ec2:*:*:instance/*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["owner", "team"]}},
        }
    )["ec2"]
    ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "owner", "Value": "ops"}])
    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "env", "Value": "production"}])
    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": "env"}])
    ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": "owner"}])
    tags = root_ec2.describe_tags()["Tags"]
    assert [(tag["Key"], tag["Value"]) for tag in tags] == [("env", "staging")]


def test_region_and_explicit_deny(
    root_ec2: Any, user_clients: UserClients, account: NewAccount
) -> None:
    (instance_id,) = _run(root_ec2, 1, env="production")
    user = user_clients(
        {
            "Effect": "Allow",
            "Action": ["ec2:Describe*", "ec2:StopInstances", "ec2:StartInstances"],
            "Resource": "*",
            "Condition": {"StringEquals": {"ec2:Region": "us-east-1"}},
        },
        {
            "Effect": "Deny",
            "Action": "ec2:StartInstances",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/env": "production"}},
        },
    )
    assert user["ec2"].describe_instances()["Reservations"]
    code, message, _ = _refusal(user["ec2"].start_instances, InstanceIds=[instance_id])
    assert code == "UnauthorizedOperation"
    assert "with an explicit deny in an identity-based policy" in message
    west = boto3.client(
        "ec2",
        endpoint_url=root_ec2.meta.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id=user["ec2"]._request_signer._credentials.access_key,
        aws_secret_access_key=user["ec2"]._request_signer._credentials.secret_key,
    )
    assert _refusal(west.describe_instances)[0] == "UnauthorizedOperation"
