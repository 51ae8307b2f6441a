"""The demo world's least-privilege story for EC2: carol (Admins, development) may not
terminate instances herself, but may switch to production's TerminateInstances role with
MFA, which terminates env=production instances only. boto3 and the aws CLI (a profile with
role_arn, source_profile and mfa_serial, the code typed on stdin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.server import RunningServer
from rolegate.demo import build_world, profiles_text
from rolegate.iam.accounts import NewAccount
from rolegate.mfa import base32_to_seed, totp

AWS = str(Path(sys.executable).with_name("aws"))


class World:
    def __init__(self, server: RunningServer, client: Any, data: dict[str, Any]) -> None:
        self.server, self.client, self.data = server, client, data
        self.production = data["Accounts"]["production"]
        self.role = data["Roles"]["TerminateInstances"]
        self.instances: dict[str, str] = data["Instances"]

    def user(self, name: str, service: str) -> Any:
        key = self.data["Users"][name]
        return self.client(service, key["AccessKeyId"], key["SecretAccessKey"])

    def root(self, account: str, service: str) -> Any:
        key = self.data["Roots"][account]
        return self.client(service, key["AccessKeyId"], key["SecretAccessKey"])

    def mfa_code(self, user: str = "carol") -> str:
        """The user's next code: the server's clock moves one 30 s step first (a code
        works once)."""
        self.server.clock.advance(30)
        seed = base32_to_seed(self.data["Users"][user]["MfaSeed"])
        return totp(seed, self.server.clock.now().timestamp())

    def state(self, name: str) -> str:
        found = self.root("production", "ec2").describe_instances(
            InstanceIds=[self.instances[name]]
        )
        return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])


@pytest.fixture
def world(server: RunningServer, client: Any, make_account: Callable[..., NewAccount]) -> World:
    development, production = make_account(), make_account()
    return World(
        server, client, build_world(server.url, development.to_json(), production.to_json())
    )


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_admins_terminate_production_instances_only_through_the_role_with_mfa(
    world: World,
) -> None:
    found = world.root("production", "ec2").describe_instances(
        Filters=[{"Name": "tag:env", "Values": ["production"]}]
    )
    names = {
        tag["Value"]
        for reservation in found["Reservations"]
        for instance in reservation["Instances"]
        for tag in instance["Tags"]
        if tag["Key"] == "Name"
    }
    assert names == {"web-1", "web-2"}  # production runs tagged instances

    carol_ec2 = world.user("carol", "ec2")
    own = carol_ec2.run_instances(ImageId="ami-0a3c3a20c09d6f377", MinCount=1, MaxCount=1)
    with pytest.raises(ClientError) as caught:
        carol_ec2.terminate_instances(InstanceIds=[own["Instances"][0]["InstanceId"]])
    assert _code(caught) == "UnauthorizedOperation"
    assert "with an explicit deny in an identity-based policy" in str(caught.value)

    carol_sts = world.user("carol", "sts")
    with pytest.raises(ClientError) as caught:
        carol_sts.assume_role(RoleArn=world.role, RoleSessionName="carol")
    assert _code(caught) == "AccessDenied"  # the trust policy asks for MFA
    with pytest.raises(ClientError) as caught:
        world.user("alice", "sts").assume_role(
            RoleArn=world.role,
            RoleSessionName="alice",
            SerialNumber=world.data["Users"]["alice"]["MfaSerial"],
            TokenCode=world.mfa_code("alice"),
        )
    assert _code(caught) == "AccessDenied"  # Developers may not assume it

    credentials = carol_sts.assume_role(
        RoleArn=world.role,
        RoleSessionName="carol",
        SerialNumber=world.data["Users"]["carol"]["MfaSerial"],
        TokenCode=world.mfa_code(),
    )["Credentials"]
    role_ec2 = world.client(
        "ec2",
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    role_ec2.terminate_instances(InstanceIds=[world.instances["web-1"]])
    assert world.state("web-1") == "shutting-down"
    with pytest.raises(ClientError) as caught:
        role_ec2.terminate_instances(InstanceIds=[world.instances["staging-web-1"]])
    assert _code(caught) == "UnauthorizedOperation"
    message = str(caught.value.response["Error"]["Message"])
    encoded = message.split("Encoded authorization failure message: ", 1)[1]
    decoded = json.loads(
        world.root("production", "sts").decode_authorization_message(EncodedMessage=encoded)[
            "DecodedMessage"
        ]
    )
    assert decoded["context"]["principal"]["arn"].endswith(":assumed-role/TerminateInstances/carol")
    assert world.state("staging-web-1") == "running"


def _aws(home: Path, world: World, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    (home / "config").write_text(profiles_text(world.data), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
    }
    return subprocess.run(
        [AWS, *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        check=False,
    )


def test_aws_cli_terminates_through_the_mfa_role_profile(world: World, tmp_path: Path) -> None:
    done = _aws(
        tmp_path,
        world,
        "ec2",
        "terminate-instances",
        "--profile",
        "rolegate-terminate",
        "--instance-ids",
        world.instances["web-2"],
        stdin=world.mfa_code() + "\n",
    )
    assert done.returncode == 0, done.stderr
    changed = json.loads(done.stdout)["TerminatingInstances"][0]
    assert changed["CurrentState"]["Name"] == "shutting-down"
    assert world.state("web-2") == "shutting-down"
    # The role session is cached by the CLI: no second MFA prompt.
    refused = _aws(
        tmp_path,
        world,
        "ec2",
        "terminate-instances",
        "--profile",
        "rolegate-terminate",
        "--instance-ids",
        world.instances["staging-web-2"],
    )
    assert refused.returncode != 0
    assert "(UnauthorizedOperation) when calling the TerminateInstances operation" in refused.stderr
    assert "Encoded authorization failure message" in refused.stderr
    assert world.state("staging-web-2") == "running"


def test_demo_mfa_code_prints_carols_code(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rolegate.cli import main
    from rolegate.demo import DEMO_FILE, current_mfa_code

    seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    world = {"Users": {"alice": {}, "carol": {"MfaSeed": seed}}}
    (tmp_path / DEMO_FILE).write_text(json.dumps(world), encoding="utf-8")
    runner = CliRunner()
    printed = runner.invoke(main, ["demo", "mfa-code", "--user", "carol", "--data", str(tmp_path)])
    assert printed.exit_code == 0, printed.output
    assert printed.output.strip() in {
        current_mfa_code(world, user="carol"),
        current_mfa_code(world, at=time.time() - 30, user="carol"),
    }
    refused = runner.invoke(main, ["demo", "mfa-code", "--user", "alice", "--data", str(tmp_path)])
    assert refused.exit_code == 2
