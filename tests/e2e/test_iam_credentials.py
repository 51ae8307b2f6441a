"""Login profiles and virtual MFA devices through boto3 against the real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount
from rolegate.mfa import base32_to_seed, totp

from .conftest import ClientFactory
from .server import RunningServer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _create_device(iam: Any, name: str, **kwargs: Any) -> tuple[str, bytes]:
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name, **kwargs)["VirtualMFADevice"]
    return device["SerialNumber"], base32_to_seed(device["Base32StringSeed"].decode())


def _codes(server: RunningServer, seed: bytes) -> tuple[str, str]:
    """Two consecutive codes: the two steps before now (now's code stays unused)."""
    now = server.clock.now().timestamp()
    return totp(seed, now - 60), totp(seed, now - 30)


def _enable(iam: Any, server: RunningServer, user: str, serial: str, seed: bytes) -> None:
    first, second = _codes(server, seed)
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1=first, AuthenticationCode2=second
    )


def _user_client(root_iam: Any, client: ClientFactory, name: str, *actions: str) -> Any:
    """A user allowed `actions` on its own user ARN only."""
    root_iam.create_user(UserName=name)
    root_iam.put_user_policy(
        UserName=name,
        PolicyName="self",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": list(actions),
                        "Resource": "arn:aws:iam::*:user/${aws:username}",
                    }
                ],
            }
        ),
    )
    key = root_iam.create_access_key(UserName=name)["AccessKey"]
    return client("iam", key["AccessKeyId"], key["SecretAccessKey"])


# -- login profiles ------------------------------------------------------------------------


def test_login_profile_lifecycle(root_iam: Any) -> None:
    root_iam.create_user(UserName="alice")
    created = root_iam.create_login_profile(
        UserName="Alice", Password="Correct-horse1", PasswordResetRequired=True
    )["LoginProfile"]
    assert created["UserName"] == "alice" and created["PasswordResetRequired"] is True
    fetched = root_iam.get_login_profile(UserName="alice")["LoginProfile"]
    assert fetched["CreateDate"] == created["CreateDate"]
    assert fetched["PasswordResetRequired"] is True
    root_iam.update_login_profile(
        UserName="alice", Password="Battery-staple1", PasswordResetRequired=False
    )
    assert root_iam.get_login_profile(UserName="alice")["LoginProfile"][
        "PasswordResetRequired"
    ] is (False)
    with pytest.raises(ClientError) as caught:
        root_iam.delete_user(UserName="alice")
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete login profile first.",
    )
    root_iam.delete_login_profile(UserName="alice")
    with pytest.raises(ClientError) as caught:
        root_iam.get_login_profile(UserName="alice")
    assert _error(caught) == ("NoSuchEntity", 404, "Login Profile for User alice cannot be found.")
    root_iam.delete_user(UserName="alice")


