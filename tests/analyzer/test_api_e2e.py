"""IAM Access Analyzer end to end: boto3's `accessanalyzer` client (REST-JSON) against a real
server, findings following IAM trust policies and S3 bucket policies written through the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError  # type: ignore[import-untyped]

from rolegate.iam.accounts import NewAccount

from .conftest import Clients

OTHER = "444455556666"


def _trust(principal: Any, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, dict[str, Any]]:
    response: Any = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


def test_analyzer_lifecycle_and_errors(clients: Clients, account: NewAccount) -> None:
    analyzer = clients("accessanalyzer")
    assert analyzer.list_analyzers()["analyzers"] == []
    arn = analyzer.create_analyzer(analyzerName="main", type="ACCOUNT", tags={"k": "v"})["arn"]
    assert arn == f"arn:aws:access-analyzer:us-east-1:{account.account_id}:analyzer/main"
    got = analyzer.get_analyzer(analyzerName="main")["analyzer"]
    assert (got["arn"], got["type"], got["status"], got["tags"]) == (
        arn,
        "ACCOUNT",
        "ACTIVE",
        {"k": "v"},
    )
    assert [a["name"] for a in analyzer.list_analyzers(type="ACCOUNT")["analyzers"]] == ["main"]
    assert analyzer.list_analyzers(type="ORGANIZATION")["analyzers"] == []

    with pytest.raises(ClientError) as missing:
        analyzer.get_analyzer(analyzerName="nope")
    code, status, response = _error(missing)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert response["Error"]["Message"] == "Analyzer nope not found."
    with pytest.raises(ClientError) as quota:
        analyzer.create_analyzer(analyzerName="second", type="ACCOUNT")
    assert _error(quota)[:2] == ("ServiceQuotaExceededException", 402)
    with pytest.raises(ClientError) as duplicate:
        analyzer.create_analyzer(analyzerName="main", type="ORGANIZATION")
    assert _error(duplicate)[:2] == ("ConflictException", 409)

    unchecked = clients("accessanalyzer", validate=False)
    with pytest.raises(ClientError) as invalid:
        unchecked.get_analyzer(analyzerName="1-starts-with-a-digit")
    assert _error(invalid)[:2] == ("ValidationException", 400)
    assert "analyzerName" in _error(invalid)[2]["Error"]["Message"]
    with pytest.raises(ParamValidationError):
        analyzer.get_analyzer(analyzerName="")

    analyzer.delete_analyzer(analyzerName="main")
    assert analyzer.list_analyzers()["analyzers"] == []


def test_trust_policy_findings_follow_the_policy(clients: Clients, account: NewAccount) -> None:
    iam, analyzer = clients("iam"), clients("accessanalyzer")
    iam.create_role(RoleName="Before", AssumeRolePolicyDocument=_trust({"AWS": OTHER}))
    arn = analyzer.create_analyzer(analyzerName="main", type="ACCOUNT")["arn"]
    # The initial scan found the role created before the analyzer.
    (before,) = analyzer.list_findings(analyzerArn=arn)["findings"]
    assert before["principal"] == {"AWS": OTHER}
    assert before["action"] == ["sts:AssumeRole"]
    assert before["resourceType"] == "AWS::IAM::Role"
    assert before["status"] == "ACTIVE" and before["isPublic"] is False
    assert before["condition"] == {} and before["resourceOwnerAccount"] == account.account_id

    # A trust policy written through IAM is analyzed in the same transaction.
    iam.create_role(
        RoleName="Partner",
        AssumeRolePolicyDocument=_trust(
            {"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringEquals": {"sts:ExternalId": "x-1"}}
        ),
    )
    partner = analyzer.list_findings(
        analyzerArn=arn, filter={"resource": {"contains": ["role/Partner"]}}
    )["findings"]
    assert [(f["principal"], f["condition"]) for f in partner] == [
        ({"AWS": OTHER}, {"sts:ExternalId": "x-1"})
    ]
    iam.update_assume_role_policy(
        RoleName="Partner",
        PolicyDocument=_trust({"AWS": f"arn:aws:iam::{account.account_id}:root"}),
    )
    finding = analyzer.get_finding(analyzerArn=arn, id=partner[0]["id"])["finding"]
    assert finding["status"] == "RESOLVED"
    iam.update_assume_role_policy(RoleName="Partner", PolicyDocument=_trust({"AWS": "*"}))
    public = analyzer.list_findings(
        analyzerArn=arn, filter={"isPublic": {"eq": ["true"]}, "status": {"eq": ["ACTIVE"]}}
    )["findings"]
    assert [(f["principal"], f["resource"].rsplit("/", 1)[1]) for f in public] == [
        ({"AWS": "*"}, "Partner")
    ]
    iam.delete_role(RoleName="Partner")
    statuses = {
        f["status"]
        for f in analyzer.list_findings(
            analyzerArn=arn, filter={"resource": {"contains": ["role/Partner"]}}
        )["findings"]
    }
    assert statuses == {"RESOLVED"}

    # V2: the same findings, details as a union list.
    v2 = analyzer.list_findings_v2(analyzerArn=arn, filter={"status": {"eq": ["ACTIVE"]}})
    assert [f["findingType"] for f in v2["findings"]] == ["ExternalAccess"]
    details = analyzer.get_finding_v2(analyzerArn=arn, id=v2["findings"][0]["id"])
    assert details["findingDetails"] == [
        {
            "externalAccessDetails": {
                "action": ["sts:AssumeRole"],
                "condition": {},
                "isPublic": False,
                "principal": {"AWS": OTHER},
            }
        }
    ]
    resources = analyzer.list_analyzed_resources(analyzerArn=arn)["analyzedResources"]
    assert [r["resourceArn"].rsplit("/", 1)[1] for r in resources] == ["Before"]
    resource = analyzer.get_analyzed_resource(
        analyzerArn=arn, resourceArn=resources[0]["resourceArn"]
    )["resource"]
    assert resource["status"] == "ACTIVE" and resource["actions"] == ["sts:AssumeRole"]


def test_bucket_policy_findings_archive_rules_and_updates(
    clients: Clients, account: NewAccount
) -> None:
    s3, analyzer = clients("s3"), clients("accessanalyzer")
    arn = analyzer.create_analyzer(
        analyzerName="main",
        type="ACCOUNT",
        archiveRules=[{"ruleName": "partner", "filter": {"principal.AWS": {"eq": [OTHER]}}}],
    )["arn"]
    bucket = f"aa-{account.account_id}"
    s3.create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": OTHER},
                "Action": ["s3:PutObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    found = {
        json.dumps(f["principal"]): f for f in analyzer.list_findings(analyzerArn=arn)["findings"]
    }
    public, partner = found['{"AWS": "*"}'], found[json.dumps({"AWS": OTHER})]
    assert public["isPublic"] is True and public["status"] == "ACTIVE"
    assert public["sources"] == [{"type": "POLICY"}]
    assert partner["status"] == "ARCHIVED"  # the inline archive rule matched it

    analyzer.update_findings(analyzerArn=arn, status="ACTIVE", ids=[partner["id"]])
    assert analyzer.get_finding(analyzerArn=arn, id=partner["id"])["finding"]["status"] == "ACTIVE"
    analyzer.apply_archive_rule(analyzerArn=arn, ruleName="partner")
    assert (
        analyzer.get_finding(analyzerArn=arn, id=partner["id"])["finding"]["status"] == "ARCHIVED"
    )

    analyzer.create_archive_rule(
        analyzerName="main", ruleName="public", filter={"isPublic": {"eq": ["true"]}}
    )
    rules = analyzer.list_archive_rules(analyzerName="main")["archiveRules"]
    assert [r["ruleName"] for r in rules] == ["partner", "public"]
    analyzer.update_archive_rule(
        analyzerName="main", ruleName="public", filter={"isPublic": {"eq": ["false"]}}
    )
    rule = analyzer.get_archive_rule(analyzerName="main", ruleName="public")["archiveRule"]
    assert rule["filter"] == {"isPublic": {"eq": ["false"]}}
    with pytest.raises(ClientError) as bad_rule:
        analyzer.create_archive_rule(
            analyzerName="main", ruleName="bystatus", filter={"status": {"eq": ["ACTIVE"]}}
        )
    assert _error(bad_rule)[:2] == ("ValidationException", 400)
    analyzer.delete_archive_rule(analyzerName="main", ruleName="public")

    s3.delete_bucket_policy(Bucket=bucket)
    statuses = {f["status"] for f in analyzer.list_findings(analyzerArn=arn)["findings"]}
    assert statuses == {"RESOLVED"}
    analyzer.start_resource_scan(analyzerArn=arn, resourceArn=f"arn:aws:s3:::{bucket}")
    resource = analyzer.get_analyzed_resource(
        analyzerArn=arn, resourceArn=f"arn:aws:s3:::{bucket}"
    )["resource"]
    assert resource["isPublic"] is False and resource["status"] == "RESOLVED"


def test_paging_and_access_denied(clients: Clients, account: NewAccount) -> None:
    iam, analyzer = clients("iam"), clients("accessanalyzer")
    for index in range(3):
        iam.create_role(RoleName=f"R{index}", AssumeRolePolicyDocument=_trust({"AWS": OTHER}))
    arn = analyzer.create_analyzer(analyzerName="main", type="ACCOUNT")["arn"]
    pages = list(
        analyzer.get_paginator("list_findings").paginate(
            analyzerArn=arn, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(page["findings"]) for page in pages] == [2, 1]

    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    stranger = clients("accessanalyzer", key=(key["AccessKeyId"], key["SecretAccessKey"]))
    with pytest.raises(ClientError) as denied:
        stranger.list_findings(analyzerArn=arn)
    code, status, response = _error(denied)
    assert (code, status) == ("AccessDeniedException", 403)
    assert "access-analyzer:ListFindings" in response["Error"]["Message"]
    with pytest.raises(ClientError) as denied_v2:
        stranger.list_findings_v2(analyzerArn=arn)
    assert "access-analyzer:ListFindings" in _error(denied_v2)[2]["Error"]["Message"]


def test_custom_checks(clients: Clients) -> None:
    analyzer = clients("accessanalyzer")
    public = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Everyone",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                }
            ],
        }
    )
    result = analyzer.check_no_public_access(policyDocument=public, resourceType="AWS::S3::Bucket")
    assert result["result"] == "FAIL"
    assert result["reasons"][0]["statementIndex"] == 0
    assert result["reasons"][0]["statementId"] == "Everyone"
    private = public.replace('"*"', json.dumps({"AWS": OTHER}), 1)
    result = analyzer.check_no_public_access(policyDocument=private, resourceType="AWS::S3::Bucket")
    assert result["result"] == "PASS"

    identity = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    wider = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
    }
    new_access = analyzer.check_no_new_access(
        newPolicyDocument=json.dumps(wider),
        existingPolicyDocument=json.dumps(identity),
        policyType="IDENTITY_POLICY",
    )
    assert new_access["result"] == "FAIL"
    assert new_access["message"] == (
        "The modified permissions grant new access compared to your existing policy."
    )
    assert new_access["reasons"] == [
        {"description": "New access in the statement with index: 0.", "statementIndex": 0}
    ]
    same = analyzer.check_no_new_access(
        newPolicyDocument=json.dumps(identity),
        existingPolicyDocument=json.dumps(wider),
        policyType="IDENTITY_POLICY",
    )
    assert same["result"] == "PASS"
    granted = analyzer.check_access_not_granted(
        policyDocument=json.dumps(wider),
        access=[{"actions": ["s3:GetObjectAcl"]}],
        policyType="IDENTITY_POLICY",
    )
    assert granted["result"] == "FAIL"
    not_granted = analyzer.check_access_not_granted(
        policyDocument=json.dumps(wider),
        access=[{"actions": ["s3:PutObject"], "resources": ["arn:aws:s3:::b/*"]}],
        policyType="IDENTITY_POLICY",
    )
    assert not_granted["result"] == "PASS"
    assert not_granted["message"] == (
        "The policy document does not grant access to perform the listed actions."
    )
    with pytest.raises(ClientError) as invalid:
        analyzer.check_no_public_access(policyDocument="{", resourceType="AWS::S3::Bucket")
    assert _error(invalid)[:2] == ("InvalidParameterException", 400)
