"""DescribeImages and DescribeInstanceTypes over the built-in catalogue."""

from __future__ import annotations

from typing import Any, Final

from ..api.registry import OperationContext
from .access import ALL_RESOURCES, authorize, finish_dry_run
from .catalog import AMAZON_OWNER, IMAGES, INSTANCE_TYPES
from .errors import ec2_error
from .filters import matches, page, parse_filters

__all__ = ["describe_images", "describe_instance_types"]

_IMAGE_FILTERS: Final = {
    "image-id": lambda image: [image.image_id],
    "name": lambda image: [image.name],
    "description": lambda image: [image.description],
    "architecture": lambda image: [image.architecture],
    "owner-id": lambda image: [AMAZON_OWNER],
    "owner-alias": lambda image: ["amazon"],
    "state": lambda image: ["available"],
    "is-public": lambda image: ["true"],
    "image-type": lambda image: ["machine"],
    "platform-details": lambda image: [image.platform_details],
    "root-device-type": lambda image: ["ebs"],
    "virtualization-type": lambda image: ["hvm"],
}
_TYPE_FILTERS: Final = {
    "instance-type": lambda kind: [kind.name],
    "current-generation": lambda kind: ["true"],
    "free-tier-eligible": lambda kind: ["true" if kind.free_tier else "false"],
    "processor-info.supported-architecture": lambda kind: [kind.architecture],
    "vcpu-info.default-vcpus": lambda kind: [str(kind.vcpus)],
    "memory-info.size-in-mib": lambda kind: [str(kind.memory_mib)],
    "burstable-performance-supported": lambda kind: ["true" if kind.burstable else "false"],
}


def describe_images(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    authorize(ctx, "ec2:DescribeImages", ALL_RESOURCES)
    finish_dry_run(ctx)
    wanted = list(params.get("ImageIds") or [])
    unknown = [image_id for image_id in wanted if image_id not in IMAGES]
    if unknown:
        raise ec2_error(
            "InvalidAMIID.NotFound", f"The image id '[{', '.join(unknown)}]' does not exist"
        )
    owners = set(params.get("Owners") or [])
    found = [IMAGES[image_id] for image_id in wanted] if wanted else list(IMAGES.values())
    if owners and not owners & {"amazon", AMAZON_OWNER}:
        found = []  # `self` and other accounts own no image here
    filters = parse_filters(params.get("Filters"), _IMAGE_FILTERS)
    chosen = sorted((image for image in found if matches(image, filters)), key=lambda i: i.image_id)
    shown, token = page(
        chosen, lambda image: image.image_id, params.get("MaxResults"), params.get("NextToken")
    )
    result: dict[str, Any] = {"Images": [image.describe() for image in shown]}
    if token is not None:
        result["NextToken"] = token
    return result


def describe_instance_types(ctx: OperationContext) -> dict[str, Any]:
    params = ctx.params
    authorize(ctx, "ec2:DescribeInstanceTypes", ALL_RESOURCES)
    finish_dry_run(ctx)
    wanted = list(params.get("InstanceTypes") or [])
    unknown = [name for name in wanted if name not in INSTANCE_TYPES]
    if unknown:
        raise ec2_error(
            "InvalidInstanceType",
            f"The following supplied instance types do not exist: [{', '.join(unknown)}]",
        )
    found = [INSTANCE_TYPES[name] for name in wanted] if wanted else list(INSTANCE_TYPES.values())
    filters = parse_filters(params.get("Filters"), _TYPE_FILTERS)
    chosen = sorted((kind for kind in found if matches(kind, filters)), key=lambda k: k.name)
    shown, token = page(
        chosen, lambda kind: kind.name, params.get("MaxResults"), params.get("NextToken")
    )
    result: dict[str, Any] = {"InstanceTypes": [kind.describe() for kind in shown]}
    if token is not None:
        result["NextToken"] = token
    return result
