"""The demo world of the cross-account scenario, built with boto3 calls only.

development (111122223333): groups Developers (may assume the production roles) and Testers
(may not), users alice (developer, with a virtual MFA device) and bob (tester).
production (444455556666): role UpdateApp trusting the development account, with read/write
on the `productionapp` bucket; UpdateAppMFA, the same but only with MFA.

EC2: production runs instances tagged env=production and env=staging. The development
group Admins (user carol, with her own MFA device) may do anything in development except
ec2:TerminateInstances, and may switch to production's TerminateInstances role (MFA
required), which may terminate only instances tagged env=production.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEMO_FILE",
    "DEVELOPMENT",
    "PRODUCTION",
    "build_world",
    "create_demo_bucket",
    "current_mfa_code",
    "demo_password",
    "profiles_text",
]

DEVELOPMENT: Final = "111122223333"
PRODUCTION: Final = "444455556666"
DEMO_FILE: Final = "demo.json"
BUCKET: Final = "productionapp"
TERMINATE_ROLE: Final = "TerminateInstances"
DEMO_IMAGE: Final = "ami-0a3c3a20c09d6f377"
# The production account's instances: Name tag -> env tag.
DEMO_INSTANCES: Final = {
    "web-1": "production",
    "web-2": "production",
    "staging-web-1": "staging",
    "staging-web-2": "staging",
}


def _doc(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def _client(service: str, endpoint: str, key: Mapping[str, str]) -> Any:
    import boto3  # type: ignore[import-untyped]

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def update_app_permissions() -> str:
    return _doc(
        {
            "Sid": "ListBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{BUCKET}",
        },
        {
            "Sid": "ReadWriteObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        },
    )


def trust_development(development: str, *, require_mfa: bool) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{development}:root"},
        "Action": "sts:AssumeRole",
    }
    if require_mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return _doc(statement)


def terminate_instances_permissions(production: str) -> str:
    """The TerminateInstances role: see every instance, terminate production's only."""
    return _doc(
        {"Sid": "SeeInstances", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
        {
            "Sid": "TerminateProductionInstances",
            "Effect": "Allow",
            "Action": "ec2:TerminateInstances",
            "Resource": f"arn:aws:ec2:*:{production}:instance/*",
            "Condition": {"StringEquals": {"ec2:ResourceTag/env": "production"}},
        },
    )


def admins_permissions() -> str:
    """Admins: everything in development but terminating instances themselves; they switch
    to production's TerminateInstances role for that."""
    return _doc(
        {"Sid": "Administer", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            "Sid": "NoTerminatingWithoutTheRole",
            "Effect": "Deny",
            "Action": "ec2:TerminateInstances",
            "Resource": "*",
        },
    )


def _enable_virtual_mfa(dev: Any, user: str) -> tuple[str, str]:
    """A virtual MFA device for `user`, enabled; its serial and base32 seed."""
    from .mfa import base32_to_seed, totp

    device = dev.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
    seed_text = device["Base32StringSeed"].decode()
    seed = base32_to_seed(seed_text)
    now = time.time()
    # Enable with the two codes before the current one, so the current code is still unused.
    dev.enable_mfa_device(
        UserName=user,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp(seed, now - 60),
        AuthenticationCode2=totp(seed, now - 30),
    )
    return str(device["SerialNumber"]), seed_text


def _run_demo_instances(endpoint: str, production_root: Mapping[str, str]) -> dict[str, str]:
    """The production account's tagged instances; their ids by Name."""
    ec2 = _client("ec2", endpoint, production_root)
    found: dict[str, str] = {}
    for name, env in DEMO_INSTANCES.items():
        made = ec2.run_instances(
            ImageId=DEMO_IMAGE,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "Name", "Value": name}, {"Key": "env", "Value": env}],
                }
            ],
        )
        found[name] = made["Instances"][0]["InstanceId"]
    return found


def demo_password(user: str) -> str:
    """A fresh console password for a demo user (printed by `make run`, kept in demo.json)."""
    import secrets

    return f"{user.capitalize()}-{secrets.token_urlsafe(9)}"


