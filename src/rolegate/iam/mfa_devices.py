"""Virtual MFA devices: creation (seed + QR code), enabling for a user, TOTP verification.

A device row is unassigned (`user_id` and `enabled_at` NULL) until EnableMFADevice; an
enabled device has `enabled_at` set and belongs to `user_id`. `last_step` is the highest
TOTP time step accepted for the device: codes at or before it never work again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Row, delete, insert, or_, select, update

from .. import mfa
from ..errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
    ServiceError,
    ValidationError,
)
from ..ids import iam_arn
from ..store.database import UnitOfWork, as_utc
from ..store.schema import accounts, entity_tags, mfa_devices, users
from .common import QUOTAS, count, get_user, list_tags, put_tags, remove_tags
from .users import describe_user

__all__ = [
    "RESYNC_MAX_DRIFT_STEPS",
    "InvalidAuthenticationCode",
    "create_virtual_mfa_device",
    "deactivate_mfa_device",
    "delete_virtual_mfa_device",
    "device_tag_id",
    "enable_mfa_device",
    "list_device_tags",
    "list_mfa_devices",
    "list_virtual_mfa_devices",
    "resync_mfa_device",
    "serial_number",
    "tag_device",
    "untag_device",
    "user_has_mfa",
    "verify_mfa_code",
]

MAX_DEVICE_NAME_LENGTH: Final = 226
"""Longest VirtualMFADeviceName the store keeps (the model sets no maximum)."""

RESYNC_MAX_DRIFT_STEPS: Final = 60
"""ResyncMFADevice looks further than EnableMFADevice: 30 minutes either way."""


class InvalidAuthenticationCode(ServiceError):
    code = "InvalidAuthenticationCode"
    http_status = 403


def _invalid_code() -> InvalidAuthenticationCode:
    return InvalidAuthenticationCode("Authentication code for device is not valid.")


def serial_number(account_id: str, path: str, name: str) -> str:
    """A virtual device's serial number is its ARN: `arn:aws:iam::A:mfa/<path><name>`."""
    return iam_arn(account_id, "mfa", path, name)


def device_tag_id(serial: str) -> str:
    """The `entity_tags.entity_id` of a device (serials can outgrow the 64-character column)."""
    return "mfa:" + hashlib.sha256(serial.encode()).hexdigest()[:56]


def _find_device(uow: UnitOfWork, account_id: str, serial: str) -> Row[Any] | None:
    return uow.connection.execute(
        select(mfa_devices).where(
            mfa_devices.c.account_id == account_id, mfa_devices.c.serial == serial
        )
    ).first()


def _require_device(
    uow: UnitOfWork, account_id: str, serial: str, *, contracted: bool = False
) -> Row[Any]:
    row = _find_device(uow, account_id, serial)
    if row is None:
        verb = "doesn't" if contracted else "does not"
        raise NoSuchEntity(f"VirtualMFADevice with serial number {serial} {verb} exist.")
    return row


def _account_label(uow: UnitOfWork, account_id: str) -> str:
    """What the otpauth label shows after the `@`: the account alias, else the account id."""
    alias = uow.connection.execute(
        select(accounts.c.alias).where(accounts.c.id == account_id)
    ).scalar_one_or_none()
    return str(alias) if alias else account_id


def create_virtual_mfa_device(
    uow: UnitOfWork,
    account_id: str,
    name: str,
    *,
    path: str = "/",
    tags: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """Create an unassigned device; return the `VirtualMFADevice` shape with seed and QR code.

    Base32StringSeed is the base32 text (as bytes) and QRCodePNG a PNG of
    `otpauth://totp/<name>@<alias or account id>?secret=...`; both are shown only here.
    """
    if len(name) > MAX_DEVICE_NAME_LENGTH:
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at 'virtualMFADeviceName' failed to "
            f"satisfy constraint: Member must have length less than or equal to "
            f"{MAX_DEVICE_NAME_LENGTH}"
        )
    uow.lock_account(account_id)
    serial = serial_number(account_id, path, name)
    # The store keeps device names unique per account whatever the path.
    taken = count(
        uow,
        mfa_devices,
        mfa_devices.c.account_id == account_id,
        or_(mfa_devices.c.name_key == name.lower(), mfa_devices.c.serial == serial),
    )
    if taken:
        raise EntityAlreadyExists("MFADevice entity at the same path and name already exists.")
    seed = mfa.new_seed()
    seed_text = mfa.seed_to_base32(seed)
    uow.connection.execute(
        insert(mfa_devices).values(
            serial=serial,
            account_id=account_id,
            name=name,
            name_key=name.lower(),
            path=path,
            seed=seed_text,
            user_id=None,
            enabled_at=None,
            last_step=None,
            created_at=uow.now,
        )
    )
    if tags:
        put_tags(uow, device_tag_id(serial), tags)
    uri = mfa.otpauth_uri(seed, name, _account_label(uow, account_id))
    shape: dict[str, Any] = {
        "SerialNumber": serial,
        "Base32StringSeed": seed_text.encode("ascii"),
        "QRCodePNG": mfa.qr_code_png(uri),
    }
    if tags:
        shape["Tags"] = list_tags(uow, device_tag_id(serial))
    return shape


