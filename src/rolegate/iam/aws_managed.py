"""AWS managed policies: a small built-in set every account can attach.

They are `managed_policies` rows of the pseudo-account `aws` (no `accounts` row: the column
has no foreign key), with ARNs `arn:aws:iam::aws:policy/<Name>`. Customers can read and
attach them, never change or delete them. `ensure_aws_managed_policies` creates them
idempotently; when a release changes a built-in document, the next start adds it as a new
default version (as AWS does when it updates a managed policy).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..ids import POLICY_ID_PREFIX, iam_arn
from ..policy import PolicyKind
from ..store.database import UnitOfWork
from ..store.schema import managed_policies, policy_versions
from .common import QUOTAS, check_policy_document

__all__ = [
    "AWS_ACCOUNT",
    "AWS_MANAGED_POLICIES",
    "AwsManagedPolicy",
    "aws_policy_arn",
    "ensure_aws_managed_policies",
    "is_aws_policy_arn",
]

AWS_ACCOUNT: Final = "aws"
_CREATED: Final = datetime(2015, 2, 6, 18, 39, 46, tzinfo=UTC)


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    description: str
    document: Mapping[str, Any]
    path: str = "/"

    @property
    def arn(self) -> str:
        return aws_policy_arn(self.name, self.path)

    @property
    def policy_id(self) -> str:
        """A stable id (same on every node and every start), `ANPA` + 17 base32 chars."""
        digest = hashlib.sha256(f"rolegate-aws-managed:{self.name}".encode()).digest()
        return POLICY_ID_PREFIX + base64.b32encode(digest).decode()[:17]

    @property
    def text(self) -> str:
        return json.dumps(self.document, indent=4)


def aws_policy_arn(name: str, path: str = "/") -> str:
    return iam_arn(AWS_ACCOUNT, "policy", path, name)


def is_aws_policy_arn(arn: str) -> bool:
    return arn.startswith(f"arn:aws:iam::{AWS_ACCOUNT}:")


def _allow(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


_READ_ONLY_ACTIONS: Final = [
    "iam:Generate*",
    "iam:Get*",
    "iam:List*",
    "iam:Simulate*",
    "sts:GetCallerIdentity",
    "sts:GetSessionToken",
    "sts:GetAccessKeyInfo",
    "s3:Describe*",
    "s3:Get*",
    "s3:List*",
    "ec2:Describe*",
    "ec2:Get*",
    "cloudwatch:Describe*",
    "cloudwatch:Get*",
    "cloudwatch:List*",
    "logs:Describe*",
    "logs:Get*",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "logs:StopQuery",
    "dynamodb:BatchGetItem",
    "dynamodb:Describe*",
    "dynamodb:GetItem",
    "dynamodb:List*",
    "dynamodb:Query",
    "dynamodb:Scan",
    "lambda:Get*",
    "lambda:List*",
    "sns:Get*",
    "sns:List*",
    "sqs:Get*",
    "sqs:List*",
    "kms:Describe*",
    "kms:Get*",
    "kms:List*",
    "cloudformation:Describe*",
    "cloudformation:Get*",
    "cloudformation:List*",
    "organizations:Describe*",
    "organizations:List*",
    "tag:Get*",
]

AWS_MANAGED_POLICIES: Final[tuple[AwsManagedPolicy, ...]] = (
    AwsManagedPolicy(
        "AdministratorAccess",
        "Provides full access to AWS services and resources.",
        _allow({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    ),
    AwsManagedPolicy(
        "PowerUserAccess",
        "Provides full access to AWS services and resources, but does not allow management "
        "of Users and groups.",
        _allow(
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "iam:CreateServiceLinkedRole",
                    "iam:DeleteServiceLinkedRole",
                    "iam:ListRoles",
                    "organizations:DescribeOrganization",
                    "account:GetAccountInformation",
                    "account:ListRegions",
                ],
                "Resource": "*",
            },
        ),
    ),
    AwsManagedPolicy(
        "ReadOnlyAccess",
        "Provides read-only access to AWS services and resources.",
        _allow({"Effect": "Allow", "Action": _READ_ONLY_ACTIONS, "Resource": "*"}),
    ),
    AwsManagedPolicy(
        "IAMFullAccess",
        "Provides full access to IAM via the AWS Management Console.",
        _allow(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:*",
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                    "organizations:DescribePolicy",
                    "organizations:ListChildren",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                    "organizations:ListRoots",
                    "organizations:ListPolicies",
                    "organizations:ListTargetsForPolicy",
                ],
                "Resource": "*",
            }
        ),
    ),
    AwsManagedPolicy(
        "IAMReadOnlyAccess",
        "Provides read only access to IAM via the AWS Management Console.",
        _allow(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                ],
                "Resource": "*",
            }
        ),
    ),
    AwsManagedPolicy(
        "IAMUserChangePassword",
        "Provides the ability for an IAM user to change their own password.",
        _allow(
            {
                "Effect": "Allow",
                "Action": ["iam:ChangePassword"],
                "Resource": ["arn:aws:iam::*:user/${aws:username}"],
            },
            {"Effect": "Allow", "Action": ["iam:GetAccountPasswordPolicy"], "Resource": "*"},
        ),
    ),
    AwsManagedPolicy(
        "AmazonS3FullAccess",
        "Provides full access to all buckets via the AWS Management Console.",
        _allow(
            {
                "Effect": "Allow",
                "Action": ["s3:*", "s3-object-lambda:*"],
                "Resource": "*",
            }
        ),
    ),
    AwsManagedPolicy(
        "AmazonS3ReadOnlyAccess",
        "Provides read only access to all buckets via the AWS Management Console.",
        _allow(
            {
                "Effect": "Allow",
                "Action": [
                    "s3:Get*",
                    "s3:List*",
                    "s3:Describe*",
                    "s3-object-lambda:Get*",
                    "s3-object-lambda:List*",
                ],
                "Resource": "*",
            }
        ),
    ),
)


def _sync_document(uow: UnitOfWork, policy: AwsManagedPolicy, row: Any) -> None:
    """Make the built-in document the default version if a release changed it."""
    connection = uow.connection
    current = connection.execute(
        select(policy_versions.c.document).where(
            policy_versions.c.policy_id == row.id,
            policy_versions.c.version_id == row.default_version,
        )
    ).scalar_one_or_none()
    if current is not None and json.loads(current) == json.loads(policy.text):
        return
    versions = connection.execute(
        select(policy_versions.c.version_id, policy_versions.c.created_at)
        .where(policy_versions.c.policy_id == row.id)
        .order_by(policy_versions.c.created_at, policy_versions.c.version_id)
    ).all()
    quota = QUOTAS["PolicyVersionsInUse"]
    stale = [v.version_id for v in versions if v.version_id != row.default_version]
    while len(versions) >= quota and stale:
        oldest = stale.pop(0)
        connection.execute(
            delete(policy_versions).where(
                policy_versions.c.policy_id == row.id, policy_versions.c.version_id == oldest
            )
        )
        versions = [v for v in versions if v.version_id != oldest]
    version_id = f"v{row.next_version}"
    connection.execute(
        insert(policy_versions).values(
            policy_id=row.id, version_id=version_id, document=policy.text, created_at=uow.now
        )
    )
    connection.execute(
        update(managed_policies)
        .where(managed_policies.c.id == row.id)
        .values(
            default_version=version_id,
            next_version=row.next_version + 1,
            updated_at=uow.now,
            description=policy.description,
        )
    )


def ensure_aws_managed_policies(uow: UnitOfWork) -> None:
    """Create (or bring up to date) the built-in AWS managed policies. Idempotent.

    Safe from several nodes at once: a concurrent insert of the same policy loses on the
    unique ARN inside a savepoint and is ignored.
    """
    connection = uow.connection
    for policy in AWS_MANAGED_POLICIES:
        check_policy_document(policy.text, PolicyKind.IDENTITY, max_size=QUOTAS["PolicySize"])
        row = connection.execute(
            select(managed_policies).where(managed_policies.c.arn == policy.arn)
        ).first()
        if row is not None:
            _sync_document(uow, policy, row)
            continue
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(managed_policies).values(
                        id=policy.policy_id,
                        account_id=AWS_ACCOUNT,
                        name=policy.name,
                        name_key=policy.name.lower(),
                        path=policy.path,
                        arn=policy.arn,
                        description=policy.description,
                        default_version="v1",
                        next_version=2,
                        created_at=_CREATED,
                        updated_at=_CREATED,
                    )
                )
                connection.execute(
                    insert(policy_versions).values(
                        policy_id=policy.policy_id,
                        version_id="v1",
                        document=policy.text,
                        created_at=_CREATED,
                    )
                )
        except IntegrityError:
            continue
