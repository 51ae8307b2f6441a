"""EC2 instance use cases: run, describe, start, stop, reboot, terminate, attributes.

Each takes the operation context (its unit of work, caller and parsed params), authorizes
itself per instance (`access`), then acts. A multi-instance call is checked whole (ids,
existence, permissions, states) before any instance changes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from ..api.registry import OperationContext
from ..policy.request import ContextValue
from . import states
from .access import (
    ALL_RESOURCES,
    authorize,
    finish_dry_run,
    image_arn,
    instance_arn,
    request_tag_keys,
)
from .catalog import IMAGES, INSTANCE_TYPES
from .errors import ec2_error, incorrect_state, invalid_parameter, missing_parameter
from .filters import matches, page, parse_filters
from .inventory import (
    Instance,
    insert_instance,
    load_instances,
    purge_terminated,
    put_tags,
    set_attribute,
)
from .inventory import set_state as store_state
from .selection import authorize_instance, checked_ids, existing
from .tags import validate_tags

__all__ = [
    "describe_instance_attribute",
    "describe_instances",
    "describe_one",
    "modify_instance_attribute",
    "reboot_instances",
    "run_instances",
    "start_instances",
    "stop_instances",
    "terminate_instances",
]

DEFAULT_INSTANCE_TYPE: Final = "t2.micro"
INSTANCE_LIMIT: Final = 20  # per RunInstances call, like a fresh account's vCPU quota allows
_IMAGE_ID: Final = re.compile(r"ami-(?:[0-9a-f]{8}|[0-9a-f]{17})")
_TAGGABLE: Final = frozenset({"instance"})


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def _private_ip(instance_id: str) -> str:
    digits = int(instance_id[2:], 16)
    return f"172.31.{(digits >> 8) % 256}.{digits % 254 + 1}"


# --------------------------------------------------------------------------- describe
def describe_one(instance: Instance) -> dict[str, Any]:
    """An Instance structure as DescribeInstances and RunInstances return it."""
    image = IMAGES.get(instance.image_id)
    private_dns = f"ip-{instance.private_ip.replace('.', '-')}.ec2.internal"
    found: dict[str, Any] = {
        "InstanceId": instance.id,
        "ImageId": instance.image_id,
        "State": states.state_of(instance.state),
        "PrivateDnsName": private_dns,
        "PublicDnsName": "",
        "StateTransitionReason": "",
        "AmiLaunchIndex": instance.launch_index,
        "ProductCodes": [],
        "InstanceType": instance.instance_type,
        "LaunchTime": instance.launch_time,
        "Placement": {
            "AvailabilityZone": f"{instance.region}a",
            "GroupName": "",
            "Tenancy": "default",
        },
        "Monitoring": {"State": "disabled"},
        "PrivateIpAddress": instance.private_ip,
        "Architecture": image.architecture if image is not None else "x86_64",
        "RootDeviceType": "ebs",
        "RootDeviceName": image.root_device if image is not None else "/dev/xvda",
        "VirtualizationType": "hvm",
        "Hypervisor": "xen",
        "EbsOptimized": False,
        "EnaSupport": True,
        "SourceDestCheck": True,
        "SecurityGroups": [],
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
    }
    if instance.key_name is not None:
        found["KeyName"] = instance.key_name
    if instance.subnet_id is not None:
        found["SubnetId"] = instance.subnet_id
    if instance.tags:
        found["Tags"] = [{"Key": key, "Value": value} for key, value in instance.tags.items()]
    if instance.state == states.TERMINATED:
        found["StateTransitionReason"] = "User initiated"
        found["PrivateDnsName"] = ""
        del found["PrivateIpAddress"]
    elif instance.state in (states.STOPPED, states.STOPPING):
        found["StateTransitionReason"] = "User initiated"
    return found


def _attribute_of(name: str) -> Callable[[Instance], Sequence[str]]:
    def read(instance: Instance) -> Sequence[str]:
        value = getattr(instance, name)
        return [] if value is None else [str(value)]

    return read


_INSTANCE_FILTERS: Final[Mapping[str, Callable[[Instance], Sequence[str]]]] = {
    "instance-id": _attribute_of("id"),
    "instance-type": _attribute_of("instance_type"),
    "instance-state-name": _attribute_of("state"),
    "instance-state-code": lambda instance: [str(states.CODES[instance.state])],
    "image-id": _attribute_of("image_id"),
    "reservation-id": _attribute_of("reservation_id"),
    "key-name": _attribute_of("key_name"),
    "subnet-id": _attribute_of("subnet_id"),
    "private-ip-address": _attribute_of("private_ip"),
    "availability-zone": lambda instance: [f"{instance.region}a"],
    "tag-key": lambda instance: list(instance.tags),
    "tag-value": lambda instance: list(instance.tags.values()),
}


def describe_instances(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    authorize(ctx, "ec2:DescribeInstances", ALL_RESOURCES)
    finish_dry_run(ctx)
    ids = checked_ids(params.get("InstanceIds"), required=False)
    if ids and "MaxResults" in params:
        raise ec2_error(
            "InvalidParameterCombination",
            "The parameter instancesSet cannot be used with the parameter maxResults",
        )
    filters = parse_filters(params.get("Filters"), _INSTANCE_FILTERS)
    found = (
        existing(ctx, ids, for_update=False)
        if ids
        else load_instances(ctx.uow, ctx.account_id, ctx.region)
    )
    chosen = [instance for instance in found if matches(instance, filters)]
    shown, token = page(
        chosen, lambda instance: instance.id, params.get("MaxResults"), params.get("NextToken")
    )
    reservations: dict[str, dict[str, Any]] = {}
    for instance in shown:
        reservation = reservations.setdefault(
            instance.reservation_id,
            {
                "ReservationId": instance.reservation_id,
                "OwnerId": ctx.account_id,
                "Groups": [],
                "Instances": [],
            },
        )
        reservation["Instances"].append(describe_one(instance))
    result: dict[str, Any] = {"Reservations": list(reservations.values())}
    if token is not None:
        result["NextToken"] = token
    return result


# --------------------------------------------------------------------------- run
def _count(params: Mapping[str, Any]) -> int:
    low, high = int(params["MinCount"]), int(params["MaxCount"])
    if low < 1:
        raise invalid_parameter(f"Invalid value '{low}' for MinCount. Must be greater than 0.")
    if high < low:
        raise invalid_parameter(
            f"Invalid value '{high}' for MaxCount. Must be greater than or equal to MinCount."
        )
    if low > INSTANCE_LIMIT:
        raise ec2_error(
            "InstanceLimitExceeded",
            f"You have requested more instances ({low}) than your current instance limit of "
            f"{INSTANCE_LIMIT} allows for the specified instance type. Please visit "
            "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this "
            "limit.",
        )
    return min(high, INSTANCE_LIMIT)


def _launch_tags(specifications: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    for specification in specifications or ():
        kind = str(specification.get("ResourceType", ""))
        if kind not in _TAGGABLE:
            raise invalid_parameter(
                f"'{kind}' is not a valid taggable resource type for this operation."
            )
        given = validate_tags(specification.get("Tags", []), values_required=True)
        tags.update({key: value or "" for key, value in given.items()})
    return tags


def run_instances(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    image_id = params.get("ImageId")
    if not image_id:
        raise missing_parameter("ImageId")
    if not _IMAGE_ID.fullmatch(image_id):
        raise ec2_error("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
    if image_id not in IMAGES:
        raise ec2_error("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
    instance_type = str(params.get("InstanceType") or DEFAULT_INSTANCE_TYPE)
    if instance_type not in INSTANCE_TYPES:
        raise invalid_parameter(f"Invalid value '{instance_type}' for InstanceType.")
    subnet = params.get("SubnetId")
    if subnet is not None and not str(subnet).startswith("subnet-"):
        raise ec2_error("InvalidSubnetID.NotFound", f"The subnet ID '{subnet}' does not exist")
    count = _count(params)
    tags = _launch_tags(params.get("TagSpecifications"))
    keys: dict[str, ContextValue] = {"ec2:InstanceType": instance_type}
    if tags:
        keys.update(request_tag_keys({"Key": k, "Value": v} for k, v in tags.items()))
    any_instance = instance_arn(ctx, "*")
    authorize(ctx, "ec2:RunInstances", any_instance, keys)
    authorize(ctx, "ec2:RunInstances", image_arn(ctx, image_id))
    if tags:
        authorize(ctx, "ec2:CreateTags", any_instance, {**keys, "ec2:CreateAction": "RunInstances"})
    finish_dry_run(ctx)
    purge_terminated(ctx.uow, ctx.account_id, ctx.region)
    reservation_id = _new_id("r")
    now: datetime = ctx.now
    launched: list[Instance] = []
    for index in range(count):
        instance_id = _new_id("i")
        instance = Instance(
            id=instance_id,
            account_id=ctx.account_id,
            region=ctx.region,
            reservation_id=reservation_id,
            image_id=image_id,
            instance_type=instance_type,
            key_name=params.get("KeyName"),
            subnet_id=subnet,
            private_ip=_private_ip(instance_id),
            launch_index=index,
            stored_state=states.PENDING,
            state_changed_at=now,
            launch_time=now,
            disable_api_termination=bool(params.get("DisableApiTermination", False)),
            state=states.PENDING,
            tags=dict(tags),
        )
        insert_instance(ctx.uow, instance)
        launched.append(instance)
    put_tags(ctx.uow, ctx.account_id, [instance.id for instance in launched], tags)
    return {
        "ReservationId": reservation_id,
        "OwnerId": ctx.account_id,
        "Groups": [],
        "Instances": [describe_one(instance) for instance in launched],
    }


# --------------------------------------------------------------------------- state changes
# What a call does to an instance in a state: its new state, the same one (nothing to do),
# or None (IncorrectInstanceState).
_START: Final = {states.STOPPED: states.PENDING, states.PENDING: "", states.RUNNING: ""}
_STOP: Final = {states.RUNNING: states.STOPPING, states.STOPPING: "", states.STOPPED: ""}
_TERMINATE: Final = {
    states.PENDING: states.SHUTTING_DOWN,
    states.RUNNING: states.SHUTTING_DOWN,
    states.STOPPING: states.SHUTTING_DOWN,
    states.STOPPED: states.SHUTTING_DOWN,
    states.SHUTTING_DOWN: "",
    states.TERMINATED: "",
}


def _change_states(
    ctx: OperationContext, action: str, moves: Mapping[str, str], verb: str
) -> list[dict[str, Any]]:
    instances = existing(ctx, checked_ids(ctx.params.get("InstanceIds")), for_update=True)
    for instance in instances:
        authorize_instance(ctx, action, instance)
    finish_dry_run(ctx)
    for instance in instances:
        if instance.state not in moves:
            raise incorrect_state(instance.id, verb)
        if action == "ec2:TerminateInstances" and instance.disable_api_termination:
            raise ec2_error(
                "OperationNotPermitted",
                f"The instance '{instance.id}' may not be terminated. Modify its "
                "'disableApiTermination' instance attribute and try again.",
            )
    changes: list[dict[str, Any]] = []
    for instance in instances:
        previous = instance.state
        target = moves[previous]
        if target:
            store_state(ctx.uow, instance, target)
        changes.append(
            {
                "InstanceId": instance.id,
                "CurrentState": states.state_of(instance.state),
                "PreviousState": states.state_of(previous),
            }
        )
    return changes


def start_instances(ctx: OperationContext) -> dict[str, Any]:
    return {"StartingInstances": _change_states(ctx, "ec2:StartInstances", _START, "started")}


def stop_instances(ctx: OperationContext) -> dict[str, Any]:
    return {"StoppingInstances": _change_states(ctx, "ec2:StopInstances", _STOP, "stopped")}


def terminate_instances(ctx: OperationContext) -> dict[str, Any]:
    return {
        "TerminatingInstances": _change_states(
            ctx, "ec2:TerminateInstances", _TERMINATE, "terminated"
        )
    }


def reboot_instances(ctx: OperationContext) -> None:
    _change_states(ctx, "ec2:RebootInstances", {states.RUNNING: ""}, "rebooted")


# --------------------------------------------------------------------------- attributes
def _one_instance(ctx: OperationContext, *, for_update: bool) -> Instance:
    instance_id = str(ctx.params["InstanceId"])
    return existing(ctx, checked_ids([instance_id]), for_update=for_update)[0]


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise invalid_parameter(f"Invalid value '{text}' for value. Expecting a boolean.")
    return lowered == "true"


def modify_instance_attribute(ctx: OperationContext) -> None:
    params = ctx.params
    instance = _one_instance(ctx, for_update=True)
    authorize_instance(ctx, "ec2:ModifyInstanceAttribute", instance)
    finish_dry_run(ctx)
    changes: dict[str, str] = {}
    if "DisableApiTermination" in params:
        changes["disableApiTermination"] = str(
            params["DisableApiTermination"].get("Value", False)
        ).lower()
    if "InstanceType" in params:
        changes["instanceType"] = str(params["InstanceType"].get("Value", ""))
    if "Attribute" in params:
        if "Value" not in params:
            raise missing_parameter("Value")
        changes[str(params["Attribute"])] = str(params["Value"])
    supported = {"disableApiTermination", "instanceType"}
    other = set(params) - {"InstanceId", "DryRun", "Attribute", "Value", *map(_member, supported)}
    if other or set(changes) - supported:
        raise ec2_error(
            "UnsupportedOperation",
            "rolegate supports only the disableApiTermination and instanceType attributes.",
        )
    if not changes:
        raise ec2_error("InvalidParameterCombination", "No attributes specified.")
    if "disableApiTermination" in changes:
        set_attribute(
            ctx.uow,
            instance.id,
            disable_api_termination=_boolean(changes["disableApiTermination"]),
        )
    if "instanceType" in changes:
        wanted = changes["instanceType"]
        if wanted not in INSTANCE_TYPES:
            raise invalid_parameter(f"Invalid value '{wanted}' for InstanceType.")
        if instance.state != states.STOPPED:
            raise ec2_error(
                "IncorrectInstanceState",
                f"The instance '{instance.id}' is not in the 'stopped' state.",
            )
        set_attribute(ctx.uow, instance.id, instance_type=wanted)


def _member(attribute: str) -> str:
    return attribute[:1].upper() + attribute[1:]


def describe_instance_attribute(ctx: OperationContext) -> dict[str, Any]:
    authorize(ctx, "ec2:DescribeInstanceAttribute", ALL_RESOURCES)
    finish_dry_run(ctx)
    instance = _one_instance(ctx, for_update=False)
    attribute = str(ctx.params["Attribute"])
    image = IMAGES.get(instance.image_id)
    values: dict[str, tuple[str, Any]] = {
        "disableApiTermination": (
            "DisableApiTermination",
            {"Value": instance.disable_api_termination},
        ),
        "instanceType": ("InstanceType", {"Value": instance.instance_type}),
        "instanceInitiatedShutdownBehavior": (
            "InstanceInitiatedShutdownBehavior",
            {"Value": "stop"},
        ),
        "rootDeviceName": (
            "RootDeviceName",
            {"Value": image.root_device if image is not None else "/dev/xvda"},
        ),
        "ebsOptimized": ("EbsOptimized", {"Value": False}),
        "sourceDestCheck": ("SourceDestCheck", {"Value": True}),
        "enaSupport": ("EnaSupport", {"Value": True}),
        "disableApiStop": ("DisableApiStop", {"Value": False}),
        "userData": ("UserData", {}),
        "kernel": ("KernelId", {}),
        "ramdisk": ("RamdiskId", {}),
        "productCodes": ("ProductCodes", []),
        "groupSet": ("Groups", []),
        "blockDeviceMapping": ("BlockDeviceMappings", []),
    }
    found = values.get(attribute)
    if found is None:
        raise ec2_error(
            "UnsupportedOperation", f"rolegate does not describe the attribute {attribute}."
        )
    member, value = found
    return {"InstanceId": instance.id, member: value}
