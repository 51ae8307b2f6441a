"""Virtual MFA devices and login profiles: the use cases on a SQLite store, time by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from rolegate import mfa
from rolegate.clock import ManualClock
from rolegate.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from rolegate.iam import login_profiles, mfa_devices, users
from rolegate.iam.accounts import create_account
from rolegate.iam.common import get_user
from rolegate.iam.login_profiles import PasswordPolicyViolation
from rolegate.iam.mfa_devices import InvalidAuthenticationCode
from rolegate.store.database import Database, default_sqlite_url
from rolegate.store.schema import accounts
from rolegate.store.schema import login_profiles as login_profile_table
from rolegate.store.schema import mfa_devices as mfa_table

START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def database(tmp_path: Path, clock: ManualClock) -> Iterator[Database]:
    db = Database(default_sqlite_url(tmp_path), clock=clock)
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def account_id(database: Database) -> str:
    with database.write() as uow:
        return create_account(uow, None).account_id


@pytest.fixture
def user_id(database: Database, account_id: str) -> str:
    with database.write() as uow:
        return str(users.create_user(uow, account_id, "alice").id)


def _now(clock: ManualClock) -> float:
    return clock.now().timestamp()


def _create(database: Database, account_id: str, name: str = "alice-mfa", **kw: Any) -> Any:
    with database.write() as uow:
        device = mfa_devices.create_virtual_mfa_device(uow, account_id, name, **kw)
    return device, mfa.base32_to_seed(device["Base32StringSeed"].decode())


def _enable(
    database: Database,
    account_id: str,
    serial: str,
    seed: bytes,
    at: float,
    user: str = "alice",
) -> None:
    """Enable with the codes of the two steps before `at` (the current code stays unused)."""
    with database.write() as uow:
        mfa_devices.enable_mfa_device(
            uow, account_id, user, serial, mfa.totp(seed, at - 60), mfa.totp(seed, at - 30), at
        )


def _verify(
    database: Database, account_id: str, user_id: str, serial: str, code: str, at: float
) -> bool:
    with database.write() as uow:
        return mfa_devices.verify_mfa_code(uow, account_id, user_id, serial, code, at)


def _other(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# -- devices -------------------------------------------------------------------------------


def test_create_returns_serial_seed_and_qr_code(database: Database, account_id: str) -> None:
    device, seed = _create(database, account_id, "dev", path="/team/")
    assert device["SerialNumber"] == f"arn:aws:iam::{account_id}:mfa/team/dev"
    text = device["Base32StringSeed"].decode()
    assert len(text) == 64 and len(seed) == mfa.SEED_LENGTH_BYTES
    assert device["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    assert "Tags" not in device
    with database.read() as uow:
        stored = uow.connection.execute(select(mfa_table)).one()
    assert (stored.seed, stored.user_id, stored.enabled_at) == (text, None, None)


def test_the_qr_label_is_the_device_name_at_the_alias_or_account(
    database: Database, account_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uris: list[str] = []
    real = mfa.otpauth_uri

    def spy(seed: bytes, name: str, account: str, issuer: str = "rolegate") -> str:
        uris.append(real(seed, name, account, issuer))
        return uris[-1]

    monkeypatch.setattr(mfa, "otpauth_uri", spy)
    _create(database, account_id, "one")
    with database.write() as uow:
        uow.connection.execute(
            accounts.update().where(accounts.c.id == account_id).values(alias="acme")
        )
    device, _ = _create(database, account_id, "two")
    assert uris[0].startswith(f"otpauth://totp/one@{account_id}?secret=")
    assert uris[1].startswith("otpauth://totp/two@acme?secret=")
    assert device["Base32StringSeed"].decode() in uris[1]


def test_create_with_tags_and_tag_operations(database: Database, account_id: str) -> None:
    device, _ = _create(database, account_id, tags=[{"Key": "team", "Value": "blue"}])
    serial = device["SerialNumber"]
    assert device["Tags"] == [{"Key": "team", "Value": "blue"}]
    with database.write() as uow:
        mfa_devices.tag_device(uow, account_id, serial, [{"Key": "env", "Value": "prod"}])
        mfa_devices.untag_device(uow, account_id, serial, ["TEAM"])
    with database.read() as uow:
        assert mfa_devices.list_device_tags(uow, account_id, serial) == [
            {"Key": "env", "Value": "prod"}
        ]
    missing = f"arn:aws:iam::{account_id}:mfa/nope"
    with database.read() as uow, pytest.raises(NoSuchEntity) as caught:
        mfa_devices.list_device_tags(uow, account_id, missing)
    assert caught.value.message == f"VirtualMFADevice with serial number {missing} doesn't exist."


def test_names_are_unique_per_account_case_insensitively(
    database: Database, account_id: str
) -> None:
    _create(database, account_id, "Dev")
    with pytest.raises(EntityAlreadyExists) as caught:
        _create(database, account_id, "dev")
    assert caught.value.message == "MFADevice entity at the same path and name already exists."
    with database.write() as uow:
        other = create_account(uow, None).account_id
    _create(database, other, "dev")


def test_enable_lists_and_counts(
    database: Database, account_id: str, user_id: str, clock: ManualClock
) -> None:
    device, seed = _create(database, account_id)
    serial = device["SerialNumber"]
    with database.read() as uow:
        assert not mfa_devices.user_has_mfa(uow, user_id)
    _enable(database, account_id, serial, seed, _now(clock))
    with database.read() as uow:
        assert mfa_devices.user_has_mfa(uow, user_id)
        listed = mfa_devices.list_mfa_devices(uow, account_id, user_id, "alice")
        assigned = mfa_devices.list_virtual_mfa_devices(uow, account_id, "Assigned")
        unassigned = mfa_devices.list_virtual_mfa_devices(uow, account_id, "Unassigned")
        stored = uow.connection.execute(select(mfa_table)).one()
    assert listed == [{"UserName": "alice", "SerialNumber": serial, "EnableDate": START}]
    assert assigned[0]["SerialNumber"] == serial and assigned[0]["EnableDate"] == START
    assert assigned[0]["User"]["UserId"] == user_id
    assert "Base32StringSeed" not in assigned[0]
    assert unassigned == []
    assert stored.last_step == mfa.time_step(_now(clock)) - 1


def test_enable_errors(
    database: Database, account_id: str, user_id: str, clock: ManualClock
) -> None:
    device, seed = _create(database, account_id)
    serial = device["SerialNumber"]
    now = _now(clock)
    first, second = mfa.totp(seed, now - 30), mfa.totp(seed, now)
    with database.write() as uow, pytest.raises(NoSuchEntity) as caught:
        mfa_devices.enable_mfa_device(uow, account_id, "bob", serial, first, second, now)
    assert caught.value.message == "The user with name bob cannot be found."
    missing = f"arn:aws:iam::{account_id}:mfa/nope"
    with database.write() as uow, pytest.raises(NoSuchEntity) as caught:
        mfa_devices.enable_mfa_device(uow, account_id, "alice", missing, first, second, now)
    assert caught.value.message == f"VirtualMFADevice with serial number {missing} does not exist."
    for one, two in ((second, first), (first, first), (first, _other(second))):
        with database.write() as uow, pytest.raises(InvalidAuthenticationCode) as bad:
            mfa_devices.enable_mfa_device(uow, account_id, "alice", serial, one, two, now)
        assert (bad.value.code, bad.value.http_status, bad.value.message) == (
            "InvalidAuthenticationCode",
            403,
            "Authentication code for device is not valid.",
        )
    # codes from long ago are refused too
    old_first, old_second = mfa.totp(seed, now - 3600), mfa.totp(seed, now - 3570)
    with database.write() as uow, pytest.raises(InvalidAuthenticationCode):
        mfa_devices.enable_mfa_device(uow, account_id, "alice", serial, old_first, old_second, now)
    with database.write() as uow:
        mfa_devices.enable_mfa_device(uow, account_id, "alice", serial, first, second, now)
    with database.write() as uow:
        users.create_user(uow, account_id, "bob")
    with database.write() as uow, pytest.raises(EntityAlreadyExists) as taken:
        mfa_devices.enable_mfa_device(uow, account_id, "bob", serial, first, second, now)
    assert taken.value.message == "MFA Device is already in use."


def test_at_most_eight_devices_per_user(
    database: Database, account_id: str, user_id: str, clock: ManualClock
) -> None:
    for number in range(8):
        device, seed = _create(database, account_id, f"d{number}")
        _enable(database, account_id, device["SerialNumber"], seed, _now(clock))
    device, seed = _create(database, account_id, "d8")
    with pytest.raises(LimitExceeded) as caught:
        _enable(database, account_id, device["SerialNumber"], seed, _now(clock))
    assert caught.value.message == "Cannot exceed quota for MFADevicesPerUser: 8"


def test_verify_mfa_code_accepts_each_code_once(
    database: Database, account_id: str, user_id: str, clock: ManualClock
) -> None:
    device, seed = _create(database, account_id)
    serial = device["SerialNumber"]
    now = _now(clock)
    # not enabled yet: nothing verifies
    assert not _verify(database, account_id, user_id, serial, mfa.totp(seed, now), now)
    _enable(database, account_id, serial, seed, now)
    code = mfa.totp(seed, now)
    assert not _verify(database, account_id, user_id, serial, _other(code), now)
    assert _verify(database, account_id, user_id, serial, code, now)
    assert not _verify(database, account_id, user_id, serial, code, now)  # replay
    # the enabling codes (earlier steps) are used up as well
    assert not _verify(database, account_id, user_id, serial, mfa.totp(seed, now - 30), now)
    clock.advance(30)
    later = _now(clock)
    assert _verify(database, account_id, user_id, serial, mfa.totp(seed, later), later)
    # one step of tolerance either way, never further
    far = later + 90
    assert not _verify(database, account_id, user_id, serial, mfa.totp(seed, far + 60), far)
    assert _verify(database, account_id, user_id, serial, mfa.totp(seed, far + 30), far)


def test_verify_mfa_code_needs_the_owner_and_the_account(
    database: Database, account_id: str, user_id: str, clock: ManualClock
) -> None:
    device, seed = _create(database, account_id)
    serial = device["SerialNumber"]
    now = _now(clock)
    _enable(database, account_id, serial, seed, now)
    with database.write() as uow:
        bob = str(users.create_user(uow, account_id, "bob").id)
        other = create_account(uow, None).account_id
    code = mfa.totp(seed, now)
    assert not _verify(database, account_id, bob, serial, code, now)
    assert not _verify(database, other, user_id, serial, code, now)
    assert not _verify(database, account_id, user_id, serial + "x", code, now)
    assert not _verify(database, account_id, user_id, serial, "12345", now)
    assert _verify(database, account_id, user_id, serial, code, now)


def test_deactivate_then_delete(
    database: Database, account_id: str, user_id: str, clock: ManualClock
) -> None:
    device, seed = _create(database, account_id)
    serial = device["SerialNumber"]
    now = _now(clock)
    _enable(database, account_id, serial, seed, now)
    with database.write() as uow, pytest.raises(DeleteConflict) as conflict:
        mfa_devices.delete_virtual_mfa_device(uow, account_id, serial)
    assert conflict.value.message == "MFA VirtualDevice in use. Must deactivate first."
    with database.write() as uow:
        users.create_user(uow, account_id, "bob")
    with database.write() as uow, pytest.raises(NoSuchEntity) as caught:
        mfa_devices.deactivate_mfa_device(uow, account_id, "bob", serial)
    assert caught.value.message == "MFA Device invalid for user."
    with database.write() as uow:
        mfa_devices.deactivate_mfa_device(uow, account_id, "alice", serial)
    with database.read() as uow:
        assert not mfa_devices.user_has_mfa(uow, user_id)
        assert mfa_devices.list_virtual_mfa_devices(uow, account_id, "Unassigned") == [
            {"SerialNumber": serial}
        ]
    assert not _verify(database, account_id, user_id, serial, mfa.totp(seed, now), now)
    with database.write() as uow, pytest.raises(NoSuchEntity):
        mfa_devices.deactivate_mfa_device(uow, account_id, "alice", serial)
    # enabling again cannot reuse the codes already accepted
    with database.write() as uow, pytest.raises(InvalidAuthenticationCode):
        mfa_devices.enable_mfa_device(
            uow,
            account_id,
            "alice",
            serial,
            mfa.totp(seed, now - 60),
            mfa.totp(seed, now - 30),
            now,
        )
    with database.write() as uow:
        mfa_devices.delete_virtual_mfa_device(uow, account_id, serial)
    with database.write() as uow, pytest.raises(NoSuchEntity) as gone:
        mfa_devices.delete_virtual_mfa_device(uow, account_id, serial)
    assert gone.value.message == f"VirtualMFADevice with serial number {serial} doesn't exist."


def test_resync_accepts_a_drifted_device(
    database: Database, account_id: str, user_id: str, clock: ManualClock
) -> None:
    device, seed = _create(database, account_id)
    serial = device["SerialNumber"]
    _enable(database, account_id, serial, seed, _now(clock))
    clock.advance(3600)
    now = _now(clock)
    drifted = now - 20 * 60  # the device's clock is 20 minutes late
    one, two = mfa.totp(seed, drifted - 30), mfa.totp(seed, drifted)
    assert mfa.verify_consecutive_codes(seed, one, two, now) is None  # beyond Enable's window
    with database.write() as uow, pytest.raises(InvalidAuthenticationCode):
        mfa_devices.resync_mfa_device(uow, account_id, "alice", serial, two, one, now)
    with database.write() as uow:
        mfa_devices.resync_mfa_device(uow, account_id, "alice", serial, one, two, now)
    with database.read() as uow:
        stored = uow.connection.execute(select(mfa_table.c.last_step)).scalar_one()
    assert stored == mfa.time_step(drifted)
    with database.write() as uow, pytest.raises(InvalidAuthenticationCode):  # no replay
        mfa_devices.resync_mfa_device(uow, account_id, "alice", serial, one, two, now)


# -- login profiles ------------------------------------------------------------------------


def test_login_profile_lifecycle_and_console_password(
    database: Database, account_id: str, user_id: str, clock: ManualClock
) -> None:
    with database.write() as uow:
        created = login_profiles.create_login_profile(
            uow, account_id, "ALICE", "Correct-horse1", reset_required=True
        )
    assert created == {"UserName": "alice", "CreateDate": START, "PasswordResetRequired": True}
    with database.read() as uow:
        assert login_profiles.get_login_profile(uow, account_id, "alice") == created
        stored = uow.connection.execute(select(login_profile_table)).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert "Correct-horse1" not in stored.password_hash

    def check(name: str, password: str) -> bool:
        with database.write() as uow:
            return login_profiles.check_console_password(uow, account_id, name, password)

    assert not check("alice", "wrong horse")
    assert not check("nobody", "Correct-horse1")
    clock.advance(10)
    assert check("alice", "Correct-horse1")
    with database.read() as uow:
        row = get_user(uow, account_id, "alice")
        described = users.describe_user(uow, row)
    assert described["PasswordLastUsed"] == clock.now()

    with database.write() as uow:
        login_profiles.update_login_profile(
            uow, account_id, "alice", password="Battery-staple1", reset_required=False
        )
    assert not check("alice", "Correct-horse1")
    assert check("alice", "Battery-staple1")
    with database.read() as uow:
        assert not login_profiles.get_login_profile(uow, account_id, "alice")[
            "PasswordResetRequired"
        ]
    with database.write() as uow:
        login_profiles.delete_login_profile(uow, account_id, "alice")
    assert not check("alice", "Battery-staple1")
    with database.read() as uow, pytest.raises(NoSuchEntity) as caught:
        login_profiles.get_login_profile(uow, account_id, "alice")
    assert caught.value.message == "Login Profile for User alice cannot be found."


def test_login_profile_errors(database: Database, account_id: str, user_id: str) -> None:
    with database.write() as uow, pytest.raises(PasswordPolicyViolation) as weak:
        login_profiles.create_login_profile(uow, account_id, "alice", "short")
    assert (weak.value.code, weak.value.http_status, weak.value.message) == (
        "PasswordPolicyViolation",
        400,
        "Password does not conform to the account password policy.",
    )
    with database.write() as uow:
        login_profiles.create_login_profile(uow, account_id, "alice", "Twelve-345")
    with database.write() as uow, pytest.raises(EntityAlreadyExists) as dup:
        login_profiles.create_login_profile(uow, account_id, "alice", "Twelve-345")
    assert dup.value.message == "Login Profile for user alice already exists."
    with database.write() as uow, pytest.raises(PasswordPolicyViolation):
        login_profiles.update_login_profile(uow, account_id, "alice", password="1234567")
    with database.write() as uow, pytest.raises(NoSuchEntity) as nouser:
        login_profiles.create_login_profile(uow, account_id, "bob", "Twelve-345")
    assert nouser.value.message == "The user with name bob cannot be found."
    with database.write() as uow:
        users.create_user(uow, account_id, "bob")
    with database.write() as uow, pytest.raises(NoSuchEntity) as missing:
        login_profiles.update_login_profile(uow, account_id, "bob", password="x" * 9)
    assert missing.value.message == "Login Profile for User bob cannot be found."
    with database.write() as uow, pytest.raises(NoSuchEntity) as missing:
        login_profiles.delete_login_profile(uow, account_id, "bob")
    assert missing.value.message == "Login Profile for User bob cannot be found."
