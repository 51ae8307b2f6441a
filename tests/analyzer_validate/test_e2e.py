"""ValidatePolicy through a real server: boto3 (with its paginator) and the aws CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.server import RunningServer
from rolegate.analyzer.validate import validate_policy
from rolegate.iam.accounts import NewAccount, create_account

from .helpers import document
from .test_aws_examples import CLI_EXAMPLE_POLICY


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer.sqlite(tmp_path_factory.mktemp("rolegate-validate")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def account(server: RunningServer) -> NewAccount:
    with server.database.write() as uow:
        return create_account(uow, None, None)


def _client(server: RunningServer, service: str, key_id: str, secret: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def analyzer(server: RunningServer, account: NewAccount) -> Any:
    return _client(server, "accessanalyzer", account.access_key_id, account.secret_access_key)


@pytest.fixture(scope="module")
def iam(server: RunningServer, account: NewAccount) -> Any:
    return _client(server, "iam", account.access_key_id, account.secret_access_key)


def _expected(text: str, policy_type: str, resource: str | None = None) -> list[Any]:
    return [finding.as_dict() for finding in validate_policy(text, policy_type, resource)]


def test_boto3_gets_the_validator_s_findings(analyzer: Any) -> None:
    answer = analyzer.validate_policy(
        policyDocument=CLI_EXAMPLE_POLICY, policyType="RESOURCE_POLICY", locale="EN"
    )
    assert answer["findings"] == _expected(CLI_EXAMPLE_POLICY, "RESOURCE_POLICY")
    assert [item["issueCode"] for item in answer["findings"]] == [
        "EMPTY_SID_VALUE",
        "MISMATCHED_ACTION_FOR_PRINCIPAL",
        "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
    ]
    assert "nextToken" not in answer


def test_paginator_pages_through_every_finding(analyzer: Any) -> None:
    paginator = analyzer.get_paginator("validate_policy")
    pages = list(
        paginator.paginate(
            policyDocument=CLI_EXAMPLE_POLICY,
            policyType="RESOURCE_POLICY",
            PaginationConfig={"PageSize": 2},
        )
    )
    assert [len(page["findings"]) for page in pages] == [2, 1]
    collected = [item for page in pages for item in page["findings"]]
    assert collected == _expected(CLI_EXAMPLE_POLICY, "RESOURCE_POLICY")


def test_resource_type_narrows_a_resource_policy(analyzer: Any) -> None:
    text = document(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*"}
    )
    answer = analyzer.validate_policy(
        policyDocument=text,
        policyType="RESOURCE_POLICY",
        validatePolicyResourceType="AWS::S3::Bucket",
    )
    assert [item["issueCode"] for item in answer["findings"]] == [
        "UNSUPPORTED_RESOURCE_ARN_IN_POLICY"
    ]


def test_bad_input_gets_aws_shaped_validation_errors(analyzer: Any) -> None:
    with pytest.raises(ClientError) as bad_token:
        analyzer.validate_policy(
            policyDocument=CLI_EXAMPLE_POLICY, policyType="RESOURCE_POLICY", nextToken="nope"
        )
    error = bad_token.value.response
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["reason"] == "fieldValidationFailed"
    assert error["fieldList"] == [{"name": "nextToken", "message": "Invalid pagination token."}]
    with pytest.raises(ClientError) as bad_type:
        analyzer.validate_policy(policyDocument="{}", policyType="USER_POLICY")
    assert bad_type.value.response["Error"]["Code"] == "ValidationException"


def test_syntax_errors_are_findings_not_failures(analyzer: Any) -> None:
    answer = analyzer.validate_policy(policyDocument='{"Version": ', policyType="IDENTITY_POLICY")
    assert [item["issueCode"] for item in answer["findings"]] == ["JSON_SYNTAX_ERROR"]


def test_validate_policy_needs_permission_on_star(
    server: RunningServer, iam: Any, analyzer: Any
) -> None:
    iam.create_user(UserName="validator")
    key = iam.create_access_key(UserName="validator")["AccessKey"]
    user = _client(server, "accessanalyzer", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as denied:
        user.validate_policy(policyDocument=CLI_EXAMPLE_POLICY, policyType="RESOURCE_POLICY")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    grant = document(
        {"Effect": "Allow", "Action": "access-analyzer:ValidatePolicy", "Resource": "*"}
    )
    iam.put_user_policy(UserName="validator", PolicyName="validate", PolicyDocument=grant)
    answer = user.validate_policy(policyDocument=grant, policyType="IDENTITY_POLICY")
    assert answer["findings"] == []


def test_iam_accepts_an_unknown_action_that_validate_policy_reports(
    iam: Any, analyzer: Any
) -> None:
    text = document({"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"})
    created = iam.create_policy(PolicyName="typo", PolicyDocument=text)["Policy"]
    assert created["PolicyName"] == "typo"
    answer = analyzer.validate_policy(policyDocument=text, policyType="IDENTITY_POLICY")
    (finding,) = answer["findings"]
    assert finding["issueCode"] == "INVALID_ACTION"
    assert finding["findingDetails"] == (
        "The action s3:GetObjekt does not exist. Did you mean s3:GetObject?"
    )


def test_aws_cli_validate_policy(
    server: RunningServer, account: NewAccount, tmp_path: Path
) -> None:
    policy = tmp_path / "trust.json"
    policy.write_text(CLI_EXAMPLE_POLICY, encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("aws")),
            "--endpoint-url",
            server.url,
            "accessanalyzer",
            "validate-policy",
            "--policy-document",
            f"file://{policy}",
            "--policy-type",
            "RESOURCE_POLICY",
            "--page-size",
            "1",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["findings"] == _expected(CLI_EXAMPLE_POLICY, "RESOURCE_POLICY")
