"""The cross-account scenario end to end: a developer in one account switches to a role in
another and gets temporary credentials that can do exactly what the role allows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rolegate.demo import build_world, profiles_text
from rolegate.iam.accounts import NewAccount
from rolegate.mfa import base32_to_seed, totp
from rolegate.sts.tokens import seal_message

from .conftest import ClientFactory
from .server import RunningServer


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class World:
    def __init__(self, server: RunningServer, client: ClientFactory, data: dict[str, Any]):
        self.server = server
        self.client = client
        self.data = data
        self.dev = data["Accounts"]["development"]
        self.prod = data["Accounts"]["production"]
        self.update_app = data["Roles"]["UpdateApp"]
        self.update_app_mfa = data["Roles"]["UpdateAppMFA"]

    def user(self, name: str, service: str = "sts") -> Any:
        key = self.data["Users"][name]
        return self.client(service, key["AccessKeyId"], key["SecretAccessKey"])

    def root(self, account: str, service: str = "iam") -> Any:
        key = self.data["Roots"][account]
        return self.client(service, key["AccessKeyId"], key["SecretAccessKey"])

    def session(self, credentials: dict[str, Any], service: str) -> Any:
        return self.client(
            service,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )

    def mfa_code(self, steps_ahead: int = 0) -> str:
        seed = base32_to_seed(self.data["Users"]["alice"]["MfaSeed"])
        at = self.server.clock.now().timestamp() + 30 * steps_ahead
        return totp(seed, at)


@pytest.fixture
def world(
    server: RunningServer, client: ClientFactory, make_account: Callable[..., NewAccount]
) -> World:
    development, production = make_account(), make_account()
    data = build_world(server.url, development.to_json(), production.to_json())
    return World(server, client, data)


def test_developer_assumes_the_role_and_sees_the_assumed_role_arn(world: World) -> None:
    response = world.user("alice").assume_role(
        RoleArn=world.update_app, RoleSessionName="alice-deploy"
    )
    credentials = response["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert response["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{world.prod}:assumed-role/UpdateApp/alice-deploy"
    )
    assert response["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    identity = world.session(credentials, "sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{world.prod}:assumed-role/UpdateApp/alice-deploy"
    assert identity["Account"] == world.prod
    assert identity["UserId"] == response["AssumedRoleUser"]["AssumedRoleId"]


def test_tester_is_denied_with_the_aws_message(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.user("bob").assume_role(RoleArn=world.update_app, RoleSessionName="bob")
    assert _error(caught) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{world.dev}:user/bob is not authorized to perform: "
        f"sts:AssumeRole on resource: {world.update_app}",
    )


def test_a_missing_role_is_denied_the_same_way(world: World) -> None:
    missing = f"arn:aws:iam::{world.prod}:role/UpdateAppX"
    with pytest.raises(ClientError) as caught:
        world.user("alice").assume_role(RoleArn=missing, RoleSessionName="alice")
    assert _error(caught) == (
        "AccessDenied",
        403,
        f"User: arn:aws:iam::{world.dev}:user/alice is not authorized to perform: "
        f"sts:AssumeRole on resource: {missing}",
    )


def test_mfa_protected_role(world: World) -> None:
    alice = world.user("alice")
    serial = world.data["Users"]["alice"]["MfaSerial"]
    with pytest.raises(ClientError) as caught:
        alice.assume_role(RoleArn=world.update_app_mfa, RoleSessionName="alice")
    assert _error(caught)[:2] == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        alice.assume_role(
            RoleArn=world.update_app_mfa,
            RoleSessionName="alice",
            SerialNumber=serial,
            TokenCode="000000" if world.mfa_code() != "000000" else "111111",
        )
    assert _error(caught) == (
        "AccessDenied",
        403,
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
    )
    code = world.mfa_code()
    allowed = alice.assume_role(
        RoleArn=world.update_app_mfa, RoleSessionName="alice", SerialNumber=serial, TokenCode=code
    )
    identity = world.session(allowed["Credentials"], "sts").get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/UpdateAppMFA/alice")
    with pytest.raises(ClientError) as caught:
        alice.assume_role(
            RoleArn=world.update_app_mfa,
            RoleSessionName="again",
            SerialNumber=serial,
            TokenCode=code,
        )
    assert _error(caught)[0] == "AccessDenied"
    world.server.clock.advance(30)
    again = alice.assume_role(
        RoleArn=world.update_app_mfa,
        RoleSessionName="later",
        SerialNumber=serial,
        TokenCode=world.mfa_code(),
    )
    assert again["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_role_credentials_can_do_only_what_the_role_allows(world: World) -> None:
    credentials = world.user("alice").assume_role(
        RoleArn=world.update_app, RoleSessionName="alice"
    )["Credentials"]
    role_iam = world.session(credentials, "iam")
    with pytest.raises(ClientError) as caught:
        role_iam.list_users()
    assert _error(caught)[0] == "AccessDenied"
    # alice's own permissions are suspended while she uses the role...
    with pytest.raises(ClientError) as caught:
        role_iam.get_user(UserName="alice")
    assert _error(caught)[0] == "AccessDenied"
    # ...and her long-term keys keep working with her own permissions.
    assert world.user("alice", "iam").get_user()["User"]["UserName"] == "alice"
    # a policy change applies to live sessions
    prod_root = world.root("production")
    prod_root.put_role_policy(
        RoleName="UpdateApp",
        PolicyName="list-roles",
        PolicyDocument=_doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}),
    )
    assert {r["RoleName"] for r in role_iam.list_roles()["Roles"]} >= {"UpdateApp"}
    prod_root.delete_role_policy(RoleName="UpdateApp", PolicyName="list-roles")
    with pytest.raises(ClientError) as caught:
        role_iam.list_roles()
    assert _error(caught)[0] == "AccessDenied"


def test_expired_and_tampered_tokens(world: World) -> None:
    credentials = world.user("alice").assume_role(
        RoleArn=world.update_app, RoleSessionName="alice", DurationSeconds=900
    )["Credentials"]
    session = world.session(credentials, "sts")
    assert session.get_caller_identity()["Account"] == world.prod
    tampered = dict(credentials)
    token = credentials["SessionToken"]
    tampered["SessionToken"] = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(ClientError) as caught:
        world.session(tampered, "sts").get_caller_identity()
    assert _error(caught)[:2] == ("InvalidClientTokenId", 403)
    world.server.clock.advance(901)
    with pytest.raises(ClientError) as caught:
        session.get_caller_identity()
    assert _error(caught) == (
        "ExpiredToken",
        403,
        "The security token included in the request is expired",
    )


def test_duration_limits_and_role_chaining(world: World) -> None:
    alice = world.user("alice")
    with pytest.raises(ClientError) as caught:
        alice.assume_role(RoleArn=world.update_app, RoleSessionName="short", DurationSeconds=7200)
    assert _error(caught) == (
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    prod_root = world.root("production")
    prod_root.update_role(RoleName="UpdateApp", MaxSessionDuration=43200)
    prod_root.create_role(
        RoleName="Chained",
        AssumeRolePolicyDocument=_doc(
            {"Effect": "Allow", "Principal": {"AWS": world.update_app}, "Action": "sts:AssumeRole"}
        ),
        MaxSessionDuration=43200,
    )
    prod_root.put_role_policy(
        RoleName="UpdateApp",
        PolicyName="chain",
        PolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{world.prod}:role/Chained",
            }
        ),
    )
    first = alice.assume_role(
        RoleArn=world.update_app, RoleSessionName="first", DurationSeconds=7200
    )["Credentials"]
    session = world.session(first, "sts")
    chained_arn = f"arn:aws:iam::{world.prod}:role/Chained"
    with pytest.raises(ClientError) as caught:
        session.assume_role(RoleArn=chained_arn, RoleSessionName="second", DurationSeconds=7200)
    assert _error(caught) == (
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
        "role chaining.",
    )
    chained = session.assume_role(RoleArn=chained_arn, RoleSessionName="second")
    assert chained["AssumedRoleUser"]["Arn"].endswith(":assumed-role/Chained/second")
    # the role does not trust itself: the chained role cannot assume UpdateApp back
    with pytest.raises(ClientError) as caught:
        world.session(chained["Credentials"], "sts").assume_role(
            RoleArn=world.update_app, RoleSessionName="back"
        )
    assert _error(caught)[0] == "AccessDenied"


def test_session_policy_narrows_the_session(world: World) -> None:
    prod_root = world.root("production")
    prod_root.put_role_policy(
        RoleName="UpdateApp",
        PolicyName="iam-read",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": ["iam:ListRoles", "iam:GetRole"], "Resource": "*"}
        ),
    )
    response = world.user("alice").assume_role(
        RoleArn=world.update_app,
        RoleSessionName="narrow",
        Policy=_doc({"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}),
    )
    assert 0 < response["PackedPolicySize"] <= 100
    narrowed = world.session(response["Credentials"], "iam")
    assert narrowed.get_role(RoleName="UpdateApp")["Role"]["RoleName"] == "UpdateApp"
    with pytest.raises(ClientError) as caught:
        narrowed.list_roles()
    code, _, message = _error(caught)
    assert code == "AccessDenied"
    assert "no session policy allows" in message
    with pytest.raises(ClientError) as caught:
        world.user("alice").assume_role(
            RoleArn=world.update_app, RoleSessionName="bad", Policy='{"Statement": [}'
        )
    assert _error(caught)[:2] == ("MalformedPolicyDocument", 400)


def test_revoking_older_sessions_with_token_issue_time(world: World) -> None:
    old = world.user("alice").assume_role(RoleArn=world.update_app, RoleSessionName="old")
    prod_root = world.root("production")
    prod_root.put_role_policy(
        RoleName="UpdateApp",
        PolicyName="iam-read",
        PolicyDocument=_doc({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}),
    )
    world.server.clock.advance(5)
    cutoff = world.server.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    world.server.clock.advance(5)
    prod_root.put_role_policy(
        RoleName="UpdateApp",
        PolicyName="AWSRevokeOlderSessions",
        PolicyDocument=_doc(
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
            }
        ),
    )
    with pytest.raises(ClientError) as caught:
        world.session(old["Credentials"], "iam").list_roles()
    assert "explicit deny" in _error(caught)[2]
    new = world.user("alice").assume_role(RoleArn=world.update_app, RoleSessionName="new")
    assert world.session(new["Credentials"], "iam").list_roles()["Roles"]


def test_external_id_session_tags_and_source_identity(world: World) -> None:
    prod_root = world.root("production")
    dev_principal = f"arn:aws:iam::{world.dev}:root"
    prod_root.create_role(
        RoleName="Partner",
        AssumeRolePolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": dev_principal},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "partner-42"}},
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": dev_principal},
                "Action": ["sts:TagSession", "sts:SetSourceIdentity"],
            },
        ),
    )
    root_dev = world.root("development")
    root_dev.put_group_policy(
        GroupName="Developers",
        PolicyName="partner",
        PolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                "Resource": f"arn:aws:iam::{world.prod}:role/Partner",
            }
        ),
    )
    alice = world.user("alice")
    partner = f"arn:aws:iam::{world.prod}:role/Partner"
    with pytest.raises(ClientError):
        alice.assume_role(RoleArn=partner, RoleSessionName="partner")
    with pytest.raises(ClientError):
        alice.assume_role(RoleArn=partner, RoleSessionName="partner", ExternalId="wrong-id")
    tagged = alice.assume_role(
        RoleArn=partner,
        RoleSessionName="partner",
        ExternalId="partner-42",
        Tags=[{"Key": "project", "Value": "apollo"}],
        TransitiveTagKeys=["project"],
        SourceIdentity="alice",
    )
    assert tagged["SourceIdentity"] == "alice"
    assert "PackedPolicySize" in tagged
    # without sts:TagSession in the trust policy, tags are refused
    with pytest.raises(ClientError) as caught:
        alice.assume_role(
            RoleArn=world.update_app, RoleSessionName="tags", Tags=[{"Key": "a", "Value": "b"}]
        )
    assert _error(caught)[0] == "AccessDenied"


def test_root_cannot_assume_roles(world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.root("development", "sts").assume_role(
            RoleArn=world.update_app, RoleSessionName="root"
        )
    assert _error(caught) == ("AccessDenied", 403, "Roles may not be assumed by root accounts.")


def test_get_caller_identity_works_under_explicit_deny(world: World) -> None:
    root_dev = world.root("development")
    root_dev.put_user_policy(
        UserName="bob",
        PolicyName="deny-all",
        PolicyDocument=_doc({"Effect": "Deny", "Action": "*", "Resource": "*"}),
    )
    identity = world.user("bob").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{world.dev}:user/bob"
    assert identity["UserId"].startswith("AIDA")


def test_get_session_token(world: World) -> None:
    serial = world.data["Users"]["alice"]["MfaSerial"]
    alice = world.user("alice")
    token = alice.get_session_token(
        DurationSeconds=900, SerialNumber=serial, TokenCode=world.mfa_code()
    )["Credentials"]
    # the session token carries alice's permissions and MFA: the MFA role now opens
    session = world.session(token, "sts")
    assert session.get_caller_identity()["Arn"] == f"arn:aws:iam::{world.dev}:user/alice"
    assumed = session.assume_role(RoleArn=world.update_app_mfa, RoleSessionName="mfa")
    assert assumed["AssumedRoleUser"]["Arn"].endswith("UpdateAppMFA/mfa")
    with pytest.raises(ClientError) as caught:
        session.get_session_token()
    assert _error(caught)[0] == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        alice.get_session_token(DurationSeconds=200000)
    assert _error(caught)[:2] == ("ValidationError", 400)


def test_decode_authorization_message(world: World) -> None:
    encoded = seal_message(
        {"allowed": False, "explicitDeny": False, "context": {"action": "s3:GetObject"}},
        world.server.database_keys(),
    )
    with pytest.raises(ClientError) as caught:
        world.user("alice").decode_authorization_message(EncodedMessage=encoded)
    assert _error(caught)[0] == "AccessDenied"
    world.root("development").put_user_policy(
        UserName="alice",
        PolicyName="decode",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}
        ),
    )
    decoded = world.user("alice").decode_authorization_message(EncodedMessage=encoded)
    assert json.loads(decoded["DecodedMessage"])["context"]["action"] == "s3:GetObject"
    foreign = seal_message(
        {"allowed": False, "context": {"principal": {"arn": f"arn:aws:iam::{world.prod}:root"}}},
        world.server.database_keys(),
    )
    with pytest.raises(ClientError) as caught:
        world.user("alice").decode_authorization_message(EncodedMessage=foreign)
    assert _error(caught)[:2] == ("InvalidAuthorizationMessageException", 400)
    with pytest.raises(ClientError) as caught:
        world.user("alice").decode_authorization_message(EncodedMessage="garbage")
    assert _error(caught)[:2] == ("InvalidAuthorizationMessageException", 400)


def test_token_size_is_reasonable(world: World) -> None:
    response = world.user("alice").assume_role(RoleArn=world.update_app, RoleSessionName="size")
    assert len(response["Credentials"]["SessionToken"]) < 1024


def _aws_cli(
    world: World, home: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    (home / "config").write_text(profiles_text(world.data), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("aws")), *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        check=False,
    )


def test_aws_cli_profiles_with_role_arn_and_mfa_serial(world: World, tmp_path: Path) -> None:
    assumed = _aws_cli(
        world, tmp_path, "sts", "get-caller-identity", "--profile", "rolegate-updateapp"
    )
    assert assumed.returncode == 0, assumed.stderr
    assert json.loads(assumed.stdout)["Arn"].startswith(
        f"arn:aws:sts::{world.prod}:assumed-role/UpdateApp/"
    )
    tester = _aws_cli(
        world,
        tmp_path,
        "sts",
        "assume-role",
        "--role-arn",
        world.update_app,
        "--role-session-name",
        "bob",
        "--profile",
        "rolegate-bob",
    )
    assert tester.returncode != 0 and "AccessDenied" in tester.stderr
    with_mfa = _aws_cli(
        world,
        tmp_path,
        "sts",
        "get-caller-identity",
        "--profile",
        "rolegate-updateapp-mfa",
        stdin=world.mfa_code() + "\n",
    )
    assert with_mfa.returncode == 0, with_mfa.stderr
    assert ":assumed-role/UpdateAppMFA/" in json.loads(with_mfa.stdout)["Arn"]
