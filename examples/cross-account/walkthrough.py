"""Walk through the scenario with boto3: python walkthrough.py world.json

A developer assumes UpdateApp in production and gets the assumed-role identity; a tester is
denied; the MFA-protected role needs a code; the role's credentials cannot touch IAM.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from rolegate.demo import current_mfa_code


def client(
    service: str, world: dict[str, Any], key: dict[str, Any], token: str | None = None
) -> Any:
    return boto3.client(
        service,
        endpoint_url=world["Endpoint"],
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=token,
    )


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        world = json.load(handle)
    alice, bob = world["Users"]["alice"], world["Users"]["bob"]
    role = world["Roles"]["UpdateApp"]
    answer = client("sts", world, alice).assume_role(RoleArn=role, RoleSessionName="alice")
    creds = answer["Credentials"]
    session = client("sts", world, creds, creds["SessionToken"])
    print("alice as UpdateApp:", session.get_caller_identity()["Arn"])
    try:
        client("sts", world, bob).assume_role(RoleArn=role, RoleSessionName="bob")
    except ClientError as error:
        print("bob:", error.response["Error"]["Message"])
    try:
        client("sts", world, alice).assume_role(
            RoleArn=world["Roles"]["UpdateAppMFA"], RoleSessionName="alice"
        )
    except ClientError as error:
        print("UpdateAppMFA without MFA:", error.response["Error"]["Code"])
    mfa = client("sts", world, alice).assume_role(
        RoleArn=world["Roles"]["UpdateAppMFA"],
        RoleSessionName="alice-mfa",
        SerialNumber=alice["MfaSerial"],
        TokenCode=current_mfa_code(world, time.time()),
    )
    print("UpdateAppMFA with MFA:", mfa["AssumedRoleUser"]["Arn"])
    try:
        client("iam", world, creds, creds["SessionToken"]).list_users()
    except ClientError as error:
        print("UpdateApp on IAM:", error.response["Error"]["Code"])


if __name__ == "__main__":
    main()
