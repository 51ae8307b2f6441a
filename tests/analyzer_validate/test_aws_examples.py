"""Real ValidatePolicy outputs published by AWS, reproduced exactly."""

from __future__ import annotations

from .helpers import document, findings, location, only

# aws/aws-cli awscli/examples/accessanalyzer/validate-policy.rst: the policy and AWS's output.
CLI_EXAMPLE_POLICY = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "",
            "Effect": "Allow",
            "Principal": {
                "Federated": "cognito-identity.amazonaws.com"
            },
            "Action": [
                "sts:AssumeRole",
                "sts:TagSession"
            ],
            "Condition": {
                "StringEquals": {
                    "cognito-identity.amazonaws.com:aud": "us-west-2_EXAMPLE"
                }
            }
        }
    ]
}
"""
_LINK = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
    "#access-analyzer-reference-policy-checks-"
)


def _span(start: tuple[int, int, int], end: tuple[int, int, int]) -> dict[str, object]:
    keys = ("line", "column", "offset")
    return {"start": dict(zip(keys, start, strict=True)), "end": dict(zip(keys, end, strict=True))}


def test_cli_example_findings_are_aws_s_own() -> None:
    got = findings(CLI_EXAMPLE_POLICY, "RESOURCE_POLICY")
    statement = [{"value": "Statement"}, {"index": 0}]
    assert got[0] == {
        "findingDetails": "Add a value to the empty string in the Sid element.",
        "findingType": "SUGGESTION",
        "issueCode": "EMPTY_SID_VALUE",
        "learnMoreLink": _LINK + "suggestion-empty-sid-value",
        "locations": [
            {"path": [*statement, {"value": "Sid"}], "span": _span((5, 19, 79), (5, 21, 81))}
        ],
    }
    assert got[1] == {
        "findingDetails": "The sts:AssumeRole action is invalid with the following principal(s): "
        "cognito-identity.amazonaws.com. Use a SAML provider principal with the "
        "sts:AssumeRoleWithSAML action or use an OIDC provider principal with the "
        "sts:AssumeRoleWithWebIdentity action. Ensure the provider is Federated if you use "
        "either of the two options.",
        "findingType": "ERROR",
        "issueCode": "MISMATCHED_ACTION_FOR_PRINCIPAL",
        "learnMoreLink": _LINK + "error-mismatched-action-for-principal",
        "locations": [
            {
                "path": [*statement, {"value": "Action"}, {"index": 0}],
                "span": _span((11, 16, 258), (11, 32, 274)),
            },
            {
                "path": [*statement, {"value": "Principal"}, {"value": "Federated"}],
                "span": _span((8, 29, 170), (8, 61, 202)),
            },
        ],
    }
    third = got[2]
    assert len(got) == 3
    assert third["issueCode"] == "UNSUPPORTED_ACTION_FOR_CONDITION_KEY"
    assert third["findingType"] == "ERROR"
    assert third["findingDetails"] == (
        "The following actions: sts:TagSession are not supported by the condition key "
        "cognito-identity.amazonaws.com:aud. The condition will not be evaluated for these "
        "actions. We recommend that you move these actions to a different statement without "
        "this condition key."
    )
    assert third["learnMoreLink"] == _LINK + "error-unsupported-action-for-condition-key"
    action, key = third["locations"]
    assert action == {
        "path": [*statement, {"value": "Action"}, {"index": 1}],
        "span": _span((12, 16, 292), (12, 32, 308)),
    }
    # AWS's output starts the key's span at (16, 58, 443); the published policy text has a
    # shorter example value than the one AWS validated, so only the start is comparable.
    assert key["path"] == [
        *statement,
        {"value": "Condition"},
        {"value": "StringEquals"},
        {"value": "cognito-identity.amazonaws.com:aud"},
    ]
    assert key["span"]["start"] == {"line": 16, "column": 58, "offset": 443}


def test_bucket_policy_with_an_unknown_action_and_a_star_resource() -> None:
    """The iam-policy-validator report of a Terraform bucket policy (AWS's messages)."""
    text = document(
        {
            "Sid": "ListBucket",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:ListBuckets",
            "Resource": "*",
        }
    )
    invalid = only(text, "INVALID_ACTION", "RESOURCE_POLICY", "AWS::S3::Bucket")
    assert invalid["findingDetails"].startswith("The action s3:ListBuckets does not exist.")
    assert invalid["locations"] == [location(text, '"s3:ListBuckets"', ["Statement", 0, "Action"])]
    arn = only(text, "UNSUPPORTED_RESOURCE_ARN_IN_POLICY", "RESOURCE_POLICY", "AWS::S3::Bucket")
    assert arn["findingDetails"] == (
        "The resource ARN is not supported for the resource-based policy attached to resource "
        "type S3 Bucket."
    )
    assert arn["locations"] == [location(text, '"*"', ["Statement", 0, "Resource"], nth=1)]


def test_single_statement_object_has_no_index_in_paths() -> None:
    text = (
        '{"Version": "2012-10-17", '
        '"Statement": {"Effect": "Allow", "Action": "s3:Nope", "Resource": "*"}}'
    )
    finding = only(text, "INVALID_ACTION")
    assert finding["locations"] == [location(text, '"s3:Nope"', ["Statement", "Action"])]
