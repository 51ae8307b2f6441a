"""Security warnings, resource types, redundancy, document-level checks."""

from __future__ import annotations

import pytest

from .cases import (
    ID,
    RCP,
    RES,
    ROOT,
    S0,
    S1,
    SCP,
    TRUST,
    Case,
    allow,
    assert_case,
    case,
    cond,
    stmt,
)
from .helpers import document, findings

CASES = [
    # ------------------------------------------------- security warnings
    case(
        "PASS_ROLE_WITH_STAR_IN_RESOURCE",
        "SECURITY_WARNING",
        document(stmt(Action="iam:PassRole")),
        ('"*"', [*S0, "Resource"]),
        details="Using the iam:PassRole action with wildcards (*) in the resource can be overly "
        "permissive because it allows iam:PassRole permissions on multiple resources. We "
        "recommend that you specify resource ARNs or add the iam:PassedToService condition key to "
        "your statement.",
    ),
    case(
        "PASS_ROLE_WITH_STAR_IN_RESOURCE",
        "SECURITY_WARNING",
        document(
            stmt(
                Action="iam:PassRole",
                Resource=["arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:role/*"],
            )
        ),
        ('"arn:aws:iam::111122223333:role/*"', [*S0, "Resource", 1]),
    ),
    case(
        "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
        "SECURITY_WARNING",
        document(stmt(Action="iam:Pass*")),
        ('"*"', [*S0, "Resource"]),
        details="Using wildcards (*) in the action and the resource can be overly permissive "
        "because it allows iam:PassRole permissions on all resources. We recommend that you "
        "specify resource ARNs or add the iam:PassedToService condition key to your statement.",
    ),
    case(
        "PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION",
        "SECURITY_WARNING",
        document(allow(NotAction="s3:*", Resource="*")),
        ('"*"', [*S0, "Resource"]),
    ),
    case(
        "PASS_ROLE_WITH_NOT_RESOURCE",
        "SECURITY_WARNING",
        document(allow(Action="iam:PassRole", NotResource="arn:aws:iam::111122223333:role/admin")),
        ('"arn:aws:iam::111122223333:role/admin"', [*S0, "NotResource"]),
        details="Using the iam:PassRole action with NotResource can be overly permissive because "
        "it can allow iam:PassRole permissions on multiple resources. We recommend that you "
        "specify resource ARNs instead.",
    ),
    case(
        "PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE",
        "SECURITY_WARNING",
        document(allow(Action="iam:*", NotResource="arn:aws:iam::111122223333:role/admin")),
        ('"arn:aws:iam::111122223333:role/admin"', [*S0, "NotResource"]),
    ),
    case(
        "PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE",
        "SECURITY_WARNING",
        document(allow(NotAction="s3:*", NotResource="arn:aws:iam::111122223333:role/admin")),
        ('"arn:aws:iam::111122223333:role/admin"', [*S0, "NotResource"]),
    ),
    case(
        "CREATE_SLR_WITH_STAR_IN_RESOURCE",
        "WARNING",
        document(stmt(Action="iam:CreateServiceLinkedRole")),
        ('"*"', [*S0, "Resource"]),
        details="Using the iam:CreateServiceLinkedRole action with wildcards (*) in the resource "
        "can allow creation of unintended service-linked roles. We recommend that you specify "
        "resource ARNs instead.",
    ),
    case(
        "CREATE_SLR_WITH_NOT_RESOURCE",
        "WARNING",
        document(
            allow(
                Action="iam:CreateServiceLinkedRole",
                NotResource="arn:aws:iam::111122223333:role/aws-service-role/x",
            )
        ),
        ('"arn:aws:iam::111122223333:role/aws-service-role/x"', [*S0, "NotResource"]),
    ),
    case(
        "CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE",
        "WARNING",
        document(stmt(Action="iam:Create*")),
        ('"*"', [*S0, "Resource"]),
        details="Using wildcards (*) in the action and the resource can allow creation of "
        "unintended service-linked roles because it allows iam:CreateServiceLinkedRole "
        "permissions on all resources. We recommend that you specify resource ARNs instead.",
    ),
    case(
        "CREATE_SLR_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION",
        "WARNING",
        document(allow(NotAction="s3:*", Resource="*")),
        ('"*"', [*S0, "Resource"]),
        details="Using a resource with wildcards (*) and NotAction can allow creation of "
        "unintended service-linked roles because it allows iam:CreateServiceLinkedRole "
        "permissions on all resources. We recommend that you specify resource ARNs instead.",
    ),
    case(
        "CREATE_SLR_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE",
        "WARNING",
        document(allow(Action="iam:*", NotResource="arn:aws:iam::111122223333:role/admin")),
        ('"arn:aws:iam::111122223333:role/admin"', [*S0, "NotResource"]),
        details="Using an action with a wildcard(*) and NotResource can allow creation of "
        "unintended service-linked roles because it can allow iam:CreateServiceLinkedRole "
        "permissions on multiple resources. We recommend that you specify resource ARNs instead.",
    ),
    case(
        "CREATE_SLR_WITH_NOT_ACTION_AND_NOT_RESOURCE",
        "WARNING",
        document(allow(NotAction="s3:*", NotResource="arn:aws:iam::111122223333:role/admin")),
        ('"arn:aws:iam::111122223333:role/admin"', [*S0, "NotResource"]),
        details="Using NotAction with NotResource can allow creation of unintended "
        "service-linked roles because it allows iam:CreateServiceLinkedRole permissions on "
        "multiple resources. We recommend that you specify resource ARNs instead.",
    ),
    case(
        "MISMATCHED_ACTION_FOR_PRINCIPAL",
        "ERROR",
        document(
            allow(
                Principal={"Federated": "arn:aws:iam::111122223333:saml-provider/corp"},
                Action="sts:AssumeRoleWithWebIdentity",
            )
        ),
        ('"sts:AssumeRoleWithWebIdentity"', [*S0, "Action"]),
        ('"arn:aws:iam::111122223333:saml-provider/corp"', [*S0, "Principal", "Federated"]),
        policy_type=RES,
    ),
    case(
        "MISSING_GITHUB_REPO_CONDITION_KEY",
        "SECURITY_WARNING",
        document(
            allow(
                Principal={
                    "Federated": "arn:aws:iam::111122223333:oidc-provider/"
                    "token.actions.githubusercontent.com"
                },
                Action="sts:AssumeRoleWithWebIdentity",
                Condition={
                    "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
                },
            )
        ),
        (
            '"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"',
            [*S0, "Principal", "Federated"],
        ),
        details="Granting a federated GitHub principal permissions without a condition key can "
        "allow more sources to assume the role than you intended. Add the "
        "token.actions.githubusercontent.com:sub condition key and specify the branch and "
        "repository name in the value.",
        policy_type=RES,
        resource=TRUST,
    ),
    case(
        "MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL",
        "SECURITY_WARNING",
        document(
            allow(
                Principal={"Federated": "accounts.google.com"},
                Action="sts:AssumeRoleWithWebIdentity",
            )
        ),
        ('"accounts.google.com"', [*S0, "Principal", "Federated"]),
        policy_type=RES,
    ),
    case(
        "RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL",
        "SECURITY_WARNING",
        document(
            stmt(
                Principal={"Service": "cloudtrail.amazonaws.com"},
                Action="s3:PutObject",
                Resource="arn:aws:s3:::trail/AWSLogs/*",
            )
        ),
        ('"cloudtrail.amazonaws.com"', [*S0, "Principal", "Service"]),
        details="Granting access to a service principal without specifying a source is overly "
        "permissive. Use aws:SourceArn, aws:SourceAccount, aws:SourceOrgID, or aws:SourceOrgPaths "
        "condition key to grant fine-grained access.",
        policy_type=RES,
        resource="AWS::S3::Bucket",
    ),
    # ------------------------------------------------------ resource types
    case(
        "UNSUPPORTED_ACTION_IN_POLICY",
        "ERROR",
        document(stmt(Principal="*", Action="kms:Decrypt", Resource="arn:aws:s3:::b/*")),
        ('"kms:Decrypt"', [*S0, "Action"]),
        details="The action kms:Decrypt is not supported for the resource-based policy attached "
        "to the resource type S3 Bucket.",
        policy_type=RES,
        resource="AWS::S3::Bucket",
    ),
    case(
        "UNSUPPORTED_RESOURCE_ARN_IN_POLICY",
        "ERROR",
        document(stmt(Principal="*", Resource="arn:aws:kms:us-east-1:111122223333:key/k")),
        ('"arn:aws:kms:us-east-1:111122223333:key/k"', [*S0, "Resource"]),
        policy_type=RES,
        resource="AWS::S3::Bucket",
    ),
    case(
        "FEDERATED_PRINCIPAL_NOT_SUPPORTED",
        "ERROR",
        document(
            stmt(
                Principal={"Federated": "cognito-identity.amazonaws.com"},
                Resource="arn:aws:s3:::b/*",
            )
        ),
        ('"cognito-identity.amazonaws.com"', [*S0, "Principal", "Federated"]),
        policy_type=RES,
        resource="AWS::S3::Bucket",
    ),
    # ----------------------------------------------------------- redundancy
    case(
        "REDUNDANT_ACTION",
        "SUGGESTION",
        document(stmt(Action=["iam:Get*", "iam:List*", "iam:GetCredentialReport"])),
        ('"iam:GetCredentialReport"', [*S0, "Action", 2]),
        details="The 1 action(s) are redundant because they provide similar permissions. Update "
        "the policy to remove the redundant action such as: iam:GetCredentialReport.",
    ),
    case(
        "REDUNDANT_RESOURCE",
        "SUGGESTION",
        document(
            stmt(
                Action="iam:GetRole",
                Resource=[
                    "arn:aws:iam::111122223333:role/jane-admin",
                    "arn:aws:iam::111122223333:role/jane-s3only",
                    "arn:aws:iam::111122223333:role/jane*",
                ],
            )
        ),
        ('"arn:aws:iam::111122223333:role/jane-admin"', [*S0, "Resource", 0]),
        ('"arn:aws:iam::111122223333:role/jane-s3only"', [*S0, "Resource", 1]),
        details="The 2 resource ARN(s) are redundant because they reference the same resource. "
        "Review the use of wildcards (*)",
    ),
    case(
        "REDUNDANT_STATEMENT",
        "SUGGESTION",
        document(stmt(Sid="A"), stmt(Sid="B")),
        ("<statement 1>", S1),
        details="The statements are redundant because they provide identical permissions. Update "
        "the policy to remove the redundant statement.",
    ),
    # ------------------------------------------------------ document level
    case(
        "VARIABLE_UNSUPPORTED_IN_ELEMENT",
        "ERROR",
        document(stmt(Action="s3:${aws:username}")),
        ('"s3:${aws:username}"', [*S0, "Action"]),
        details="Policy variables are supported in the Resource and Condition elements. Remove "
        "the policy variable ${aws:username} from this element.",
    ),
    case(
        "VARIABLE_UNSUPPORTED_IN_VERSION",
        "ERROR",
        document(stmt(Resource="arn:aws:s3:::b/${aws:username}/*"), version="2008-10-17"),
        ('"arn:aws:s3:::b/${aws:username}/*"', [*S0, "Resource"]),
        details="To include variables in your policy, use the policy version 2012-10-17 or later.",
    ),
    case(
        "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
        "WARNING",
        document(stmt(Action=[f"s3:GetObject{'Acl' if i % 2 else ''}" for i in range(400)])),
        (ROOT, []),
    ),
    case(
        "POLICY_SIZE_EXCEEDS_RCP_QUOTA",
        "ERROR",
        document(
            {"Effect": "Deny", "Principal": "*", "Action": ["s3:GetObject"] * 400, "Resource": "*"}
        ),
        (ROOT, []),
        policy_type=RCP,
    ),
    case(
        "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA",
        "WARNING",
        document(
            stmt(Principal="*", Resource=[f"arn:aws:s3:::bucket/{i:05}/*" for i in range(800)])
        ),
        (ROOT, []),
        policy_type=RES,
        resource="AWS::S3::Bucket",
    ),
    case(
        "POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA",
        "WARNING",
        document(
            allow(
                Principal={"AWS": [f"arn:aws:iam::111122223333:role/r{i:03}" for i in range(60)]},
                Action="sts:AssumeRole",
            )
        ),
        (ROOT, []),
        policy_type=RES,
        resource=TRUST,
    ),
    case(
        "POLICY_SIZE_EXCEEDS_SCP_QUOTA",
        "ERROR",
        document(stmt(Action=["s3:GetObject"] * 400)),
        (ROOT, []),
        policy_type=SCP,
    ),
]


