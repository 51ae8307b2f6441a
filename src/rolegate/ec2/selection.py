"""Which instances a call names: well-formed ids, existing in the caller's account and
region, each authorized with its own tags and type."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from ..api.registry import OperationContext
from .access import authorize, instance_arn, instance_keys
from .errors import malformed_instance_id, missing_parameter, unknown_instances
from .inventory import Instance, load_instances

__all__ = ["authorize_instance", "checked_ids", "existing"]

_INSTANCE_ID: Final = re.compile(r"i-(?:[0-9a-f]{8}|[0-9a-f]{17})")


def checked_ids(values: Sequence[str] | None, *, required: bool = True) -> list[str]:
    """The instance ids of a request, each well formed (duplicates dropped)."""
    if not values:
        if required:
            raise missing_parameter("InstanceId")
        return []
    found: list[str] = []
    for value in values:
        if not _INSTANCE_ID.fullmatch(value):
            raise malformed_instance_id(value)
        if value not in found:
            found.append(value)
    return found


def existing(ctx: OperationContext, ids: Sequence[str], *, for_update: bool) -> list[Instance]:
    """The instances of `ids` in request order; InvalidInstanceID.NotFound for any other."""
    loaded = {
        instance.id: instance
        for instance in load_instances(
            ctx.uow, ctx.account_id, ctx.region, ids, for_update=for_update
        )
    }
    unknown = [instance_id for instance_id in ids if instance_id not in loaded]
    if unknown:
        raise unknown_instances(unknown)
    return [loaded[instance_id] for instance_id in ids]


def authorize_instance(ctx: OperationContext, action: str, instance: Instance) -> None:
    authorize(
        ctx,
        action,
        instance_arn(ctx, instance.id),
        instance_keys(instance.tags, instance.instance_type),
    )
