"""EC2 tags: CreateTags, DeleteTags, DescribeTags (instances are the taggable resources)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..api.registry import OperationContext
from .access import (
    ALL_RESOURCES,
    authorize,
    finish_dry_run,
    instance_arn,
    instance_keys,
    request_tag_keys,
)
from .errors import ec2_error, invalid_parameter, missing_parameter
from .filters import matches, page, parse_filters
from .inventory import delete_tags as store_delete_tags
from .inventory import load_instances, put_tags
from .selection import checked_ids, existing

__all__ = ["create_tags", "delete_tags", "describe_tags", "validate_tags"]

MAX_TAGS: Final = 50
_KEY_LIMIT: Final = 128
_VALUE_LIMIT: Final = 256


def validate_tags(
    tags: Sequence[Mapping[str, Any]], *, values_required: bool
) -> dict[str, str | None]:
    """The tags of a request as a dict, checked as EC2 checks them."""
    found: dict[str, Any] = {}
    for tag in tags:
        key = tag.get("Key")
        if key is None:
            raise missing_parameter("Tag.Key")
        key = str(key)
        if not key or len(key) > _KEY_LIMIT:
            raise invalid_parameter(
                f"Tag key must be between 1 and {_KEY_LIMIT} characters long: '{key}'"
            )
        if key.lower().startswith("aws:"):
            raise invalid_parameter("Tag keys starting with 'aws:' are reserved for internal use")
        value = tag.get("Value")
        if value is None and values_required:
            value = ""
        if value is not None and len(str(value)) > _VALUE_LIMIT:
            raise invalid_parameter(
                f"Tag value must be at most {_VALUE_LIMIT} characters long: '{value}'"
            )
        found[key] = None if value is None else str(value)
    if len(found) > MAX_TAGS:
        raise ec2_error("TagLimitExceeded", f"The maximum number of tags ({MAX_TAGS}) exceeded")
    return found


def _resources(ctx: OperationContext) -> list[Any]:
    wanted = [str(value) for value in ctx.params.get("Resources") or []]
    if not wanted:
        raise missing_parameter("ResourceId")
    for value in wanted:
        if not value.startswith("i-"):
            raise ec2_error("InvalidID", f"The ID '{value}' is not valid")
    return existing(ctx, checked_ids(wanted), for_update=True)


def create_tags(ctx: OperationContext) -> None:
    tags = validate_tags(ctx.params.get("Tags") or [], values_required=True)
    if not tags:
        raise missing_parameter("Tag")
    instances = _resources(ctx)
    keys = request_tag_keys([{"Key": key, "Value": value} for key, value in tags.items()])
    for instance in instances:
        if len({**instance.tags, **tags}) > MAX_TAGS:
            raise ec2_error("TagLimitExceeded", f"The maximum number of tags ({MAX_TAGS}) exceeded")
        authorize(
            ctx,
            "ec2:CreateTags",
            instance_arn(ctx, instance.id),
            {**instance_keys(instance.tags, instance.instance_type), **keys},
        )
    finish_dry_run(ctx)
    values = {key: value or "" for key, value in tags.items()}
    put_tags(ctx.uow, ctx.account_id, [instance.id for instance in instances], values)


def delete_tags(ctx: OperationContext) -> None:
    given = ctx.params.get("Tags")
    tags = validate_tags(given, values_required=False) if given else None
    instances = _resources(ctx)
    for instance in instances:
        named = tags if tags is not None else dict.fromkeys(instance.tags)
        keys = request_tag_keys(
            [{"Key": key, "Value": value} for key, value in named.items() if value is not None]
        )
        keys["aws:TagKeys"] = list(named)
        authorize(
            ctx,
            "ec2:DeleteTags",
            instance_arn(ctx, instance.id),
            {**instance_keys(instance.tags, instance.instance_type), **keys},
        )
    finish_dry_run(ctx)
    store_delete_tags(ctx.uow, [instance.id for instance in instances], tags)


@dataclass(frozen=True, slots=True)
class _Tag:
    resource_id: str
    key: str
    value: str

    @property
    def tags(self) -> dict[str, str]:
        return {self.key: self.value}

    @property
    def position(self) -> str:
        return f"{self.resource_id}\t{self.key}"


_TAG_FILTERS: Final = {
    "key": lambda tag: [tag.key],
    "value": lambda tag: [tag.value],
    "resource-id": lambda tag: [tag.resource_id],
    "resource-type": lambda tag: ["instance"],
}


def describe_tags(ctx: OperationContext) -> dict[str, Any]:
    authorize(ctx, "ec2:DescribeTags", ALL_RESOURCES)
    finish_dry_run(ctx)
    filters = parse_filters(ctx.params.get("Filters"), _TAG_FILTERS)
    found = [
        _Tag(instance.id, key, value)
        for instance in load_instances(ctx.uow, ctx.account_id, ctx.region)
        for key, value in sorted(instance.tags.items())
    ]
    chosen = [tag for tag in found if matches(tag, filters)]
    shown, token = page(
        chosen, lambda tag: tag.position, ctx.params.get("MaxResults"), ctx.params.get("NextToken")
    )
    result: dict[str, Any] = {
        "Tags": [
            {
                "Key": tag.key,
                "ResourceId": tag.resource_id,
                "ResourceType": "instance",
                "Value": tag.value,
            }
            for tag in shown
        ]
    }
    if token is not None:
        result["NextToken"] = token
    return result