@pytest.mark.parametrize("check", CASES)
def test_issue_code_type_wording_and_location(check: Case) -> None:
    assert_case(check)


def test_json_syntax_error_points_at_the_failure() -> None:
    text = '{\n    "Version": "2012-10-17",\n    "Statement": [\n        {"Effect": "Allow",}\n'
    got = findings(text)
    offset = text.index("}")
    assert got == [
        {
            "findingDetails": f"Fix the JSON syntax error at index {offset} line 4 column 27.",
            "findingType": "ERROR",
            "issueCode": "JSON_SYNTAX_ERROR",
            "learnMoreLink": "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
            "access-analyzer-reference-policy-checks.html"
            "#access-analyzer-reference-policy-checks-error-json-syntax-error",
            "locations": [
                {
                    "path": [],
                    "span": {
                        "start": {"line": 4, "column": 27, "offset": offset},
                        "end": {"line": 4, "column": 27, "offset": offset},
                    },
                }
            ],
        }
    ]
    assert text.splitlines()[3][27] == "}"


def test_findings_come_in_document_order() -> None:
    text = document(stmt(Action="s3:Nope", Sid=""), stmt(Action="iam:PassRole"))
    offsets = [item["locations"][0]["span"]["start"]["offset"] for item in findings(text)]
    assert offsets == sorted(offsets)


