"""Console passwords and virtual MFA devices.

Login profiles: Create/Get/Update/DeleteLoginProfile. MFA: CreateVirtualMFADevice,
EnableMFADevice, DeactivateMFADevice, ResyncMFADevice, ListMFADevices,
ListVirtualMFADevices, DeleteVirtualMFADevice, Tag/UntagMFADevice, ListMFADeviceTags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from ..iam import login_profiles, mfa_devices
from ..iam.common import get_user
from ..ids import iam_arn
from .iam_common import collection_resource, page, target_user, user_resource
from .registry import OperationContext, operation

__all__: list[str] = []


def _user_name(ctx: OperationContext) -> str | None:
    """UserName, else the calling user; None for the account root; an error for others."""
    name = target_user(ctx)
    if name is None and not ctx.caller.is_root:
        raise ValidationError("Must specify userName when calling with non-User credentials")
    return name


def _required_user_name(ctx: OperationContext) -> str:
    name = _user_name(ctx)
    if name is None:
        raise ValidationError("Must specify userName when calling with non-User credentials")
    return name


def _device_resource(ctx: OperationContext) -> str:
    """The mfa ARN of CreateVirtualMFADevice."""
    params = ctx.params
    return iam_arn(ctx.account_id, "mfa", params.get("Path", "/"), params["VirtualMFADeviceName"])


def _serial_resource(ctx: OperationContext) -> str:
    """A virtual device's serial number is its ARN."""
    return str(ctx.params["SerialNumber"])


# -- login profiles ------------------------------------------------------------------------


@operation("iam", "CreateLoginProfile", resource=user_resource(), writes=True)
def create_login_profile(ctx: OperationContext) -> Mapping[str, Any]:
    params = ctx.params
    if "Password" not in params:
        raise ValidationError("Password is required when not using an AssumeRoot session.")
    profile = login_profiles.create_login_profile(
        ctx.uow,
        ctx.account_id,
        _required_user_name(ctx),
        params["Password"],
        reset_required=bool(params.get("PasswordResetRequired", False)),
    )
    return {"LoginProfile": profile}


@operation("iam", "GetLoginProfile", resource=user_resource())
def get_login_profile(ctx: OperationContext) -> Mapping[str, Any]:
    profile = login_profiles.get_login_profile(ctx.uow, ctx.account_id, _required_user_name(ctx))
    return {"LoginProfile": profile}


@operation("iam", "UpdateLoginProfile", resource=user_resource(), writes=True)
def update_login_profile(ctx: OperationContext) -> None:
    params = ctx.params
    login_profiles.update_login_profile(
        ctx.uow,
        ctx.account_id,
        params["UserName"],
        password=params.get("Password"),
        reset_required=params.get("PasswordResetRequired"),
    )


@operation("iam", "DeleteLoginProfile", resource=user_resource(), writes=True)
def delete_login_profile(ctx: OperationContext) -> None:
    login_profiles.delete_login_profile(ctx.uow, ctx.account_id, _required_user_name(ctx))


# -- virtual MFA devices -------------------------------------------------------------------


@operation("iam", "CreateVirtualMFADevice", resource=_device_resource, writes=True)
def create_virtual_mfa_device(ctx: OperationContext) -> Mapping[str, Any]:
    params = ctx.params
    device = mfa_devices.create_virtual_mfa_device(
        ctx.uow,
        ctx.account_id,
        params["VirtualMFADeviceName"],
        path=params.get("Path", "/"),
        tags=params.get("Tags", []),
    )
    return {"VirtualMFADevice": device}


@operation("iam", "EnableMFADevice", resource=user_resource(), writes=True)
def enable_mfa_device(ctx: OperationContext) -> None:
    params = ctx.params
    mfa_devices.enable_mfa_device(
        ctx.uow,
        ctx.account_id,
        params["UserName"],
        params["SerialNumber"],
        params["AuthenticationCode1"],
        params["AuthenticationCode2"],
        ctx.now.timestamp(),
    )


@operation("iam", "DeactivateMFADevice", resource=user_resource(), writes=True)
def deactivate_mfa_device(ctx: OperationContext) -> None:
    mfa_devices.deactivate_mfa_device(
        ctx.uow, ctx.account_id, _user_name(ctx), ctx.params["SerialNumber"]
    )


@operation("iam", "ResyncMFADevice", resource=user_resource(), writes=True)
def resync_mfa_device(ctx: OperationContext) -> None:
    params = ctx.params
    mfa_devices.resync_mfa_device(
        ctx.uow,
        ctx.account_id,
        params["UserName"],
        params["SerialNumber"],
        params["AuthenticationCode1"],
        params["AuthenticationCode2"],
        ctx.now.timestamp(),
    )


@operation("iam", "ListMFADevices", resource=user_resource())
def list_mfa_devices(ctx: OperationContext) -> Mapping[str, Any]:
    name = _user_name(ctx)
    if name is None:
        devices = mfa_devices.list_mfa_devices(ctx.uow, ctx.account_id, None, ctx.account_id)
    else:
        user = get_user(ctx.uow, ctx.account_id, name)
        devices = mfa_devices.list_mfa_devices(ctx.uow, ctx.account_id, user.id, user.name)
    return page(ctx, devices, "MFADevices")


@operation("iam", "ListVirtualMFADevices", resource=collection_resource("mfa"))
def list_virtual_mfa_devices(ctx: OperationContext) -> Mapping[str, Any]:
    devices = mfa_devices.list_virtual_mfa_devices(
        ctx.uow, ctx.account_id, ctx.params.get("AssignmentStatus", "Any")
    )
    return page(ctx, devices, "VirtualMFADevices")


@operation("iam", "DeleteVirtualMFADevice", resource=_serial_resource, writes=True)
def delete_virtual_mfa_device(ctx: OperationContext) -> None:
    mfa_devices.delete_virtual_mfa_device(ctx.uow, ctx.account_id, ctx.params["SerialNumber"])


@operation("iam", "TagMFADevice", resource=_serial_resource, writes=True)
def tag_mfa_device(ctx: OperationContext) -> None:
    mfa_devices.tag_device(ctx.uow, ctx.account_id, ctx.params["SerialNumber"], ctx.params["Tags"])


@operation("iam", "UntagMFADevice", resource=_serial_resource, writes=True)
def untag_mfa_device(ctx: OperationContext) -> None:
    mfa_devices.untag_device(
        ctx.uow, ctx.account_id, ctx.params["SerialNumber"], ctx.params["TagKeys"]
    )


@operation("iam", "ListMFADeviceTags", resource=_serial_resource)
def list_mfa_device_tags(ctx: OperationContext) -> Mapping[str, Any]:
    tags = mfa_devices.list_device_tags(ctx.uow, ctx.account_id, ctx.params["SerialNumber"])
    return page(ctx, tags, "Tags")