def delete_virtual_mfa_device(uow: UnitOfWork, account_id: str, serial: str) -> None:
    uow.lock_account(account_id)
    row = _require_device(uow, account_id, serial, contracted=True)
    if row.enabled_at is not None:
        raise DeleteConflict("MFA VirtualDevice in use. Must deactivate first.")
    connection = uow.connection
    connection.execute(delete(entity_tags).where(entity_tags.c.entity_id == device_tag_id(serial)))
    connection.execute(delete(mfa_devices).where(mfa_devices.c.serial == serial))


def _enabled_count(uow: UnitOfWork, user_id: str) -> int:
    return count(
        uow, mfa_devices, mfa_devices.c.user_id == user_id, mfa_devices.c.enabled_at.is_not(None)
    )


def enable_mfa_device(
    uow: UnitOfWork,
    account_id: str,
    user_name: str,
    serial: str,
    code1: str,
    code2: str,
    at: float,
) -> None:
    """Assign the device to the user after two consecutive valid codes (Unix time `at`)."""
    uow.lock_account(account_id)
    user = get_user(uow, account_id, user_name)
    device = _require_device(uow, account_id, serial)
    if device.enabled_at is not None:
        raise EntityAlreadyExists("MFA Device is already in use.")
    quota = QUOTAS["MFADevicesPerUser"]
    if _enabled_count(uow, user.id) >= quota:
        raise LimitExceeded(f"Cannot exceed quota for MFADevicesPerUser: {quota}")
    step = mfa.verify_consecutive_codes(
        mfa.base32_to_seed(device.seed), code1, code2, at, last_used_step=device.last_step
    )
    if step is None:
        raise _invalid_code()
    uow.connection.execute(
        update(mfa_devices)
        .where(mfa_devices.c.serial == serial)
        .values(user_id=user.id, enabled_at=uow.now, last_step=step)
    )


def _assigned_device(
    uow: UnitOfWork, account_id: str, user_id: str | None, serial: str
) -> Row[Any]:
    """The device, which must be enabled for the user (`None`: the account root)."""
    device = _require_device(uow, account_id, serial)
    if device.enabled_at is None or device.user_id != user_id:
        raise NoSuchEntity("MFA Device invalid for user.")
    return device


def deactivate_mfa_device(
    uow: UnitOfWork, account_id: str, user_name: str | None, serial: str
) -> None:
    """Unassign the device from the user (`None`: the account root); it stays, unassigned."""
    uow.lock_account(account_id)
    user_id = get_user(uow, account_id, user_name).id if user_name is not None else None
    _assigned_device(uow, account_id, user_id, serial)
    # last_step is kept: codes used before stay used if the device is enabled again.
    uow.connection.execute(
        update(mfa_devices)
        .where(mfa_devices.c.serial == serial)
        .values(user_id=None, enabled_at=None)
    )


def resync_mfa_device(
    uow: UnitOfWork,
    account_id: str,
    user_name: str,
    serial: str,
    code1: str,
    code2: str,
    at: float,
) -> None:
    """Check two consecutive codes with a wide window and move the device's last step."""
    uow.lock_account(account_id)
    user = get_user(uow, account_id, user_name)
    device = _assigned_device(uow, account_id, user.id, serial)
    step = mfa.verify_consecutive_codes(
        mfa.base32_to_seed(device.seed),
        code1,
        code2,
        at,
        max_drift_steps=RESYNC_MAX_DRIFT_STEPS,
        last_used_step=device.last_step,
    )
    if step is None:
        raise _invalid_code()
    uow.connection.execute(
        update(mfa_devices).where(mfa_devices.c.serial == serial).values(last_step=step)
    )


