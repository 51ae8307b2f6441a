"""Element values against the Service Authorization Reference: actions, ARNs, keys."""

from __future__ import annotations

import pytest

from .cases import RES, S0, SCP, Case, allow, assert_case, case, cond, stmt
from .helpers import document

CASES = [
    # --------------------------------------------------------------- actions
    case(
        "INVALID_ACTION",
        "ERROR",
        document(stmt(Action=["s3:GetObject", "s3:GetObjekt"])),
        ('"s3:GetObjekt"', [*S0, "Action", 1]),
        details="The action s3:GetObjekt does not exist. Did you mean s3:GetObject?",
    ),
    case(
        "INVALID_SERVICE_IN_ACTION",
        "ERROR",
        document(stmt(Action="s4:GetObject")),
        ('"s4:GetObject"', [*S0, "Action"]),
        details="The service s4 specified in the action does not exist.",
    ),
    case(
        "WILDCARD_IN_SERVICE_NAME",
        "SUGGESTION",
        document(stmt(Resource="arn:aws:*code*::111122223333:*")),
        ('"arn:aws:*code*::111122223333:*"', [*S0, "Resource"]),
    ),
    case(
        "SCP_SYNTAX_ERROR_ACTION_WILDCARD",
        "ERROR",
        document({"Effect": "Deny", "Action": "iam:*Role", "Resource": "*"}),
        ('"iam:*Role"', [*S0, "Action"]),
        details="SCP actions can include wildcards (*) only at the end of a string. Update "
        "iam:*Role.",
        policy_type=SCP,
    ),
    # ------------------------------------------------------------- resources
    case(
        "INVALID_ARN_PREFIX",
        "ERROR",
        document(stmt(Resource="s3:::bucket/*")),
        ('"s3:::bucket/*"', [*S0, "Resource"]),
        details="Add the required prefix (arn) to the resource ARN.",
    ),
    case(
        "MISSING_ARN_FIELD",
        "ERROR",
        document(stmt(Resource="arn:aws:s3:bucket")),
        ('"arn:aws:s3:bucket"', [*S0, "Resource"]),
    ),
    case(
        "INVALID_ARN_SERVICE_CASE",
        "ERROR",
        document(stmt(Resource="arn:aws:S3:::bucket/*")),
        ('"arn:aws:S3:::bucket/*"', [*S0, "Resource"]),
        details="Update the service name S3 in the resource ARN to use all lowercase letters.",
    ),
    case(
        "INVALID_ARN_ACCOUNT",
        "ERROR",
        document(stmt(Action="iam:GetRole", Resource="arn:aws:iam::1234:role/app")),
        ('"arn:aws:iam::1234:role/app"', [*S0, "Resource"]),
        details="The resource ARN account ID 1234 is not valid. Provide a 12-digit account ID.",
    ),
    case(
        "INVALID_ARN_RESOURCE",
        "ERROR",
        document(stmt(Action="iam:GetRole", Resource="arn:aws:iam::111122223333:rolle/app")),
        ('"arn:aws:iam::111122223333:rolle/app"', [*S0, "Resource"]),
    ),
    case(
        "ARN_ACCOUNT_NOT_ALLOWED",
        "ERROR",
        document(stmt(Resource="arn:aws:s3::111122223333:bucket/key")),
        ('"arn:aws:s3::111122223333:bucket/key"', [*S0, "Resource"]),
        details="The service s3 does not support specifying an account ID in the resource ARN.",
    ),
    case(
        "ARN_REGION_NOT_ALLOWED",
        "ERROR",
        document(stmt(Action="iam:GetRole", Resource="arn:aws:iam:us-east-1:111122223333:role/a")),
        ('"arn:aws:iam:us-east-1:111122223333:role/a"', [*S0, "Resource"]),
    ),
    # ------------------------------------------------------------ principals
    case(
        "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
        "ERROR",
        document(
            stmt(Principal={"AWS": "arn:aws:iam::111122223333:user/*"}, Resource="arn:aws:s3:::b/*")
        ),
        ('"arn:aws:iam::111122223333:user/*"', [*S0, "Principal", "AWS"]),
        details="Wildcards (*, ?) are not supported with the principal key AWS. Replace the "
        "wildcard with a valid principal value.",
        policy_type=RES,
    ),
    case(
        "INVALID_USER_REFERENCE",
        "WARNING",
        document(stmt(Principal={"AWS": ["AIDAJQABLZS4A3QDU576Q"]}, Resource="arn:aws:s3:::b/*")),
        ('"AIDAJQABLZS4A3QDU576Q"', [*S0, "Principal", "AWS", 0]),
        details="The Principal element includes the IAM user ID AIDAJQABLZS4A3QDU576Q. We "
        "recommend that you use a user ARN instead.",
        policy_type=RES,
    ),
    case(
        "INVALID_ROLE_REFERENCE",
        "WARNING",
        document(stmt(Principal={"AWS": "AROAJQABLZS4A3QDU576Q"}, Resource="arn:aws:s3:::b/*")),
        ('"AROAJQABLZS4A3QDU576Q"', [*S0, "Principal", "AWS"]),
        policy_type=RES,
    ),
    # ------------------------------------------------------------ conditions
    case(
        "INVALID_CONDITION_KEY_FORMAT",
        "ERROR",
        document(cond("StringEquals", "username", "bob")),
        ('"bob"', [*S0, "Condition", "StringEquals", "username"]),
        details="The condition key format is not valid. Use the format service:keyname.",
    ),
    case(
        "MISSING_TAG_KEY_IN_CONDITION",
        "ERROR",
        document(cond("StringEquals", "aws:ResourceTag", "x")),
        ('"x"', [*S0, "Condition", "StringEquals", "aws:ResourceTag"]),
        details="The condition key aws:ResourceTag/ must include a tag key to control access "
        "based on tags. Use the format aws:ResourceTag/tag-key and specify a key name for "
        "tag-key.",
    ),
    case(
        "UNSUPPORTED_GLOBAL_CONDITION_KEY",
        "ERROR",
        document(cond("ArnEquals", "aws:ARN", "arn:aws:iam::111122223333:user/a")),
        ('"arn:aws:iam::111122223333:user/a"', [*S0, "Condition", "ArnEquals", "aws:ARN"]),
    ),
    case(
        "INVALID_GLOBAL_CONDITION_KEY",
        "ERROR",
        document(cond("StringEquals", "aws:SourceVpcId", "vpc-11223344")),
        ('"vpc-11223344"', [*S0, "Condition", "StringEquals", "aws:SourceVpcId"]),
        details="The condition key aws:SourceVpcId does not exist. Use a valid condition key.",
    ),
    case(
        "INVALID_SERVICE_CONDITION_KEY",
        "ERROR",
        document(cond("StringEquals", "s3:prefixes", "home/")),
        ('"home/"', [*S0, "Condition", "StringEquals", "s3:prefixes"]),
        details="The condition key s3:prefixes does not exist in the service s3. Use a valid "
        "condition key.",
    ),
    case(
        "INVALID_SERVICE",
        "ERROR",
        document(cond("StringEquals", "example:key", "v")),
        ('"v"', [*S0, "Condition", "StringEquals", "example:key"]),
        details="The service example does not exist. Use a valid service name.",
    ),
    case(
        "TYPE_MISMATCH",
        "WARNING",
        document(cond("StringEquals", "aws:CurrentTime", "2026-01-01")),
        ('"2026-01-01"', [*S0, "Condition", "StringEquals", "aws:CurrentTime"]),
        details="Use the operator type Date instead of operator StringEquals for the condition "
        "key aws:CurrentTime.",
    ),
    case(
        "TYPE_MISMATCH",
        "WARNING",
        document(cond("IpAddress", "aws:username", "203.0.113.0/24")),
        ('"203.0.113.0/24"', [*S0, "Condition", "IpAddress", "aws:username"]),
        details="Use the operator type String instead of operator IpAddress for the condition "
        "key aws:username.",
    ),
    case(
        "TYPE_MISMATCH",
        "WARNING",
        document(cond("StringEquals", "aws:SourceIp", "203.0.113.7")),
        ('"203.0.113.7"', [*S0, "Condition", "StringEquals", "aws:SourceIp"]),
        details="Use the operator type IpAddress instead of operator StringEquals for the "
        "condition key aws:SourceIp.",
    ),
    case(
        "TYPE_MISMATCH",
        "WARNING",
        document(cond("StringLike", "s3:max-keys", "10", Action="s3:ListBucket")),
        ('"10"', [*S0, "Condition", "StringLike", "s3:max-keys"]),
        details="Use the operator type Numeric instead of operator StringLike for the condition "
        "key s3:max-keys.",
    ),
    case(
        "STRING_LIKE_OPERATOR_WITH_ARN_CONDITION_KEYS",
        "SECURITY_WARNING",
        document(cond("StringLike", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/a*")),
        (
            '"arn:aws:iam::111122223333:role/a*"',
            [*S0, "Condition", "StringLike", "aws:PrincipalArn"],
        ),
        details="Use the operator type Arn instead of operator StringLike for the condition key "
        "aws:PrincipalArn.",
    ),
    case(
        "MISSING_QUALIFIER",
        "ERROR",
        document(cond("StringEquals", "aws:TagKeys", "team")),
        ('"team"', [*S0, "Condition", "StringEquals", "aws:TagKeys"]),
        details="The request context key aws:TagKeys has multiple values. Use the ForAllValues or "
        "ForAnyValue condition key qualifiers in your policy.",
    ),
    case(
        "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
        "SECURITY_WARNING",
        document(cond("ForAllValues:StringEquals", "aws:PrincipalTag/team", "a")),
        ('"a"', [*S0, "Condition", "ForAllValues:StringEquals", "aws:PrincipalTag/team"]),
    ),
    case(
        "INVALID_VARIABLE_FOR_OPERATOR",
        "ERROR",
        document(cond("NumericEquals", "aws:MultiFactorAuthAge", "${aws:username}")),
        ('"${aws:username}"', [*S0, "Condition", "NumericEquals", "aws:MultiFactorAuthAge"]),
    ),
    case(
        "WILDCARD_WITHOUT_LIKE_OPERATOR",
        "WARNING",
        document(cond("StringEquals", "aws:PrincipalTag/job", "admin-*")),
        ('"admin-*"', [*S0, "Condition", "StringEquals", "aws:PrincipalTag/job"]),
    ),
    case(
        "TYPE_MISMATCH_DATE",
        "WARNING",
        document(cond("DateGreaterThan", "aws:CurrentTime", "yesterday")),
        ('"yesterday"', [*S0, "Condition", "DateGreaterThan", "aws:CurrentTime"]),
    ),
    case(
        "INVALID_DATE_VALUE",
        "WARNING",
        document(cond("DateLessThan", "aws:CurrentTime", "1767225600")),
        ('"1767225600"', [*S0, "Condition", "DateLessThan", "aws:CurrentTime"]),
        details="The date 1767225600 might not resolve as expected. We recommend that you use the "
        "YYYY-MM-DD format.",
    ),
    case(
        "REDUNDANT_CONDITION_VALUE_NUM",
        "SUGGESTION",
        document(cond("NumericLessThan", "aws:MultiFactorAuthAge", ["2700", "3600"])),
        (
            '[\n                        "2700",\n                        "3600"\n'
            "                    ]",
            [*S0, "Condition", "NumericLessThan", "aws:MultiFactorAuthAge"],
        ),
        details="Multiple values in NumericLessThan are redundant. Replace with the greatest "
        "single value for aws:MultiFactorAuthAge.",
    ),
    case(
        "INVALID_VPC_FORMAT",
        "ERROR",
        document(cond("StringEquals", "aws:SourceVpc", "vpc-123")),
        ('"vpc-123"', [*S0, "Condition", "StringEquals", "aws:SourceVpc"]),
        details="The VPC identifier in the condition key value is not valid. Use the prefix "
        "'vpc-' followed by 8 or 17 alphanumeric characters.",
    ),
    case(
        "INVALID_VPCE_FORMAT",
        "ERROR",
        document(cond("StringEquals", "aws:SourceVpce", "vpc-1a2b3c4d")),
        ('"vpc-1a2b3c4d"', [*S0, "Condition", "StringEquals", "aws:SourceVpce"]),
        details="The VPCE identifier in the condition key value is not valid.  Use the prefix "
        "'vpce-' followed by 8 or 17 alphanumeric characters.",
    ),
    case(
        "MISSING_PAIRED_CONDITION_KEYS",
        "SECURITY_WARNING",
        document(cond("IpAddress", "aws:VpcSourceIp", "10.0.0.0/16")),
        ('"10.0.0.0/16"', [*S0, "Condition", "IpAddress", "aws:VpcSourceIp"]),
        details="Using the condition key aws:VpcSourceIp can be overly permissive without also "
        "using the following condition keys: aws:SourceVpc. Condition keys like this one are more "
        "secure when paired with a related key. We recommend that you add the related condition "
        "keys to the same condition block.",
    ),
    case(
        "TYPE_MISMATCH_NUMBER",
        "WARNING",
        document(cond("NumericLessThan", "aws:MultiFactorAuthAge", "one hour")),
        ('"one hour"', [*S0, "Condition", "NumericLessThan", "aws:MultiFactorAuthAge"]),
        details="Add a valid numeric value for the condition operator NumericLessThan.",
    ),
    case(
        "TYPE_MISMATCH_BOOLEAN",
        "WARNING",
        document(cond("Bool", "aws:SecureTransport", "yes")),
        ('"yes"', [*S0, "Condition", "Bool", "aws:SecureTransport"]),
    ),
    case(
        "TYPE_MISMATCH_IP_RANGE",
        "ERROR",
        document(cond("IpAddress", "aws:SourceIp", "203.0.113.0/33")),
        ('"203.0.113.0/33"', [*S0, "Condition", "IpAddress", "aws:SourceIp"]),
        details="The condition operator IpAddress is used with an invalid IP range value. Specify "
        "the IP range in standard CIDR format.",
    ),
    case(
        "IMPROVE_IP_RANGE",
        "SUGGESTION",
        document(cond("IpAddress", "aws:SourceIp", "203.0.113.7/24")),
        ('"203.0.113.7/24"', [*S0, "Condition", "IpAddress", "aws:SourceIp"]),
        details="The non-zero bits in the IP address after the masked bits are ignored. Replace "
        "address with 203.0.113.0/24.",
    ),
    case(
        "PRIVATE_IP_ADDRESS",
        "ERROR",
        document(cond("IpAddress", "aws:SourceIp", "10.0.0.0/8")),
        ('"10.0.0.0/8"', [*S0, "Condition", "IpAddress", "aws:SourceIp"]),
    ),
    case(
        "PRIVATE_NOT_IP_ADDRESS",
        "ERROR",
        document(cond("NotIpAddress", "aws:SourceIp", ["192.168.0.0/16"])),
        (
            '[\n                        "192.168.0.0/16"\n                    ]',
            [*S0, "Condition", "NotIpAddress", "aws:SourceIp"],
        ),
    ),
    case(
        "PRIVATE_IP_ADDRESS_SUBSET",
        "SUGGESTION",
        document(cond("IpAddress", "aws:SourceIp", ["10.0.0.0/8", "203.0.113.0/24"])),
        (
            '[\n                        "10.0.0.0/8",\n                        "203.0.113.0/24"\n'
            "                    ]",
            [*S0, "Condition", "IpAddress", "aws:SourceIp"],
        ),
    ),
    case(
        "PRIVATE_NOT_IP_ADDRESS_SUBSET",
        "SUGGESTION",
        document(cond("NotIpAddress", "aws:SourceIp", ["172.16.0.0/12", "198.51.100.0/24"])),
        (
            '[\n                        "172.16.0.0/12",\n                        '
            '"198.51.100.0/24"\n                    ]',
            [*S0, "Condition", "NotIpAddress", "aws:SourceIp"],
        ),
    ),
    case(
        "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
        "ERROR",
        document(
            cond("StringLike", "s3:prefix", "home/*", Action=["s3:ListBucket", "s3:GetObject"])
        ),
        ('"s3:GetObject"', [*S0, "Action", 1]),
        ('"home/*"', [*S0, "Condition", "StringLike", "s3:prefix"]),
        details="The following actions: s3:GetObject are not supported by the condition key "
        "s3:prefix. The condition will not be evaluated for these actions. We recommend that you "
        "move these actions to a different statement without this condition key.",
    ),
    case(
        "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
        "ERROR",
        document(
            cond(
                "StringEquals",
                "aws:RequestTag/op",
                "plan",
                Action=["sts:AssumeRole", "sts:SetSourceIdentity"],
            )
        ),
        ('"sts:SetSourceIdentity"', [*S0, "Action", 1]),
        ('"plan"', [*S0, "Condition", "StringEquals", "aws:RequestTag/op"]),
        details="The following actions: sts:SetSourceIdentity are not supported by the condition "
        "key aws:RequestTag/op. The condition will not be evaluated for these actions. We "
        "recommend that you move these actions to a different statement without this condition "
        "key.",
    ),
    case(
        "ALLOW_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
        "SUGGESTION",
        document(
            cond(
                "StringEquals", "aws:ResourceTag/team", "a", Action=["iam:GetUser", "iam:ListUsers"]
            )
        ),
        ('"iam:ListUsers"', [*S0, "Action", 1]),
        ('"a"', [*S0, "Condition", "StringEquals", "aws:ResourceTag/team"]),
        details="Using the effect Allow with the tag condition key aws:ResourceTag/team and "
        "actions for services with the following prefixes does not affect the policy: iam. "
        "Actions for the listed service are not allowed by this statement. We recommend that you "
        "move these actions to a different statement without this condition key.",
    ),
    case(
        "DENY_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
        "SECURITY_WARNING",
        document(
            cond("StringEquals", "aws:ResourceTag/team", "a", Effect="Deny", Action="iam:ListRoles")
        ),
        ('"iam:ListRoles"', [*S0, "Action"]),
        ('"a"', [*S0, "Condition", "StringEquals", "aws:ResourceTag/team"]),
        details="Using the effect Deny with the tag condition key aws:ResourceTag/team and "
        "actions for services with the following prefixes can be overly permissive: iam. Actions "
        "for the listed services are not denied by this statement. We recommend that you move "
        "these actions to a different statement without this condition key.",
    ),
    case(
        "DENY_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
        "SECURITY_WARNING",
        document(
            {
                "Effect": "Deny",
                "NotAction": "iam:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}},
            }
        ),
        ('"a"', [*S0, "Condition", "StringEquals", "aws:ResourceTag/team"]),
        details="Using the effect Deny with NotAction and the tag condition key "
        "aws:ResourceTag/team can be overly permissive because some service actions are not "
        "denied by this statement. This is because the condition key doesn't apply to some "
        "service actions. We recommend that you use Action instead of NotAction.",
    ),
    case(
        "ALLOW_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
        "SUGGESTION",
        document(
            allow(
                NotAction="iam:*",
                Resource="arn:aws:s3:::b/*",
                Condition={"StringEquals": {"aws:ResourceTag/team": "a"}},
            )
        ),
        ('"a"', [*S0, "Condition", "StringEquals", "aws:ResourceTag/team"]),
        details="Using the effect Allow with NotAction and the tag condition key "
        "aws:ResourceTag/team allows only service actions that support the condition key. The "
        "condition key doesn't apply to some service actions. We recommend that you use Action "
        "instead of NotAction.",
    ),
]


@pytest.mark.parametrize("check", CASES)
def test_issue_code_type_wording_and_location(check: Case) -> None:
    assert_case(check)