def test_login_profile_errors(root_iam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        root_iam.create_login_profile(UserName="ghost", Password="Long-enough1")
    assert _error(caught) == ("NoSuchEntity", 404, "The user with name ghost cannot be found.")
    root_iam.create_user(UserName="bob")
    with pytest.raises(ClientError) as caught:
        root_iam.create_login_profile(UserName="bob", Password="short")
    assert _error(caught) == (
        "PasswordPolicyViolation",
        400,
        "Password does not conform to the account password policy.",
    )
    for operation, extra in (
        (root_iam.update_login_profile, {"Password": "long enough"}),
        (root_iam.delete_login_profile, {}),
    ):
        with pytest.raises(ClientError) as caught:
            operation(UserName="bob", **extra)
        assert _error(caught) == (
            "NoSuchEntity",
            404,
            "Login Profile for User bob cannot be found.",
        )
    root_iam.create_login_profile(UserName="bob", Password="Long-enough1")
    with pytest.raises(ClientError) as caught:
        root_iam.create_login_profile(UserName="bob", Password="Long-enough1")
    assert _error(caught) == (
        "EntityAlreadyExists",
        409,
        "Login Profile for user bob already exists.",
    )
    with pytest.raises(ClientError) as caught:
        root_iam.update_login_profile(UserName="bob", Password="1234567")
    assert _error(caught)[:2] == ("PasswordPolicyViolation", 400)


def test_a_user_reads_its_own_login_profile(root_iam: Any, client: ClientFactory) -> None:
    carol = _user_client(root_iam, client, "carol", "iam:GetLoginProfile")
    root_iam.create_login_profile(UserName="carol", Password="Long-enough1")
    assert carol.get_login_profile()["LoginProfile"]["UserName"] == "carol"
    root_iam.create_user(UserName="dave")
    with pytest.raises(ClientError) as caught:
        carol.get_login_profile(UserName="dave")
    assert _error(caught)[:2] == ("AccessDenied", 403)


# -- virtual MFA devices -------------------------------------------------------------------


def test_create_enable_list_deactivate_delete(
    root_iam: Any, account: NewAccount, server: RunningServer
) -> None:
    device = root_iam.create_virtual_mfa_device(VirtualMFADeviceName="alice", Path="/team/")[
        "VirtualMFADevice"
    ]
    serial = device["SerialNumber"]
    assert serial == f"arn:aws:iam::{account.account_id}:mfa/team/alice"
    seed_text = device["Base32StringSeed"]
    assert isinstance(seed_text, bytes) and len(seed_text) == 64
    seed = base32_to_seed(seed_text.decode())
    assert device["QRCodePNG"].startswith(PNG_SIGNATURE)
    summary = root_iam.get_account_summary()["SummaryMap"]
    assert (summary["MFADevices"], summary["MFADevicesInUse"]) == (1, 0)

    root_iam.create_user(UserName="alice")
    _enable(root_iam, server, "alice", serial, seed)
    devices = root_iam.list_mfa_devices(UserName="alice")["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [("alice", serial)]
    assert "EnableDate" in devices[0]
    summary = root_iam.get_account_summary()["SummaryMap"]
    assert (summary["MFADevices"], summary["MFADevicesInUse"]) == (1, 1)
    listed = root_iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    assert len(listed) == 1 and listed[0]["User"]["UserName"] == "alice"
    assert "Base32StringSeed" not in listed[0] and "QRCodePNG" not in listed[0]

    with pytest.raises(ClientError) as caught:
        root_iam.delete_user(UserName="alice")
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete MFA device first.",
    )
    with pytest.raises(ClientError) as caught:
        root_iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert _error(caught) == (
        "DeleteConflict",
        409,
        "MFA VirtualDevice in use. Must deactivate first.",
    )
    root_iam.deactivate_mfa_device(UserName="alice", SerialNumber=serial)
    assert root_iam.list_mfa_devices(UserName="alice")["MFADevices"] == []
    root_iam.delete_user(UserName="alice")
    unassigned = root_iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")
    assert [d["SerialNumber"] for d in unassigned["VirtualMFADevices"]] == [serial]
    root_iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(ClientError) as caught:
        root_iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert _error(caught) == (
        "NoSuchEntity",
        404,
        f"VirtualMFADevice with serial number {serial} doesn't exist.",
    )
    summary = root_iam.get_account_summary()["SummaryMap"]
    assert (summary["MFADevices"], summary["MFADevicesInUse"]) == (0, 0)


def test_mfa_errors(root_iam: Any, account: NewAccount, server: RunningServer) -> None:
    serial, seed = _create_device(root_iam, "shared")
    with pytest.raises(ClientError) as caught:
        root_iam.create_virtual_mfa_device(VirtualMFADeviceName="SHARED")
    assert _error(caught) == (
        "EntityAlreadyExists",
        409,
        "MFADevice entity at the same path and name already exists.",
    )
    root_iam.create_user(UserName="erin")
    root_iam.create_user(UserName="frank")
    first, second = _codes(server, seed)
    with pytest.raises(ClientError) as caught:
        root_iam.enable_mfa_device(
            UserName="erin", SerialNumber=serial, AuthenticationCode1=second,
            AuthenticationCode2=first,
        )  # fmt: skip
    assert _error(caught) == (
        "InvalidAuthenticationCode",
        403,
        "Authentication code for device is not valid.",
    )
    missing = f"arn:aws:iam::{account.account_id}:mfa/missing"
    with pytest.raises(ClientError) as caught:
        root_iam.enable_mfa_device(
            UserName="erin", SerialNumber=missing, AuthenticationCode1=first,
            AuthenticationCode2=second,
        )  # fmt: skip
    assert _error(caught) == (
        "NoSuchEntity",
        404,
        f"VirtualMFADevice with serial number {missing} does not exist.",
    )
    with pytest.raises(ClientError) as caught:
        root_iam.enable_mfa_device(
            UserName="erin", SerialNumber=serial, AuthenticationCode1="12345a",
            AuthenticationCode2=second,
        )  # fmt: skip
    assert _error(caught)[:2] == ("ValidationError", 400)
    _enable(root_iam, server, "erin", serial, seed)
    with pytest.raises(ClientError) as caught:
        _enable(root_iam, server, "frank", serial, seed)
    assert _error(caught) == ("EntityAlreadyExists", 409, "MFA Device is already in use.")
    with pytest.raises(ClientError) as caught:
        root_iam.deactivate_mfa_device(UserName="frank", SerialNumber=serial)
    assert _error(caught) == ("NoSuchEntity", 404, "MFA Device invalid for user.")
    with pytest.raises(ClientError) as caught:
        root_iam.list_mfa_devices(UserName="ghost")
    assert _error(caught) == ("NoSuchEntity", 404, "The user with name ghost cannot be found.")


def test_eight_devices_per_user(root_iam: Any, server: RunningServer) -> None:
    root_iam.create_user(UserName="gina")
    for number in range(8):
        serial, seed = _create_device(root_iam, f"gina-{number}")
        _enable(root_iam, server, "gina", serial, seed)
    serial, seed = _create_device(root_iam, "gina-8")
    with pytest.raises(ClientError) as caught:
        _enable(root_iam, server, "gina", serial, seed)
    assert _error(caught) == ("LimitExceeded", 409, "Cannot exceed quota for MFADevicesPerUser: 8")
    first = root_iam.list_mfa_devices(UserName="gina", MaxItems=5)
    assert first["IsTruncated"] is True and len(first["MFADevices"]) == 5
    rest = root_iam.list_mfa_devices(UserName="gina", Marker=first["Marker"])
    assert rest["IsTruncated"] is False and len(rest["MFADevices"]) == 3


def test_list_virtual_devices_by_status_and_pages(root_iam: Any, server: RunningServer) -> None:
    root_iam.create_user(UserName="hank")
    serials = []
    for name in ("a", "b", "c", "d", "e"):
        serials.append(_create_device(root_iam, name))
    _enable(root_iam, server, "hank", *serials[1])
    _enable(root_iam, server, "hank", *serials[3])
    every = [serial for serial, _ in serials]

    def collect(**kwargs: Any) -> list[str]:
        paginator = root_iam.get_paginator("list_virtual_mfa_devices")
        pages = paginator.paginate(PaginationConfig={"PageSize": 2}, **kwargs)
        return [d["SerialNumber"] for p in pages for d in p["VirtualMFADevices"]]

    assert collect() == every
    assert collect(AssignmentStatus="Any") == every
    assert collect(AssignmentStatus="Assigned") == [every[1], every[3]]
    assert collect(AssignmentStatus="Unassigned") == [every[0], every[2], every[4]]
    first = root_iam.list_virtual_mfa_devices(MaxItems=2)
    assert first["IsTruncated"] is True and "Marker" in first


def test_resync(root_iam: Any, server: RunningServer) -> None:
    root_iam.create_user(UserName="ivy")
    serial, seed = _create_device(root_iam, "ivy")
    _enable(root_iam, server, "ivy", serial, seed)
    server.clock.advance(3600)
    late = server.clock.now().timestamp() - 15 * 60  # the device runs 15 minutes late
    first, second = totp(seed, late - 30), totp(seed, late)
    with pytest.raises(ClientError) as caught:
        root_iam.resync_mfa_device(
            UserName="ivy", SerialNumber=serial, AuthenticationCode1=second,
            AuthenticationCode2=first,
        )  # fmt: skip
    assert _error(caught) == (
        "InvalidAuthenticationCode",
        403,
        "Authentication code for device is not valid.",
    )
    root_iam.resync_mfa_device(
        UserName="ivy", SerialNumber=serial, AuthenticationCode1=first, AuthenticationCode2=second
    )


def test_device_tags(root_iam: Any, account: NewAccount) -> None:
    serial, _ = _create_device(root_iam, "tagged", Tags=[{"Key": "team", "Value": "blue"}])
    root_iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "env", "Value": "prod"}])
    tags = root_iam.list_mfa_device_tags(SerialNumber=serial)["Tags"]
    assert tags == [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "prod"}]
    root_iam.untag_mfa_device(SerialNumber=serial, TagKeys=["team"])
    assert root_iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    root_iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(ClientError) as caught:
        root_iam.list_mfa_device_tags(SerialNumber=serial)
    assert _error(caught)[:2] == ("NoSuchEntity", 404)


def test_a_user_lists_its_own_devices(
    root_iam: Any, account: NewAccount, client: ClientFactory, server: RunningServer
) -> None:
    jane = _user_client(root_iam, client, "jane", "iam:ListMFADevices")
    serial, seed = _create_device(root_iam, "jane")
    _enable(root_iam, server, "jane", serial, seed)
    assert [d["SerialNumber"] for d in jane.list_mfa_devices()["MFADevices"]] == [serial]
    with pytest.raises(ClientError) as caught:
        jane.create_virtual_mfa_device(VirtualMFADeviceName="mine")
    assert _error(caught) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{account.account_id}:user/jane is not authorized to perform: "
        f"iam:CreateVirtualMFADevice on resource: arn:aws:iam::{account.account_id}:mfa/mine "
        "because no identity-based policy allows the iam:CreateVirtualMFADevice action",
    )