def build_world(
    endpoint: str, development_root: Mapping[str, str], production_root: Mapping[str, str]
) -> dict[str, Any]:
    """Create groups, users, keys, the MFA device and the roles; return what a user needs.

    The roots are `rolegate account create` outputs (AccountId, AccessKeyId, SecretAccessKey).
    """
    development = development_root["AccountId"]
    production = production_root["AccountId"]
    prod = _client("iam", endpoint, production_root)
    for name, mfa in (("UpdateApp", False), ("UpdateAppMFA", True)):
        prod.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=trust_development(development, require_mfa=mfa),
            Description="Read and write the productionapp bucket",
        )
        prod.put_role_policy(
            RoleName=name, PolicyName="productionapp-rw", PolicyDocument=update_app_permissions()
        )

    prod.create_role(
        RoleName=TERMINATE_ROLE,
        AssumeRolePolicyDocument=trust_development(development, require_mfa=True),
        Description="Terminate production instances (MFA required)",
    )
    prod.put_role_policy(
        RoleName=TERMINATE_ROLE,
        PolicyName="terminate-production-instances",
        PolicyDocument=terminate_instances_permissions(production),
    )

    dev = _client("iam", endpoint, development_root)
    dev.create_group(GroupName="Admins")
    dev.put_group_policy(
        GroupName="Admins",
        PolicyName="administer-but-terminate-through-the-role",
        PolicyDocument=admins_permissions(),
    )
    dev.create_group(GroupName="Developers")
    dev.put_group_policy(
        GroupName="Developers",
        PolicyName="assume-update-app",
        PolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{production}:role/UpdateApp*",
            },
            {
                "Effect": "Allow",
                "Action": ["iam:GetUser", "iam:ListMFADevices"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
        ),
    )
    dev.create_group(GroupName="Testers")
    dev.put_group_policy(
        GroupName="Testers",
        PolicyName="read-own-user",
        PolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Action": "iam:GetUser",
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
        ),
    )
    users: dict[str, Any] = {}
    for user, group in (("alice", "Developers"), ("bob", "Testers"), ("carol", "Admins")):
        dev.create_user(UserName=user)
        dev.add_user_to_group(GroupName=group, UserName=user)
        key = dev.create_access_key(UserName=user)["AccessKey"]
        password = demo_password(user)
        dev.create_login_profile(UserName=user, Password=password)
        users[user] = {
            "AccessKeyId": key["AccessKeyId"],
            "SecretAccessKey": key["SecretAccessKey"],
            "Password": password,
        }

    for user in ("alice", "carol"):
        users[user]["MfaSerial"], users[user]["MfaSeed"] = _enable_virtual_mfa(dev, user)
    instances = _run_demo_instances(endpoint, production_root)
    return {
        "Endpoint": endpoint,
        "Accounts": {"development": development, "production": production},
        "Users": users,
        "Roles": {
            "UpdateApp": f"arn:aws:iam::{production}:role/UpdateApp",
            "UpdateAppMFA": f"arn:aws:iam::{production}:role/UpdateAppMFA",
            TERMINATE_ROLE: f"arn:aws:iam::{production}:role/{TERMINATE_ROLE}",
        },
        "Instances": instances,
        "Roots": {"development": dict(development_root), "production": dict(production_root)},
    }


def create_demo_bucket(world: Mapping[str, Any]) -> None:
    """The `productionapp` bucket, owned by production (bucket names are global: the demo
    server has it once; tests that build several worlds on one server create their own)."""
    s3 = _client("s3", world["Endpoint"], world["Roots"]["production"])
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="README.txt", Body=b"The production app's bucket.\n")


def profiles_text(world: Mapping[str, Any]) -> str:
    """`~/.aws/config` profiles for the demo (boto3 and the aws CLI read them)."""
    endpoint = world["Endpoint"]
    lines: list[str] = []
    for user, key in world["Users"].items():
        lines += [
            f"[profile rolegate-{user}]",
            f"aws_access_key_id = {key['AccessKeyId']}",
            f"aws_secret_access_key = {key['SecretAccessKey']}",
            "region = us-east-1",
            f"endpoint_url = {endpoint}",
            "",
        ]
    roles = world["Roles"]
    alice = world["Users"]["alice"]
    lines += [
        "[profile rolegate-updateapp]",
        f"role_arn = {roles['UpdateApp']}",
        "source_profile = rolegate-alice",
        "region = us-east-1",
        f"endpoint_url = {endpoint}",
        "",
        "[profile rolegate-updateapp-mfa]",
        f"role_arn = {roles['UpdateAppMFA']}",
        "source_profile = rolegate-alice",
        f"mfa_serial = {alice['MfaSerial']}",
        "region = us-east-1",
        f"endpoint_url = {endpoint}",
        "",
    ]
    carol = world["Users"].get("carol")
    if carol is not None and TERMINATE_ROLE in roles:  # worlds built before EC2 lack them
        lines += [
            "[profile rolegate-terminate]",
            f"role_arn = {roles[TERMINATE_ROLE]}",
            "source_profile = rolegate-carol",
            f"mfa_serial = {carol['MfaSerial']}",
            "region = us-east-1",
            f"endpoint_url = {endpoint}",
            "",
        ]
    return "\n".join(lines)


def current_mfa_code(world: Mapping[str, Any], at: float | None = None, user: str = "alice") -> str:
    from .mfa import base32_to_seed, totp

    seed = base32_to_seed(world["Users"][user]["MfaSeed"])
    return totp(seed, time.time() if at is None else at)


def load_world(data_dir: str | Path) -> dict[str, Any] | None:
    path = Path(data_dir) / DEMO_FILE
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
