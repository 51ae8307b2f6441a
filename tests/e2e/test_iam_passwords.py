"""The account password policy and ChangePassword through boto3 against the real server."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rolegate.iam.accounts import NewAccount

from .conftest import ClientFactory
from .server import RunningServer

STRONG = "Str0ng!Passw0rd"


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _user(
    root_iam: Any,
    client: ClientFactory,
    name: str,
    password: str = STRONG,
    statements: list[dict[str, Any]] | None = None,
) -> Any:
    """A user with a console password and an access key (and inline statements)."""
    root_iam.create_user(UserName=name)
    root_iam.create_login_profile(UserName=name, Password=password, PasswordResetRequired=True)
    if statements:
        root_iam.put_user_policy(
            UserName=name,
            PolicyName="inline",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    key = root_iam.create_access_key(UserName=name)["AccessKey"]
    return client("iam", key["AccessKeyId"], key["SecretAccessKey"])


def test_no_policy_is_no_such_entity(root_iam: Any, account: NewAccount) -> None:
    message = f"The Password Policy with domain name {account.account_id} cannot be found."
    with pytest.raises(ClientError) as caught:
        root_iam.get_account_password_policy()
    assert _error(caught) == ("NoSuchEntity", 404, message)
    with pytest.raises(ClientError) as caught:
        root_iam.delete_account_password_policy()
    assert _error(caught) == ("NoSuchEntity", 404, message)


def test_update_sets_the_whole_policy(root_iam: Any) -> None:
    root_iam.update_account_password_policy()
    assert root_iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 6,
        "RequireSymbols": False,
        "RequireNumbers": False,
        "RequireUppercaseCharacters": False,
        "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": False,
        "ExpirePasswords": False,
        "HardExpiry": False,
    }
    root_iam.update_account_password_policy(
        MinimumPasswordLength=12,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=3,
        HardExpiry=True,
    )
    assert root_iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 12,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True,
        "ExpirePasswords": True,
        "MaxPasswordAge": 90,
        "PasswordReusePrevention": 3,
        "HardExpiry": True,
    }
    # No partial update: what is left out goes back to its default.
    root_iam.update_account_password_policy(MinimumPasswordLength=10)
    policy = root_iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 10 and policy["ExpirePasswords"] is False
    assert "MaxPasswordAge" not in policy and policy["AllowUsersToChangePassword"] is False
    root_iam.delete_account_password_policy()
    with pytest.raises(ClientError) as caught:
        root_iam.get_account_password_policy()
    assert _error(caught)[:2] == ("NoSuchEntity", 404)


def test_out_of_range_values_are_validation_errors(
    server: RunningServer, account: NewAccount
) -> None:
    unchecked = boto3.client(
        "iam",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    for params in (
        {"MinimumPasswordLength": 5},
        {"MaxPasswordAge": 1096},
        {"PasswordReusePrevention": 25},
    ):
        with pytest.raises(ClientError) as caught:
            unchecked.update_account_password_policy(**params)
        assert _error(caught)[:2] == ("ValidationError", 400)


def test_the_policy_rules_new_passwords(root_iam: Any) -> None:
    root_iam.update_account_password_policy(
        MinimumPasswordLength=10,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
    )
    root_iam.create_user(UserName="carol")
    for weak in ("Sh0rt!x", "nouppercase1!", "NOLOWERCASE1!", "NoNumbers!!x", "NoSymbols123"):
        with pytest.raises(ClientError) as caught:
            root_iam.create_login_profile(UserName="carol", Password=weak)
        assert _error(caught) == (
            "PasswordPolicyViolation",
            400,
            "Password does not conform to the account password policy.",
        )
    root_iam.create_login_profile(UserName="carol", Password=STRONG)
    with pytest.raises(ClientError) as caught:
        root_iam.update_login_profile(UserName="carol", Password="weak")
    assert _error(caught)[:2] == ("PasswordPolicyViolation", 400)
    root_iam.update_login_profile(UserName="carol", Password="An0ther!Passw0rd")


def test_the_default_policy_refuses_the_account_alias(
    make_account: Any, client: ClientFactory
) -> None:
    created = make_account(alias="password-alias-check")
    iam = client("iam", created.access_key_id, created.secret_access_key)
    iam.create_user(UserName="dave")
    for refused in ("short", "password-alias-check", created.account_id):
        with pytest.raises(ClientError) as caught:
            iam.create_login_profile(UserName="dave", Password=refused)
        assert _error(caught)[:2] == ("PasswordPolicyViolation", 400)


def test_change_password_needs_permission_or_the_account_setting(
    root_iam: Any, client: ClientFactory
) -> None:
    erin = _user(root_iam, client, "erin")
    with pytest.raises(ClientError) as caught:
        erin.change_password(OldPassword=STRONG, NewPassword="N3w!Password")
    code, status, message = _error(caught)
    assert (code, status) == ("AccessDenied", 403)
    assert "iam:ChangePassword" in message and ":user/erin" in message
    with pytest.raises(ClientError) as caught:
        erin.get_account_password_policy()
    assert _error(caught)[:2] == ("AccessDenied", 403)

    root_iam.update_account_password_policy(AllowUsersToChangePassword=True)
    assert erin.get_account_password_policy()["PasswordPolicy"]["AllowUsersToChangePassword"]
    erin.change_password(OldPassword=STRONG, NewPassword="N3w!Password")
    # The change clears PasswordResetRequired.
    profile = root_iam.get_login_profile(UserName="erin")["LoginProfile"]
    assert profile["PasswordResetRequired"] is False


def test_an_explicit_deny_beats_the_account_setting(root_iam: Any, client: ClientFactory) -> None:
    root_iam.update_account_password_policy(AllowUsersToChangePassword=True)
    frank = _user(
        root_iam,
        client,
        "frank",
        statements=[{"Effect": "Deny", "Action": "iam:ChangePassword", "Resource": "*"}],
    )
    with pytest.raises(ClientError) as caught:
        frank.change_password(OldPassword=STRONG, NewPassword="N3w!Password")
    code, status, message = _error(caught)
    assert (code, status) == ("AccessDenied", 403)
    assert "explicit deny" in message


def test_iam_change_password_on_the_own_user(root_iam: Any, client: ClientFactory) -> None:
    own = [
        {
            "Effect": "Allow",
            "Action": "iam:ChangePassword",
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        }
    ]
    grace = _user(root_iam, client, "grace", statements=own)
    grace.change_password(OldPassword=STRONG, NewPassword="N3w!Password")
    with pytest.raises(ClientError) as caught:
        grace.change_password(OldPassword=STRONG, NewPassword="0ther!Password")
    assert _error(caught) == ("AccessDenied", 403, "The old password is incorrect.")
    grace.change_password(OldPassword="N3w!Password", NewPassword="0ther!Password")


def test_reuse_prevention(root_iam: Any, client: ClientFactory) -> None:
    root_iam.update_account_password_policy(
        AllowUsersToChangePassword=True, PasswordReusePrevention=2
    )
    heidi = _user(root_iam, client, "heidi", password="F1rst!Password")
    heidi.change_password(OldPassword="F1rst!Password", NewPassword="S3cond!Password")
    for reused in ("S3cond!Password", "F1rst!Password"):
        with pytest.raises(ClientError) as caught:
            heidi.change_password(OldPassword="S3cond!Password", NewPassword=reused)
        assert _error(caught) == (
            "PasswordPolicyViolation",
            400,
            "Policy constraint violation with password reuse prevention during password change.",
        )
    heidi.change_password(OldPassword="S3cond!Password", NewPassword="Th1rd!Password")
    # Two back is allowed again.
    heidi.change_password(OldPassword="Th1rd!Password", NewPassword="F1rst!Password")
    # An administrator's reset obeys it too.
    with pytest.raises(ClientError) as caught:
        root_iam.update_login_profile(UserName="heidi", Password="Th1rd!Password")
    assert _error(caught)[:2] == ("PasswordPolicyViolation", 400)


def test_wrong_old_passwords_are_limited(root_iam: Any, client: ClientFactory) -> None:
    root_iam.update_account_password_policy(AllowUsersToChangePassword=True)
    ivan = _user(root_iam, client, "ivan")
    for _ in range(5):
        with pytest.raises(ClientError) as caught:
            ivan.change_password(OldPassword="Wr0ng!Password", NewPassword="N3w!Password")
        assert _error(caught)[:2] == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        ivan.change_password(OldPassword=STRONG, NewPassword="N3w!Password")
    assert _error(caught) == (
        "LimitExceeded",
        409,
        "Too many failed password attempts. Wait a few minutes, then try again.",
    )


def test_root_and_roles_cannot_change_password(
    root_iam: Any, client: ClientFactory, account: NewAccount
) -> None:
    with pytest.raises(ClientError) as caught:
        root_iam.change_password(OldPassword=STRONG, NewPassword="N3w!Password")
    assert _error(caught)[:2] == ("InvalidUserType", 400)

    root_iam.update_account_password_policy(AllowUsersToChangePassword=True)
    _user(
        root_iam,
        client,
        "judy",
        statements=[{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
    )
    root_iam.create_role(
        RoleName="Changer",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    root_iam.put_role_policy(
        RoleName="Changer",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
            }
        ),
    )
    key = root_iam.create_access_key(UserName="judy")["AccessKey"]
    sts = client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    assumed = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account.account_id}:role/Changer", RoleSessionName="judy"
    )["Credentials"]
    role_iam = client(
        "iam", assumed["AccessKeyId"], assumed["SecretAccessKey"], assumed["SessionToken"]
    )
    with pytest.raises(ClientError) as caught:
        role_iam.change_password(OldPassword=STRONG, NewPassword="N3w!Password")
    assert _error(caught)[:2] == ("InvalidUserType", 400)