def test_service_principal_with_a_source_condition_or_in_a_trust_policy_is_fine() -> None:
    scoped = stmt(
        Principal={"Service": "cloudtrail.amazonaws.com"},
        Action="s3:PutObject",
        Resource="arn:aws:s3:::trail/AWSLogs/*",
        Condition={"StringEquals": {"aws:SourceAccount": "111122223333"}},
    )
    trust = allow(Principal={"Service": "ec2.amazonaws.com"}, Action="sts:AssumeRole")
    assert findings(document(scoped), RES, "AWS::S3::Bucket") == []
    assert findings(document(trust), RES) == []
    assert findings(document(trust), RES, TRUST) == []


def test_pass_role_scoped_by_service_or_name_is_no_warning() -> None:
    scoped = [
        cond("StringEquals", "iam:PassedToService", "ec2.amazonaws.com", Action="iam:PassRole"),
        stmt(Action="iam:PassRole", Resource="arn:aws:iam::111122223333:role/ec2-*"),
        {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"},
    ]
    for statement in scoped:
        codes = {item["issueCode"] for item in findings(document(statement))}
        assert not any(code.startswith("PASS_ROLE") for code in codes), (statement, codes)


def test_a_trust_policy_of_unknown_type_needs_no_resource() -> None:
    text = document(allow(Principal={"Service": "ec2.amazonaws.com"}, Action="sts:AssumeRole"))
    assert findings(text, RES) == []


def test_resource_type_is_ignored_for_identity_policies() -> None:
    text = document(stmt(Action="kms:Decrypt"))
    assert findings(text, ID, "AWS::S3::Bucket") == findings(text, ID)
