"""The EC2 rows of an account and region: instances and their tags (store access only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, delete, insert, select, update

from ..store.database import UnitOfWork, as_utc
from ..store.schema import ec2_instances, ec2_tags
from . import states

__all__ = [
    "Instance",
    "delete_tags",
    "insert_instance",
    "load_instances",
    "purge_terminated",
    "put_tags",
    "set_attribute",
    "set_state",
    "tags_of",
]


@dataclass
class Instance:
    """One instance row, its tags, and its state at the transaction's time."""

    id: str
    account_id: str
    region: str
    reservation_id: str
    image_id: str
    instance_type: str
    key_name: str | None
    subnet_id: str | None
    private_ip: str
    launch_index: int
    stored_state: str
    state_changed_at: datetime
    launch_time: datetime
    disable_api_termination: bool
    state: str = ""
    tags: dict[str, str] = field(default_factory=dict)


def tags_of(uow: UnitOfWork, resource_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {resource_id: {} for resource_id in resource_ids}
    if not resource_ids:
        return found
    rows = uow.connection.execute(
        select(ec2_tags.c.resource_id, ec2_tags.c.key, ec2_tags.c.value)
        .where(ec2_tags.c.resource_id.in_(list(resource_ids)))
        .order_by(ec2_tags.c.resource_id, ec2_tags.c.key)
    )
    for resource_id, key, value in rows:
        found.setdefault(resource_id, {})[key] = value
    return found


def load_instances(
    uow: UnitOfWork,
    account_id: str,
    region: str,
    instance_ids: Sequence[str] | None = None,
    *,
    for_update: bool = False,
) -> list[Instance]:
    """The account's visible instances in `region` (those of `instance_ids` when given), in
    id order, with their tags and current state."""
    table = ec2_instances
    query = select(table).where(and_(table.c.account_id == account_id, table.c.region == region))
    if instance_ids is not None:
        query = query.where(table.c.id.in_(list(instance_ids)))
    if for_update:
        query = query.with_for_update()
    now = uow.now
    found: list[Instance] = []
    for row in uow.connection.execute(query.order_by(table.c.id)).mappings():
        changed = as_utc(row["state_changed_at"])
        if not states.visible(row["state"], changed, now):
            continue
        found.append(
            Instance(
                id=row["id"],
                account_id=row["account_id"],
                region=row["region"],
                reservation_id=row["reservation_id"],
                image_id=row["image_id"],
                instance_type=row["instance_type"],
                key_name=row["key_name"],
                subnet_id=row["subnet_id"],
                private_ip=row["private_ip"],
                launch_index=row["launch_index"],
                stored_state=row["state"],
                state_changed_at=changed,
                launch_time=as_utc(row["launch_time"]),
                disable_api_termination=bool(row["disable_api_termination"]),
                state=states.current_state(row["state"], changed, now),
            )
        )
    tags = tags_of(uow, [instance.id for instance in found])
    for instance in found:
        instance.tags = tags.get(instance.id, {})
    return found


def insert_instance(uow: UnitOfWork, instance: Instance) -> None:
    uow.connection.execute(
        insert(ec2_instances).values(
            id=instance.id,
            account_id=instance.account_id,
            region=instance.region,
            reservation_id=instance.reservation_id,
            image_id=instance.image_id,
            instance_type=instance.instance_type,
            key_name=instance.key_name,
            subnet_id=instance.subnet_id,
            private_ip=instance.private_ip,
            launch_index=instance.launch_index,
            state=instance.stored_state,
            state_changed_at=instance.state_changed_at,
            launch_time=instance.launch_time,
            disable_api_termination=instance.disable_api_termination,
        )
    )


def purge_terminated(uow: UnitOfWork, account_id: str, region: str) -> None:
    """Delete the account's instances (and tags) terminated long enough to be invisible."""
    table = ec2_instances
    cutoff = uow.now - states.TERMINATED_VISIBLE - states.TRANSITION
    gone = select(table.c.id).where(
        and_(
            table.c.account_id == account_id,
            table.c.region == region,
            table.c.state.in_([states.SHUTTING_DOWN, states.TERMINATED]),
            table.c.state_changed_at < cutoff,
        )
    )
    ids = list(uow.connection.execute(gone).scalars())
    if ids:
        uow.connection.execute(delete(ec2_tags).where(ec2_tags.c.resource_id.in_(ids)))
        uow.connection.execute(delete(table).where(table.c.id.in_(ids)))


def set_state(uow: UnitOfWork, instance: Instance, state: str) -> None:
    uow.connection.execute(
        update(ec2_instances)
        .where(ec2_instances.c.id == instance.id)
        .values(state=state, state_changed_at=uow.now)
    )
    instance.stored_state, instance.state_changed_at, instance.state = state, uow.now, state


def set_attribute(uow: UnitOfWork, instance_id: str, **values: object) -> None:
    uow.connection.execute(
        update(ec2_instances).where(ec2_instances.c.id == instance_id).values(**values)
    )


def put_tags(
    uow: UnitOfWork, account_id: str, resource_ids: Iterable[str], tags: Mapping[str, str]
) -> None:
    """Add or overwrite `tags` on every resource."""
    ids = list(resource_ids)
    if not ids or not tags:
        return
    uow.connection.execute(
        delete(ec2_tags).where(
            and_(ec2_tags.c.resource_id.in_(ids), ec2_tags.c.key.in_(list(tags)))
        )
    )
    uow.connection.execute(
        insert(ec2_tags),
        [
            {"resource_id": rid, "account_id": account_id, "key": key, "value": value}
            for rid in ids
            for key, value in tags.items()
        ],
    )


def delete_tags(
    uow: UnitOfWork, resource_ids: Iterable[str], tags: Mapping[str, str | None] | None
) -> None:
    """Remove the tags named (only when its value matches, for a key given with a value);
    every tag when `tags` is None."""
    ids = list(resource_ids)
    if tags is None:
        uow.connection.execute(delete(ec2_tags).where(ec2_tags.c.resource_id.in_(ids)))
        return
    for key, value in tags.items():
        condition = and_(ec2_tags.c.resource_id.in_(ids), ec2_tags.c.key == key)
        if value is not None:
            condition = and_(condition, ec2_tags.c.value == value)
        uow.connection.execute(delete(ec2_tags).where(condition))
