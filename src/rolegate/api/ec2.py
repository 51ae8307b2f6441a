"""EC2 operations over its Query variant (`wire.query` with the `ec2` model).

Every EC2 operation authorizes itself (`gateway_authorizes=False`): a call naming several
instances asks the engine once per instance with that instance's tags and type, Describe*
asks on `*`, and a refusal is EC2's UnauthorizedOperation rather than IAM's AccessDenied
(`ec2.access`). The ARNs asked about are the call's audit resources (`ctx.resources`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..ec2 import instances, offerings, tags
from ..ec2.access import ALL_RESOURCES
from .registry import OperationContext, operation

__all__: list[str] = []

Handler = Callable[[OperationContext], Mapping[str, Any] | None]


def _everything(ctx: OperationContext) -> str:
    return ALL_RESOURCES


def _register(name: str, handler: Handler, *, writes: bool) -> None:
    operation("ec2", name, resource=_everything, writes=writes, gateway_authorizes=False)(handler)


for _name, _handler, _writes in (
    ("RunInstances", instances.run_instances, True),
    ("DescribeInstances", instances.describe_instances, False),
    ("StartInstances", instances.start_instances, True),
    ("StopInstances", instances.stop_instances, True),
    ("RebootInstances", instances.reboot_instances, True),
    ("TerminateInstances", instances.terminate_instances, True),
    ("ModifyInstanceAttribute", instances.modify_instance_attribute, True),
    ("DescribeInstanceAttribute", instances.describe_instance_attribute, False),
    ("CreateTags", tags.create_tags, True),
    ("DeleteTags", tags.delete_tags, True),
    ("DescribeTags", tags.describe_tags, False),
    ("DescribeImages", offerings.describe_images, False),
    ("DescribeInstanceTypes", offerings.describe_instance_types, False),
):
    _register(_name, _handler, writes=_writes)
