"""Grammar checks: elements, types, policy-type rules; exact wording and location."""

from __future__ import annotations

import pytest

from .cases import (
    RCP,
    RES,
    ROOT,
    S0,
    S1,
    SCP,
    STATEMENT,
    TRUST,
    Case,
    allow,
    assert_case,
    case,
    cond,
    stmt,
)
from .helpers import document

CASES = [
    # ---------------------------------------------------------------- grammar
    case(
        "INVALID_POLICY_ELEMENT",
        "ERROR",
        document(stmt(Effects="Allow")),
        ('"Allow"', [*S0, "Effects"], 1),
        details="The policy element Effects is not valid.",
    ),
    case(
        "MISSING_VERSION",
        "WARNING",
        document(stmt(), version=None),
        (ROOT, []),
        details="We recommend that you specify the Version element to help you with debugging "
        "permission issues.",
    ),
    case(
        "INVALID_VERSION",
        "ERROR",
        document(stmt(), version="2020-01-01"),
        ('"2020-01-01"', ["Version"]),
        details="The version 2020-01-01 is not valid. Use one of the following versions: "
        "2012-10-17, 2008-10-17",
    ),
    case(
        "MISSING_STATEMENT",
        "ERROR",
        '{"Version": "2012-10-17"}',
        (ROOT, []),
        details="Add a statement to the policy",
    ),
    case(
        "MISSING_EFFECT",
        "ERROR",
        document({"Action": "s3:GetObject", "Resource": "*"}),
        (STATEMENT, S0),
        details="Add an Effect element to the policy statement with a value of Allow or Deny.",
    ),
    case(
        "INVALID_EFFECT",
        "ERROR",
        document(stmt(Effect="Permit")),
        ('"Permit"', [*S0, "Effect"]),
        details="The effect Permit is not valid. Use Allow or Deny.",
    ),
    case(
        "MISSING_ACTION",
        "ERROR",
        document(allow(Resource="*")),
        (STATEMENT, S0),
        details="Add an Action or NotAction element to the policy statement.",
    ),
    case(
        "MISSING_RESOURCE",
        "ERROR",
        document(allow(Action="s3:GetObject")),
        (STATEMENT, S0),
        details="Add a Resource or NotResource element to the policy statement.",
    ),
    case(
        "MISSING_PRINCIPAL",
        "ERROR",
        document(stmt(Resource="arn:aws:s3:::b/*")),
        (STATEMENT, S0),
        details="Add a Principal element to the policy statement.",
        policy_type=RES,
    ),
    case(
        "UNSUPPORTED_PRINCIPAL",
        "ERROR",
        document(stmt(Principal="*")),
        ('"*"', [*S0, "Principal"], 1),
        details="The policy type IDENTITY_POLICY does not support the Principal element. Remove "
        "the Principal element.",
    ),
    case(
        "UNSUPPORTED_ELEMENT_COMBINATION",
        "ERROR",
        document(stmt(NotAction="s3:PutObject")),
        ('"s3:PutObject"', [*S0, "NotAction"]),
        details="The policy elements Action and NotAction can not be used in the same statement. "
        "Remove one of these elements.",
    ),
    case(
        "DATA_TYPE_MISMATCH",
        "ERROR",
        document(stmt(Effect=12345)),
        ("12345", [*S0, "Effect"]),
        details="The text does not match the expected JSON data type String.",
    ),
    case(
        "EMPTY_SID_VALUE",
        "SUGGESTION",
        document(stmt(Sid="")),
        ('""', [*S0, "Sid"]),
        details="Add a value to the empty string in the Sid element.",
    ),
    case(
        "UNSUPPORTED_SID",
        "ERROR",
        document(stmt(Sid="read-objects")),
        ('"read-objects"', [*S0, "Sid"]),
        details="Update the characters in the Sid element to use one of the following character "
        "types: [a-z, A-Z, 0-9]",
    ),
    case(
        "UNIQUE_SIDS_REQUIRED",
        "ERROR",
        document(stmt(Sid="Read"), stmt(Sid="Read", Action="s3:ListBucket")),
        ('"Read"', [*S1, "Sid"], 1),
        details="Duplicate statement IDs are not supported for this policy type. Update the Sid "
        "value.",
    ),
    case(
        "UNIQUE_SIDS_RECOMMENDED",
        "WARNING",
        document(
            stmt(Sid="Read", Principal="*", Resource="arn:aws:s3:::b/*"),
            stmt(Sid="Read", Principal="*", Resource="arn:aws:s3:::b"),
        ),
        ('"Read"', [*S1, "Sid"], 1),
        details="We recommend that you use statement IDs that are unique to your policy. Update "
        "the Sid value.",
        policy_type=RES,
    ),
    case(
        "EMPTY_ARRAY_ACTION",
        "SUGGESTION",
        document(stmt(Action=[])),
        ("[]", [*S0, "Action"]),
        details="This statement includes no actions and does not affect the policy. Specify "
        "actions.",
    ),
    case(
        "EMPTY_ARRAY_RESOURCE",
        "SUGGESTION",
        document(stmt(Resource=[])),
        ("[]", [*S0, "Resource"]),
        details="This statement includes no resources and does not affect the policy. Specify "
        "resources.",
    ),
    case(
        "EMPTY_ARRAY_PRINCIPAL",
        "SUGGESTION",
        document(stmt(Principal={"AWS": []}, Resource="arn:aws:s3:::b/*")),
        ("[]", [*S0, "Principal", "AWS"]),
        policy_type=RES,
    ),
    case(
        "EMPTY_OBJECT_PRINCIPAL",
        "SUGGESTION",
        document(stmt(Principal={}, Resource="arn:aws:s3:::b/*")),
        ("{}", [*S0, "Principal"]),
        policy_type=RES,
    ),
    case(
        "EMPTY_OBJECT_CONDITION",
        "SUGGESTION",
        document(stmt(Condition={})),
        ("{}", [*S0, "Condition"]),
        details="This condition block is empty and it does not affect the policy. Specify "
        "conditions.",
    ),
    case(
        "EMPTY_ARRAY_CONDITION",
        "SUGGESTION",
        document(cond("StringEquals", "aws:PrincipalTag/team", [])),
        ("[]", [*S0, "Condition", "StringEquals", "aws:PrincipalTag/team"]),
        details="There are no values for the condition key aws:PrincipalTag/team and it does not "
        "affect the policy. Specify conditions.",
    ),
    case(
        "EMPTY_ARRAY_CONDITION_FORALLVALUES",
        "SUGGESTION",
        document(cond("ForAllValues:StringEquals", "aws:TagKeys", [])),
        ("[]", [*S0, "Condition", "ForAllValues:StringEquals", "aws:TagKeys"]),
    ),
    case(
        "EMPTY_ARRAY_CONDITION_FORANYVALUE",
        "SUGGESTION",
        document(cond("ForAnyValue:StringEquals", "aws:TagKeys", [])),
        ("[]", [*S0, "Condition", "ForAnyValue:StringEquals", "aws:TagKeys"]),
    ),
    case(
        "EMPTY_ARRAY_CONDITION_IFEXISTS",
        "SUGGESTION",
        document(cond("StringEqualsIfExists", "aws:PrincipalTag/team", [])),
        ("[]", [*S0, "Condition", "StringEqualsIfExists", "aws:PrincipalTag/team"]),
    ),
    case(
        "INVALID_PRINCIPAL_KEY",
        "ERROR",
        document(stmt(Principal={"User": "bob"}, Resource="arn:aws:s3:::b/*")),
        ('"bob"', [*S0, "Principal", "User"]),
        details="The principal key User is not valid.",
        policy_type=RES,
    ),
    case(
        "INVALID_PRINCIPAL_FORMAT",
        "ERROR",
        document(stmt(Principal="bob", Resource="arn:aws:s3:::b/*")),
        ('"bob"', [*S0, "Principal"]),
        policy_type=RES,
    ),
    case(
        "ALLOW_WITH_NOT_PRINCIPAL",
        "SECURITY_WARNING",
        document(stmt(NotPrincipal={"AWS": "111122223333"}, Resource="arn:aws:s3:::b/*")),
        ('{\n                "AWS": "111122223333"\n            }', [*S0, "NotPrincipal"]),
        details="Using Allow with NotPrincipal can be overly permissive. We recommend that you "
        "use Principal instead.",
        policy_type=RES,
    ),
    case(
        "INVALID_CONDITION_OPERATOR",
        "ERROR",
        document(stmt(Condition={"StringEqualz": {"aws:username": "bob"}})),
        (
            '{\n                    "aws:username": "bob"\n                }',
            [*S0, "Condition", "StringEqualz"],
        ),
        details="The condition operator StringEqualz is not valid. Use a valid condition operator.",
    ),
    case(
        "NULL_WITH_IF_EXISTS",
        "ERROR",
        document(stmt(Condition={"NullIfExists": {"aws:TokenIssueTime": "true"}})),
        (
            '{\n                    "aws:TokenIssueTime": "true"\n                }',
            [*S0, "Condition", "NullIfExists"],
        ),
    ),
    case(
        "NULL_WITH_QUALIFIER",
        "SUGGESTION",
        document(stmt(Condition={"ForAnyValue:Null": {"aws:TokenIssueTime": "true"}})),
        (
            '{\n                    "aws:TokenIssueTime": "true"\n                }',
            [*S0, "Condition", "ForAnyValue:Null"],
        ),
    ),
    case(
        "DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
        "ERROR",
        document(stmt(Condition={"StringEquals": {"aws:username": "a", "AWS:UserName": "b"}})),
        ('"b"', [*S0, "Condition", "StringEquals", "AWS:UserName"]),
    ),
    case(
        "INVALID_CONDITION_DATA_TYPE",
        "ERROR",
        document(cond("NumericLessThan", "aws:MultiFactorAuthAge", ["3600", 7200])),
        (
            '[\n                        "3600",\n                        7200\n'
            "                    ]",
            [*S0, "Condition", "NumericLessThan", "aws:MultiFactorAuthAge"],
        ),
    ),
    case(
        "SCP_SYNTAX_ERROR_PRINCIPAL",
        "ERROR",
        document(stmt(Principal="*")),
        ('"*"', [*S0, "Principal"], 1),
        policy_type=SCP,
    ),
    case(
        "RCP_SYNTAX_ERROR_PRINCIPAL",
        "ERROR",
        document(stmt(Principal={"AWS": "111122223333"}, Effect="Deny")),
        ('{\n                "AWS": "111122223333"\n            }', [*S0, "Principal"]),
        policy_type=RCP,
    ),
    case(
        "RCP_SYNTAX_ERROR_NOTACTION",
        "ERROR",
        document(allow(Principal="*", NotAction="s3:GetObject", Resource="*")),
        ('"s3:GetObject"', [*S0, "NotAction"]),
        policy_type=RCP,
    ),
    case(
        "RCP_SYNTAX_ERROR_ALLOW",
        "ERROR",
        document(stmt(Principal="*", Resource="arn:aws:s3:::b/*")),
        (STATEMENT, S0),
        policy_type=RCP,
    ),
    case(
        "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE",
        "ERROR",
        document(
            allow(Principal={"Service": "ec2.amazonaws.com"}, Action="sts:AssumeRole", Resource="*")
        ),
        ('"*"', [*S0, "Resource"]),
        policy_type=RES,
        resource=TRUST,
    ),
    case(
        "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL",
        "ERROR",
        document(
            {"Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}
        ),
        ('{\n                "AWS": "111122223333"\n            }', [*S0, "NotPrincipal"]),
        policy_type=RES,
        resource=TRUST,
    ),
    case(
        "ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
        "ERROR",
        document(allow(Principal={"AWS": "*"}, Action="sts:AssumeRole")),
        ('"*"', [*S0, "Principal", "AWS"]),
        policy_type=RES,
        resource=TRUST,
    ),
]


@pytest.mark.parametrize("check", CASES)
def test_issue_code_type_wording_and_location(check: Case) -> None:
    assert_case(check)
