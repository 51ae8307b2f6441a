"""EC2 instances end to end: boto3 against the real server (SQLite and PostgreSQL), the
instance life cycle on the server's clock, filters, paging, tags, attributes and errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import select

from e2e.server import RunningServer
from rolegate.ec2.catalog import IMAGES
from rolegate.iam.accounts import NewAccount
from rolegate.store.schema import ec2_instances

AMI = "ami-0a3c3a20c09d6f377"


def _run(ec2: Any, count: int = 1, **tags: str) -> list[str]:
    extra: dict[str, Any] = {}
    if tags:
        extra["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    made = ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count, **extra)
    return [instance["InstanceId"] for instance in made["Instances"]]


def _state(ec2: Any, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(found[0]["Instances"][0]["State"]["Name"])


def _error(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_an_instance_lives_pending_running_stopped_terminated_then_disappears(
    root_ec2: Any, server: RunningServer
) -> None:
    made = root_ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.small", KeyName="deploy"
    )
    instance = made["Instances"][0]
    instance_id = instance["InstanceId"]
    assert made["ReservationId"].startswith("r-") and instance_id.startswith("i-")
    assert instance["State"] == {"Code": 0, "Name": "pending"}
    assert (instance["InstanceType"], instance["KeyName"], instance["ImageId"]) == (
        "t3.small",
        "deploy",
        AMI,
    )
    server.clock.advance(11)
    assert _state(root_ec2, instance_id) == "running"
    stopped = root_ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
    assert (stopped["PreviousState"]["Name"], stopped["CurrentState"]["Name"]) == (
        "running",
        "stopping",
    )
    assert _state(root_ec2, instance_id) == "stopping"
    server.clock.advance(11)
    assert _state(root_ec2, instance_id) == "stopped"
    again = root_ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
    assert again["CurrentState"]["Name"] == again["PreviousState"]["Name"] == "stopped"
    started = root_ec2.start_instances(InstanceIds=[instance_id])["StartingInstances"][0]
    assert started["CurrentState"] == {"Code": 0, "Name": "pending"}
    server.clock.advance(11)
    root_ec2.reboot_instances(InstanceIds=[instance_id])
    assert _state(root_ec2, instance_id) == "running"
    gone = root_ec2.terminate_instances(InstanceIds=[instance_id])["TerminatingInstances"][0]
    assert gone["CurrentState"] == {"Code": 32, "Name": "shutting-down"}
    server.clock.advance(11)
    assert _state(root_ec2, instance_id) == "terminated"
    code, message, _ = _error(root_ec2.start_instances, InstanceIds=[instance_id])
    assert code == "IncorrectInstanceState"
    assert (
        message == f"The instance '{instance_id}' is not in a state from which it can be started."
    )
    server.clock.advance(50 * 60)
    assert _state(root_ec2, instance_id) == "terminated"  # still visible within the hour
    server.clock.advance(11 * 60)
    assert _error(root_ec2.describe_instances, InstanceIds=[instance_id])[0] == (
        "InvalidInstanceID.NotFound"
    )
    listed = root_ec2.describe_instances()["Reservations"]
    assert instance_id not in {i["InstanceId"] for r in listed for i in r["Instances"]}
    _run(root_ec2, 1)  # the account's next launch purges what nobody sees any more
    with server.database.read() as uow:
        rows = uow.connection.execute(
            select(ec2_instances.c.id).where(ec2_instances.c.id == instance_id)
        ).all()
    assert rows == []


def test_one_reservation_holds_the_instances_of_one_call(root_ec2: Any) -> None:
    ids = _run(root_ec2, 3, env="production")
    reservations = root_ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert len(reservations) == 1
    found = reservations[0]["Instances"]
    assert sorted(i["InstanceId"] for i in found) == sorted(ids)
    assert sorted(i["AmiLaunchIndex"] for i in found) == [0, 1, 2]
    assert all(i["Tags"] == [{"Key": "env", "Value": "production"}] for i in found)


def test_filters_select_by_tag_state_id_and_type(root_ec2: Any, server: RunningServer) -> None:
    production = _run(root_ec2, 2, env="production", team="web")
    staging = _run(root_ec2, 1, env="staging")
    untagged = _run(root_ec2, 1)
    server.clock.advance(11)
    root_ec2.stop_instances(InstanceIds=[production[1]])

    def ids(*filters: dict[str, Any]) -> set[str]:
        found = root_ec2.describe_instances(Filters=list(filters))["Reservations"]
        return {i["InstanceId"] for r in found for i in r["Instances"]}

    assert ids({"Name": "tag:env", "Values": ["production"]}) == set(production)
    assert ids({"Name": "tag:env", "Values": ["prod*", "stag?ng"]}) == {*production, *staging}
    assert ids({"Name": "tag-key", "Values": ["team"]}) == set(production)
    assert ids({"Name": "instance-state-name", "Values": ["running"]}) == {
        production[0],
        *staging,
        *untagged,
    }
    assert ids(
        {"Name": "tag:env", "Values": ["production"]},
        {"Name": "instance-state-name", "Values": ["stopping", "stopped"]},
    ) == {production[1]}
    assert ids({"Name": "instance-id", "Values": [untagged[0]]}) == set(untagged)
    assert ids({"Name": "instance-type", "Values": ["t2.micro"]}) >= {*production, *staging}
    assert ids({"Name": "instance-type", "Values": ["m5.large"]}) == set()
    code, message, status = _error(
        root_ec2.describe_instances, Filters=[{"Name": "colour", "Values": ["red"]}]
    )
    assert (code, message, status) == (
        "InvalidParameterValue",
        "The filter 'colour' is invalid",
        400,
    )


def test_describe_instances_pages_with_max_results_and_next_token(root_ec2: Any) -> None:
    ids = _run(root_ec2, 7)
    first = root_ec2.describe_instances(MaxResults=5)
    assert sum(len(r["Instances"]) for r in first["Reservations"]) == 5
    second = root_ec2.describe_instances(MaxResults=5, NextToken=first["NextToken"])
    assert "NextToken" not in second
    seen = [
        i["InstanceId"]
        for page in (first, second)
        for r in page["Reservations"]
        for i in r["Instances"]
    ]
    assert sorted(seen) == sorted(ids)
    pages = root_ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5})
    assert sorted(
        i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]
    ) == sorted(ids)
    assert _error(root_ec2.describe_instances, MaxResults=5, NextToken="nonsense")[0] == (
        "InvalidParameterValue"
    )
    assert _error(root_ec2.describe_instances, MaxResults=4)[0] == "InvalidParameterValue"
    assert _error(root_ec2.describe_instances, MaxResults=5, InstanceIds=ids[:1])[0] == (
        "InvalidParameterCombination"
    )


def test_instance_errors_are_ec2s(root_ec2: Any, account: NewAccount, client: Any) -> None:
    missing = "i-0123456789abcdef0"
    assert _error(root_ec2.terminate_instances, InstanceIds=[missing]) == (
        "InvalidInstanceID.NotFound",
        f"The instance ID '{missing}' does not exist",
        400,
    )
    assert _error(root_ec2.stop_instances, InstanceIds=["i-nope"]) == (
        "InvalidInstanceID.Malformed",
        'Invalid id: "i-nope"',
        400,
    )
    assert _error(root_ec2.run_instances, ImageId="ami-00000000", MinCount=1, MaxCount=1) == (
        "InvalidAMIID.NotFound",
        "The image id '[ami-00000000]' does not exist",
        400,
    )
    assert _error(root_ec2.run_instances, ImageId="debian", MinCount=1, MaxCount=1)[0] == (
        "InvalidAMIID.Malformed"
    )
    assert _error(
        root_ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m9.huge"
    ) == ("InvalidParameterValue", "Invalid value 'm9.huge' for InstanceType.", 400)
    assert _error(root_ec2.run_instances, ImageId=AMI, MinCount=2, MaxCount=1)[0] == (
        "InvalidParameterValue"
    )
    assert _error(root_ec2.run_instances, MinCount=1, MaxCount=1) == (
        "MissingParameter",
        "The request must contain the parameter ImageId",
        400,
    )
    lax = _lax_client(client, account)
    assert _error(lax.terminate_instances) == (
        "MissingParameter",
        "The request must contain the parameter InstanceId",
        400,
    )
    running = _run(root_ec2, 1)
    assert _error(root_ec2.terminate_instances, InstanceIds=[running[0], missing]) == (
        "InvalidInstanceID.NotFound",
        f"The instance ID '{missing}' does not exist",
        400,
    )
    assert _state(root_ec2, running[0]) == "pending"  # the whole call failed


def _lax_client(client: Any, account: NewAccount) -> Any:
    """An EC2 client that sends what it is given (no client-side validation)."""
    import boto3

    made = client("ec2", account.access_key_id, account.secret_access_key)
    return boto3.client(
        "ec2",
        endpoint_url=made.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


def test_disable_api_termination_is_honoured(root_ec2: Any, server: RunningServer) -> None:
    (instance_id,) = _run(root_ec2, 1)
    root_ec2.modify_instance_attribute(
        InstanceId=instance_id, DisableApiTermination={"Value": True}
    )
    attribute = root_ec2.describe_instance_attribute(
        InstanceId=instance_id, Attribute="disableApiTermination"
    )
    assert attribute["DisableApiTermination"] == {"Value": True}
    assert _error(root_ec2.terminate_instances, InstanceIds=[instance_id]) == (
        "OperationNotPermitted",
        f"The instance '{instance_id}' may not be terminated. Modify its "
        "'disableApiTermination' instance attribute and try again.",
        400,
    )
    root_ec2.modify_instance_attribute(
        InstanceId=instance_id, Attribute="disableApiTermination", Value="false"
    )
    root_ec2.terminate_instances(InstanceIds=[instance_id])
    assert _state(root_ec2, instance_id) == "shutting-down"


def test_instance_type_changes_only_when_stopped(root_ec2: Any, server: RunningServer) -> None:
    (instance_id,) = _run(root_ec2, 1)
    server.clock.advance(11)
    code, _, _ = _error(
        root_ec2.modify_instance_attribute,
        InstanceId=instance_id,
        InstanceType={"Value": "m5.large"},
    )
    assert code == "IncorrectInstanceState"
    root_ec2.stop_instances(InstanceIds=[instance_id])
    server.clock.advance(11)
    root_ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "m5.large"})
    found = root_ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="instanceType")
    assert found["InstanceType"] == {"Value": "m5.large"}


def test_tags_are_created_deleted_and_described(root_ec2: Any) -> None:
    ids = _run(root_ec2, 2, env="staging")
    root_ec2.create_tags(
        Resources=ids,
        Tags=[{"Key": "env", "Value": "production"}, {"Key": "owner", "Value": "ops"}],
    )
    described = root_ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ids[0]]}])
    assert described["Tags"] == [
        {"Key": "env", "ResourceId": ids[0], "ResourceType": "instance", "Value": "production"},
        {"Key": "owner", "ResourceId": ids[0], "ResourceType": "instance", "Value": "ops"},
    ]
    root_ec2.delete_tags(Resources=ids, Tags=[{"Key": "owner", "Value": "someone-else"}])
    owners = root_ec2.describe_tags(Filters=[{"Name": "key", "Values": ["owner"]}])["Tags"]
    assert len(owners) == 2  # a value that does not match deletes nothing
    root_ec2.delete_tags(Resources=[ids[0]], Tags=[{"Key": "owner"}])
    owners = root_ec2.describe_tags(Filters=[{"Name": "key", "Values": ["owner"]}])["Tags"]
    assert [tag["ResourceId"] for tag in owners] == [ids[1]]
    page = root_ec2.describe_tags(MaxResults=5)
    assert len(page["Tags"]) == 3 and "NextToken" not in page
    reserved = [{"Key": "aws:x", "Value": "y"}]
    assert _error(root_ec2.create_tags, Resources=ids, Tags=reserved)[0] == "InvalidParameterValue"


def test_the_catalogue_of_images_and_instance_types(root_ec2: Any) -> None:
    images = root_ec2.describe_images(Owners=["amazon"])["Images"]
    assert {image["ImageId"] for image in images} == set(IMAGES)
    arm = root_ec2.describe_images(Filters=[{"Name": "architecture", "Values": ["arm64"]}])
    assert [image["Architecture"] for image in arm["Images"]] == ["arm64"]
    assert root_ec2.describe_images(Owners=["self"])["Images"] == []
    assert _error(root_ec2.describe_images, ImageIds=["ami-00000000"])[0] == "InvalidAMIID.NotFound"
    types = root_ec2.describe_instance_types(InstanceTypes=["t3.micro"])["InstanceTypes"]
    assert types[0]["VCpuInfo"]["DefaultVCpus"] == 2 and types[0]["MemoryInfo"]["SizeInMiB"] == 1024
    assert _error(root_ec2.describe_instance_types, InstanceTypes=["m9.huge"])[0] == (
        "InvalidInstanceType"
    )


def test_instances_belong_to_their_account_and_region(
    root_ec2: Any, make_account: Any, client: Any, account: NewAccount
) -> None:
    (instance_id,) = _run(root_ec2, 1)
    other = make_account()
    theirs = client("ec2", other.access_key_id, other.secret_access_key)
    assert _error(theirs.terminate_instances, InstanceIds=[instance_id])[0] == (
        "InvalidInstanceID.NotFound"
    )
    import boto3

    west = boto3.client(
        "ec2",
        endpoint_url=root_ec2.meta.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
    )
    assert west.describe_instances()["Reservations"] == []


def test_the_wire_is_ec2s_on_the_one_endpoint(root_ec2: Any) -> None:
    seen: dict[str, Any] = {}

    def keep(http_response: Any, **_: Any) -> None:
        seen["status"] = http_response.status_code
        seen["body"] = http_response.content
        seen["type"] = http_response.headers.get("content-type")

    root_ec2.meta.events.register("after-call.ec2", keep)
    root_ec2.describe_instances()
    assert seen["body"].startswith(
        b'<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>'
    )
    assert seen["type"].startswith("text/xml")
    with pytest.raises(ClientError):
        root_ec2.terminate_instances(InstanceIds=["i-0123456789abcdef0"])
    assert seen["status"] == 400
    assert b"<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>" in seen["body"]
    assert b"<RequestID>" in seen["body"]
    code, message, status = _error(root_ec2.describe_vpcs)
    assert (code, status) == ("NotImplemented", 501)
    assert message == "rolegate does not implement ec2:DescribeVpcs."