def list_mfa_devices(
    uow: UnitOfWork, account_id: str, user_id: str | None, user_name: str
) -> list[dict[str, Any]]:
    """The `MFADevices` members of a user (`user_id` None: the account root's)."""
    owner = (
        mfa_devices.c.user_id == user_id if user_id is not None else mfa_devices.c.user_id.is_(None)
    )
    rows = uow.connection.execute(
        select(mfa_devices.c.serial, mfa_devices.c.enabled_at)
        .where(mfa_devices.c.account_id == account_id, owner, mfa_devices.c.enabled_at.is_not(None))
        .order_by(mfa_devices.c.enabled_at, mfa_devices.c.serial)
    )
    return [
        {"UserName": user_name, "SerialNumber": row.serial, "EnableDate": as_utc(row.enabled_at)}
        for row in rows
    ]


def list_virtual_mfa_devices(
    uow: UnitOfWork, account_id: str, assignment_status: str = "Any"
) -> list[dict[str, Any]]:
    """The `VirtualMFADevices` members (no seed, no QR code), by serial number."""
    statement = select(mfa_devices).where(mfa_devices.c.account_id == account_id)
    if assignment_status == "Assigned":
        statement = statement.where(mfa_devices.c.enabled_at.is_not(None))
    elif assignment_status == "Unassigned":
        statement = statement.where(mfa_devices.c.enabled_at.is_(None))
    devices = list(uow.connection.execute(statement.order_by(mfa_devices.c.serial)))
    owner_ids = {row.user_id for row in devices if row.user_id is not None}
    owners = (
        {
            row.id: row
            for row in uow.connection.execute(select(users).where(users.c.id.in_(owner_ids)))
        }
        if owner_ids
        else {}
    )
    result = []
    for row in devices:
        shape: dict[str, Any] = {"SerialNumber": row.serial}
        if row.enabled_at is not None:
            shape["EnableDate"] = as_utc(row.enabled_at)
            owner = owners.get(row.user_id)
            if owner is not None:
                shape["User"] = describe_user(uow, owner)
        result.append(shape)
    return result


def tag_device(
    uow: UnitOfWork, account_id: str, serial: str, tags: Sequence[Mapping[str, str]]
) -> None:
    uow.lock_account(account_id)
    _require_device(uow, account_id, serial, contracted=True)
    put_tags(uow, device_tag_id(serial), tags)


def untag_device(uow: UnitOfWork, account_id: str, serial: str, keys: Sequence[str]) -> None:
    uow.lock_account(account_id)
    _require_device(uow, account_id, serial, contracted=True)
    remove_tags(uow, device_tag_id(serial), keys)


def list_device_tags(uow: UnitOfWork, account_id: str, serial: str) -> list[dict[str, str]]:
    _require_device(uow, account_id, serial, contracted=True)
    return list_tags(uow, device_tag_id(serial))


def user_has_mfa(uow: UnitOfWork, user_id: str) -> bool:
    """True when the user has at least one enabled MFA device."""
    return _enabled_count(uow, user_id) > 0


def verify_mfa_code(
    uow: UnitOfWork, account_id: str, user_id: str, serial: str, code: str, at: float
) -> bool:
    """Check an STS TokenCode: true only for an enabled device of this user and a valid code
    (one step of tolerance) later than the device's last accepted step, which it then
    records, so each code works once. Run it in a write transaction.
    """
    uow.lock_account(account_id)
    device = _find_device(uow, account_id, serial)
    if device is None or device.enabled_at is None or device.user_id != user_id:
        return False
    step = mfa.verify_code(
        mfa.base32_to_seed(device.seed),
        code,
        at,
        window=mfa.VERIFY_WINDOW_STEPS,
        last_used_step=device.last_step,
    )
    if step is None:
        return False
    # Conditional on the step read above: a concurrent use of the same code cannot also win.
    used = uow.connection.execute(
        update(mfa_devices)
        .where(
            mfa_devices.c.serial == serial,
            or_(mfa_devices.c.last_step.is_(None), mfa_devices.c.last_step < step),
        )
        .values(last_step=step)
    )
    return used.rowcount == 1
