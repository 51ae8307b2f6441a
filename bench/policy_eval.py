"""Benchmark rolegate's policy engine, and compare it with moto's IAM policy evaluation.

    python bench/policy_eval.py [--quick] [--json FILE] [--check] [--profile]

The world: IAM users in 111122223333 and role sessions in 444455556666, each with ten attached
identity policies (50 statements: exact actions, wildcards, NotAction, NotResource, conditions,
policy variables, Deny), S3 bucket policies and role trust policies as resource policies, and a
permissions boundary for some principals. The request mix (a few hundred distinct requests over
S3, IAM, EC2, STS and a few other services) holds allowed, explicitly denied and implicitly
denied requests; every request carries the decision it is designed to get, and the run checks
rolegate's decisions against those.

Measured: latency of each `evaluate` call (perf_counter_ns around every call, many shuffled
rounds after a warm-up), throughput of a tight loop, the same identity policies evaluated by
moto's `IAMPolicy.is_action_permitted` (documents parsed once up front, so it is evaluation vs
evaluation), and p50 for one principal holding 20 vs 200 statements over the same requests.
Policies, PolicySets and Requests are all built before timing; the GC is collected, frozen and
disabled around the timed loops. Exit status is 0 (it is a report) unless `--check` is given,
then 1 when a target fails.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from rolegate.policy import (
    Decision,
    Policy,
    PolicyKind,
    PolicySet,
    Principal,
    Request,
    evaluate,
    parse_policy,
)

MOTO_VERSION: str | None
try:  # moto is an optional ("bench") dependency
    from moto import __version__ as MOTO_VERSION
    from moto.iam.access_control import IAMPolicy, PermissionResult
except ImportError:  # reported in the output
    MOTO_VERSION = None

CORP: Final = "111122223333"  # users, and the account owning the corp-* buckets
APPS: Final = "444455556666"  # role sessions
PARTNER: Final = "999988887777"  # owns partner-* buckets (outside the data perimeter)
VERSION: Final = "2012-10-17"
ALLOW: Final = "Allow"
DENY: Final = "ExplicitDeny"
IMPLICIT: Final = "ImplicitDeny"
CORP_NETWORKS: Final = ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]
OFF_NETWORK_IP: Final = "203.0.113.9"

TARGET_P50_US: Final = 10.0
TARGET_MOTO_RATIO: Final = 10.0
TARGET_SCALING: Final = 2.0

Doc = dict[str, Any]


# ------------------------------------------------------------------------------------ world


@dataclass(frozen=True)
class Actor:
    """One caller: an IAM user or a role session, with what its policies depend on."""

    key: str
    arn: str
    account: str
    name: str  # user name, or session name (used in resource paths)
    team: str
    is_user: bool
    bounded: bool
    unique_id: str
    role_arn: str | None = None

    @property
    def role(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1] if self.role_arn else ""

    def principal(self) -> Principal:
        return Principal(
            self.arn,
            role_arn=self.role_arn,
            unique_id=self.unique_id,
            tags={"team": self.team, "costcenter": "cc-42"},
        )


def _user(name: str, team: str, *, path: str = "", bounded: bool = False) -> Actor:
    return Actor(
        key=name,
        arn=f"arn:aws:iam::{CORP}:user/{path}{name}",
        account=CORP,
        name=name,
        team=team,
        is_user=True,
        bounded=bounded,
        unique_id=f"AIDA{name.upper():X<16}",
    )


def _session(role_path: str, role: str, session: str, team: str) -> Actor:
    return Actor(
        key=f"{role}/{session}",
        arn=f"arn:aws:sts::{APPS}:assumed-role/{role}/{session}",
        account=APPS,
        name=session,
        team=team,
        is_user=False,
        bounded=True,
        unique_id=f"AROA{role.upper():X<16}:{session}",
        role_arn=f"arn:aws:iam::{APPS}:role/{role_path}{role}",
    )


ACTORS: Final = (
    _user("alice", "blue"),
    _user("bob", "red"),
    _user("carol", "blue", path="ops/"),
    _user("dave", "green", bounded=True),
    _session("eng/", "DataEngineer", "etl-nightly", "blue"),
    _session("", "Auditor", "audit-2024", "red"),
)


def stmt(
    effect: str,
    action: str | list[str] | None = None,
    resource: str | list[str] | None = None,
    *,
    not_action: list[str] | None = None,
    not_resource: list[str] | None = None,
    condition: Mapping[str, Mapping[str, Any]] | None = None,
    principal: Any = None,
) -> Doc:
    out: Doc = {"Effect": effect}
    if principal is not None:
        out["Principal"] = principal
    if action is not None:
        out["Action"] = action
    if not_action is not None:
        out["NotAction"] = not_action
    if resource is not None:
        out["Resource"] = resource
    if not_resource is not None:
        out["NotResource"] = not_resource
    if condition is not None:
        out["Condition"] = dict(condition)
    return out


def doc(*statements: Doc) -> Doc:
    return {"Version": VERSION, "Statement": list(statements)}


def identity_documents(a: str) -> list[tuple[str, Doc]]:
    """Ten identity policies, 50 statements, for a principal of account `a`."""
    home = "arn:aws:s3:::corp-home"
    s3_home = doc(
        stmt(
            "Allow",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            f"{home}/${{aws:username}}/*",
        ),
        stmt(
            "Allow",
            "s3:ListBucket",
            home,
            condition={"StringLike": {"s3:prefix": ["${aws:username}/*", "${aws:username}"]}},
        ),
        stmt("Allow", ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "*"),
        stmt("Deny", "s3:DeleteObject", f"{home}/*/archive/*"),
        stmt("Allow", "s3:Get*", ["arn:aws:s3:::corp-shared", "arn:aws:s3:::corp-shared/*"]),
    )
    s3_data = doc(
        stmt(
            "Allow",
            "s3:PutObject",
            "arn:aws:s3:::corp-uploads/*",
            condition={"IpAddress": {"aws:SourceIp": CORP_NETWORKS}},
        ),
        stmt(
            "Deny",
            ["s3:GetObject", "s3:PutObject"],
            not_resource=["arn:aws:s3:::corp-*", "arn:aws:s3:::corp-*/*"],
        ),
        stmt(
            "Allow",
            "s3:GetObject",
            "arn:aws:s3:::corp-contractor/*",
            condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
        ),
        stmt(
            "Deny",
            "s3:*",
            "arn:aws:s3:::corp-secrets/*",
            condition={"StringNotEquals": {"aws:PrincipalTag/team": "security"}},
        ),
        stmt(
            "Allow",
            "s3:PutObjectTagging",
            "arn:aws:s3:::corp-shared/*",
            condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["project", "costcenter"]}},
        ),
    )
    ec2 = doc(
        stmt("Allow", "ec2:Describe*", "*"),
        stmt(
            "Allow",
            ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"],
            f"arn:aws:ec2:us-east-1:{a}:instance/*",
            condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
        ),
        stmt(
            "Allow",
            "ec2:RunInstances",
            "*",
            condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["project", "costcenter"]}},
        ),
        stmt(
            "Deny",
            "ec2:TerminateInstances",
            "*",
            condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        ),
        stmt(
            "Allow",
            "ec2:TerminateInstances",
            f"arn:aws:ec2:*:{a}:instance/*",
            condition={"StringEquals": {"aws:PrincipalTag/team": ["blue", "green"]}},
        ),
    )
    iam_self = doc(
        stmt("Allow", "iam:*User*", f"arn:aws:iam::{a}:user/${{aws:username}}"),
        stmt("Allow", ["iam:Get*", "iam:List*"], "*"),
        stmt("Deny", ["iam:DeleteUser", "iam:CreateUser"], "*"),
        stmt(
            "Allow",
            ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:UpdateAccessKey"],
            f"arn:aws:iam::{a}:user/${{aws:username}}",
            condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        ),
        stmt(
            "Deny",
            ["iam:Attach*Policy", "iam:Put*Policy", "iam:CreatePolicyVersion"],
            "*",
            condition={"StringNotEquals": {"aws:PrincipalTag/team": "security"}},
        ),
    )
    sts = doc(
        stmt("Allow", "sts:AssumeRole", "arn:aws:iam::*:role/app-*"),
        stmt("Deny", "sts:AssumeRole", "arn:aws:iam::*:role/admin-*"),
        stmt("Allow", "sts:GetCallerIdentity", "*"),
        stmt(
            "Allow",
            "sts:TagSession",
            "*",
            condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "project"]}},
        ),
        stmt(
            "Allow",
            ["sts:GetSessionToken", "sts:DecodeAuthorizationMessage"],
            "*",
            condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        ),
    )
    guard = doc(
        stmt(
            "Deny",
            resource="*",
            not_action=["iam:*", "sts:*", "s3:*", "cloudfront:*", "route53:*", "support:*"],
            condition={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
        ),
        stmt(
            "Deny",
            ["s3:DeleteObject", "ec2:TerminateInstances", "iam:*AccessKey*"],
            "*",
            condition={
                "NotIpAddress": {"aws:SourceIp": CORP_NETWORKS},
                "Bool": {"aws:ViaAWSService": "false"},
            },
        ),
        stmt(
            "Allow",
            "cloudwatch:PutMetricData",
            "*",
            condition={"StringEquals": {"cloudwatch:namespace": "App/${aws:PrincipalTag/team}"}},
        ),
        stmt(
            "Allow",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            f"arn:aws:logs:us-east-1:{a}:log-group:/app/*",
        ),
        stmt("Allow", "logs:Describe*", "*"),
    )
    table = f"arn:aws:dynamodb:us-east-1:{a}:table"
    dynamodb = doc(
        stmt(
            "Allow",
            ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem"],
            f"{table}/app-*",
        ),
        stmt(
            "Allow",
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            f"{table}/app-*",
            condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}},
        ),
        stmt("Deny", "dynamodb:DeleteTable", "*"),
        stmt("Allow", ["dynamodb:Describe*", "dynamodb:List*"], "*"),
        stmt("Allow", "dynamodb:*", f"arn:aws:dynamodb:*:{a}:table/sandbox-${{aws:username}}*"),
    )
    messaging = doc(
        stmt(
            "Allow",
            ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
            f"arn:aws:sqs:us-east-1:{a}:app-*",
        ),
        stmt("Allow", "sqs:List*", "*"),
        stmt("Allow", "sns:Publish", f"arn:aws:sns:us-east-1:{a}:alerts-*"),
        stmt("Deny", ["sqs:DeleteQueue", "sns:DeleteTopic"], "*"),
        stmt(
            "Allow",
            "sns:Subscribe",
            "*",
            condition={"StringLike": {"sns:Endpoint": "*@example.com"}},
        ),
    )
    kms = doc(
        stmt(
            "Allow",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
            f"arn:aws:kms:us-east-1:{a}:key/*",
            condition={"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
        ),
        stmt("Allow", ["kms:List*", "kms:Describe*"], "*"),
        stmt("Deny", ["kms:ScheduleKeyDeletion", "kms:DisableKey"], "*"),
        stmt(
            "Allow",
            "kms:CreateGrant",
            "*",
            condition={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
        stmt(
            "Allow",
            "kms:Decrypt",
            "*",
            condition={"StringEquals": {"aws:PrincipalTag/team": "security"}},
        ),
    )
    compute = doc(
        stmt("Allow", "lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{a}:function:app-*"),
        stmt("Allow", ["lambda:Get*", "lambda:List*"], "*"),
        stmt(
            "Deny",
            "lambda:*",
            "arn:aws:lambda:*:*:function:prod-*",
            condition={"StringNotEquals": {"aws:PrincipalTag/team": "ops"}},
        ),
        stmt(
            "Allow",
            "iam:PassRole",
            f"arn:aws:iam::{a}:role/app-*",
            condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
        stmt("Allow", ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], "*"),
    )
    return [
        ("s3-home", s3_home),
        ("s3-data", s3_data),
        ("ec2", ec2),
        ("iam-self", iam_self),
        ("sts", sts),
        ("guardrails", guard),
        ("dynamodb", dynamodb),
        ("messaging", messaging),
        ("kms", kms),
        ("compute", compute),
    ]


BOUNDARY: Final = doc(
    stmt(
        "Allow",
        [
            "s3:*",
            "ec2:Describe*",
            "ec2:StartInstances",
            "ec2:StopInstances",
            "sts:*",
            "iam:Get*",
            "iam:List*",
            "logs:*",
            "cloudwatch:*",
            "dynamodb:*",
        ],
        "*",
    ),
    stmt("Deny", "s3:PutObject", "arn:aws:s3:::corp-shared/*"),
)

_DATA_ENGINEER: Final = f"arn:aws:iam::{APPS}:role/eng/DataEngineer"
BUCKET_POLICIES: Final[dict[str, Doc]] = {
    "corp-shared": doc(
        stmt(
            "Allow",
            ["s3:GetObject", "s3:ListBucket"],
            ["arn:aws:s3:::corp-shared", "arn:aws:s3:::corp-shared/*"],
            principal={"AWS": [_DATA_ENGINEER]},
            condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}},
        ),
        stmt(
            "Deny",
            "s3:*",
            ["arn:aws:s3:::corp-shared", "arn:aws:s3:::corp-shared/*"],
            principal="*",
            condition={"Bool": {"aws:SecureTransport": "false"}},
        ),
        stmt("Allow", "s3:ListBucket", "arn:aws:s3:::corp-shared", principal={"AWS": APPS}),
    ),
    "corp-uploads": doc(
        stmt(
            "Allow",
            "s3:PutObject",
            "arn:aws:s3:::corp-uploads/*",
            principal={"AWS": f"arn:aws:iam::{APPS}:root"},
            condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        ),
        stmt(
            "Deny",
            "s3:DeleteObject",
            "arn:aws:s3:::corp-uploads/*",
            principal="*",
            condition={"StringNotEquals": {"aws:PrincipalAccount": CORP}},
        ),
    ),
}
TRUST_POLICIES: Final[dict[str, Doc]] = {
    f"arn:aws:iam::{CORP}:role/app-deployer": doc(
        stmt(
            "Allow",
            "sts:AssumeRole",
            principal={"AWS": f"arn:aws:iam::{CORP}:root"},
            condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        ),
        stmt("Allow", ["sts:AssumeRole", "sts:TagSession"], principal={"AWS": _DATA_ENGINEER}),
    ),
    f"arn:aws:iam::{APPS}:role/app-reader": doc(
        stmt("Allow", "sts:AssumeRole", principal={"AWS": f"arn:aws:iam::{APPS}:role/Auditor"}),
    ),
}


def scale_documents(a: str, projects: int) -> list[tuple[str, Doc]]:
    """`projects` policies of 5 statements each, one per project, over ten statement shapes."""
    shapes: list[Callable[[str], Doc]] = [
        lambda p: stmt("Allow", ["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::proj-{p}/*"),
        lambda p: stmt("Allow", "dynamodb:*", f"arn:aws:dynamodb:us-east-1:{a}:table/{p}-*"),
        lambda p: stmt(
            "Allow", ["sqs:SendMessage", "sqs:ReceiveMessage"], f"arn:aws:sqs:us-east-1:{a}:{p}-*"
        ),
        lambda p: stmt("Allow", "sns:Publish", f"arn:aws:sns:us-east-1:{a}:{p}-alerts"),
        lambda p: stmt(
            "Allow", "lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{a}:function:{p}-*"
        ),
        lambda p: stmt(
            "Allow",
            ["ec2:StartInstances", "ec2:StopInstances"],
            f"arn:aws:ec2:us-east-1:{a}:instance/*",
            condition={"StringEquals": {"aws:ResourceTag/project": p}},
        ),
        lambda p: stmt(
            "Allow",
            "kms:Decrypt",
            f"arn:aws:kms:us-east-1:{a}:key/*",
            condition={"StringEquals": {"kms:RequestAlias": f"alias/{p}"}},
        ),
        lambda p: stmt(
            "Allow",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            f"arn:aws:logs:us-east-1:{a}:log-group:/{p}/*",
        ),
        lambda p: stmt("Deny", "s3:DeleteBucket", f"arn:aws:s3:::proj-{p}"),
        lambda p: stmt(
            "Allow",
            "iam:PassRole",
            f"arn:aws:iam::{a}:role/{p}-*",
            condition={"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}},
        ),
    ]
    out: list[tuple[str, Doc]] = []
    for index in range(projects):
        project = f"p{index:03d}"
        chosen = [shapes[(index * 3 + k) % len(shapes)](project) for k in range(5)]
        out.append((f"project-{project}", doc(*chosen)))
    return out


# ----------------------------------------------------------------------------------- requests

Expect = str | Callable[[Actor], str]


def _users_only(a: Actor) -> str:
    return ALLOW if a.is_user else IMPLICIT


def _unbounded_users(a: Actor) -> str:
    return ALLOW if a.is_user and not a.bounded else IMPLICIT


def _users_and_data_engineer(a: Actor) -> str:
    return ALLOW if a.is_user or a.role == "DataEngineer" else IMPLICIT


def _terminate(a: Actor) -> str:
    return ALLOW if a.team in ("blue", "green") and not a.bounded else IMPLICIT


def _assume_deployer_mfa(a: Actor) -> str:
    return ALLOW if a.is_user or a.role == "DataEngineer" else IMPLICIT


def _assume_deployer_no_mfa(a: Actor) -> str:
    return ALLOW if a.role == "DataEngineer" else IMPLICIT


def _assume_reader(a: Actor) -> str:
    return ALLOW if a.role == "Auditor" else IMPLICIT


def _uploads_delete(a: Actor) -> str:
    return IMPLICIT if a.is_user else DENY


def _boundary_denies(a: Actor) -> str:
    return DENY if a.bounded else IMPLICIT


@dataclass(frozen=True)
class Shape:
    """A request template: `{a}` account, `{u}` user/session name, `{t}` team."""

    action: str
    resource: str
    expect: Expect
    context: Mapping[str, Any] | None = None


_ACL: Final = {"s3:x-amz-acl": "bucket-owner-full-control"}
SHAPES: Final = (
    # S3: home directories via ${aws:username}, bucket policies, perimeter, conditions
    Shape("s3:GetObject", "arn:aws:s3:::corp-home/{u}/notes.txt", _users_only),
    Shape("s3:GetObject", "arn:aws:s3:::corp-home/someone/notes.txt", IMPLICIT),
    Shape("s3:PutObject", "arn:aws:s3:::corp-home/{u}/draft.txt", _users_only),
    Shape("s3:DeleteObject", "arn:aws:s3:::corp-home/{u}/archive/2020.tar", DENY),
    Shape(
        "s3:DeleteObject",
        "arn:aws:s3:::corp-home/{u}/tmp.txt",
        DENY,
        {"aws:SourceIp": OFF_NETWORK_IP},
    ),
    Shape("s3:DeleteObject", "arn:aws:s3:::corp-home/{u}/tmp.txt", _users_only),
    Shape("s3:ListBucket", "arn:aws:s3:::corp-home", _users_only, {"s3:prefix": "{u}/"}),
    Shape("s3:ListBucket", "arn:aws:s3:::corp-home", IMPLICIT, {"s3:prefix": "other/"}),
    Shape("s3:ListAllMyBuckets", "*", ALLOW),
    Shape("s3:GetObject", "arn:aws:s3:::corp-shared/reports/q1.csv", _users_and_data_engineer),
    Shape(
        "s3:GetObject",
        "arn:aws:s3:::corp-shared/reports/q1.csv",
        DENY,
        {"aws:SecureTransport": False},
    ),
    Shape("s3:ListBucket", "arn:aws:s3:::corp-shared", IMPLICIT),
    Shape("s3:GetObjectTagging", "arn:aws:s3:::corp-shared/reports/q1.csv", _users_only),
    Shape("s3:PutObject", "arn:aws:s3:::corp-uploads/{u}/data.csv", ALLOW, _ACL),
    Shape(
        "s3:PutObject",
        "arn:aws:s3:::corp-uploads/{u}/data.csv",
        IMPLICIT,
        {**_ACL, "aws:SourceIp": "198.51.100.7"},
    ),
    Shape("s3:PutObject", "arn:aws:s3:::corp-uploads/{u}/data.csv", _users_only),
    Shape("s3:DeleteObject", "arn:aws:s3:::corp-uploads/{u}/data.csv", _uploads_delete),
    Shape("s3:GetObject", "arn:aws:s3:::corp-contractor/spec.pdf", _users_only),
    Shape(
        "s3:GetObject",
        "arn:aws:s3:::corp-contractor/spec.pdf",
        IMPLICIT,
        {"aws:CurrentTime": "2031-01-01T00:00:00Z"},
    ),
    Shape("s3:GetObject", "arn:aws:s3:::partner-data/export.csv", DENY),
    Shape("s3:GetObject", "arn:aws:s3:::corp-secrets/keys.txt", DENY),
    Shape(
        "s3:PutObjectTagging",
        "arn:aws:s3:::corp-shared/x.csv",
        _users_only,
        {"aws:TagKeys": ["project", "owner"]},
    ),
    Shape(
        "s3:PutObjectTagging",
        "arn:aws:s3:::corp-shared/x.csv",
        IMPLICIT,
        {"aws:TagKeys": ["owner"]},
    ),
    Shape("s3:PutObject", "arn:aws:s3:::corp-shared/x.csv", _boundary_denies),
    Shape(
        "s3:GetObject",
        "arn:aws:s3:::corp-home/{u}/notes.txt",
        _users_only,
        {"aws:RequestedRegion": "ap-south-1"},
    ),
    # EC2: Describe*, ABAC on resource tags, tag-keys, MFA, region guard (NotAction)
    Shape("ec2:DescribeInstances", "*", ALLOW),
    Shape("ec2:DescribeImages", "*", ALLOW, {"aws:RequestedRegion": "eu-west-1"}),
    Shape("ec2:DescribeInstances", "*", DENY, {"aws:RequestedRegion": "ap-south-1"}),
    Shape(
        "ec2:StartInstances",
        "arn:aws:ec2:us-east-1:{a}:instance/i-0abc",
        ALLOW,
        {"aws:ResourceTag/team": "{t}"},
    ),
    Shape(
        "ec2:StartInstances",
        "arn:aws:ec2:us-east-1:{a}:instance/i-0abc",
        IMPLICIT,
        {"aws:ResourceTag/team": "other"},
    ),
    Shape("ec2:StopInstances", "arn:aws:ec2:us-east-1:{a}:instance/i-0def", IMPLICIT),
    Shape(
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:{a}:instance/*",
        _unbounded_users,
        {"aws:TagKeys": ["project", "owner"]},
    ),
    Shape(
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:{a}:instance/*",
        IMPLICIT,
        {"aws:TagKeys": ["owner"]},
    ),
    Shape("ec2:RunInstances", "arn:aws:ec2:us-east-1:{a}:instance/*", IMPLICIT),
    Shape(
        "ec2:TerminateInstances",
        "arn:aws:ec2:us-east-1:{a}:instance/i-1",
        DENY,
        {"aws:MultiFactorAuthPresent": False},
    ),
    Shape(
        "ec2:TerminateInstances",
        "arn:aws:ec2:us-east-1:{a}:instance/i-1",
        DENY,
        {"aws:MultiFactorAuthPresent": None},
    ),
    Shape("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:{a}:instance/i-1", _terminate),
    Shape(
        "ec2:TerminateInstances",
        "arn:aws:ec2:us-east-1:{a}:instance/i-1",
        DENY,
        {"aws:SourceIp": OFF_NETWORK_IP},
    ),
    Shape("ec2:CreateVpc", "*", IMPLICIT),
    # IAM: iam:*User* on ${aws:username}, Get*/List*, MFA-gated keys, Deny on Attach*Policy
    Shape("iam:GetUser", "arn:aws:iam::{a}:user/{u}", ALLOW),
    Shape("iam:UpdateUser", "arn:aws:iam::{a}:user/{u}", _unbounded_users),
    Shape("iam:UpdateUser", "arn:aws:iam::{a}:user/someone", IMPLICIT),
    Shape("iam:DeleteUser", "arn:aws:iam::{a}:user/{u}", DENY),
    Shape("iam:CreateAccessKey", "arn:aws:iam::{a}:user/{u}", _unbounded_users),
    Shape(
        "iam:CreateAccessKey",
        "arn:aws:iam::{a}:user/{u}",
        IMPLICIT,
        {"aws:MultiFactorAuthPresent": False},
    ),
    Shape(
        "iam:CreateAccessKey", "arn:aws:iam::{a}:user/{u}", DENY, {"aws:SourceIp": OFF_NETWORK_IP}
    ),
    Shape("iam:AttachUserPolicy", "arn:aws:iam::{a}:user/{u}", DENY),
    Shape("iam:ListRoles", "*", ALLOW),
    Shape("iam:CreateRole", "arn:aws:iam::{a}:role/x", IMPLICIT),
    Shape(
        "iam:PassRole",
        "arn:aws:iam::{a}:role/app-worker",
        _unbounded_users,
        {"iam:PassedToService": "lambda.amazonaws.com"},
    ),
    Shape(
        "iam:PassRole",
        "arn:aws:iam::{a}:role/app-worker",
        IMPLICIT,
        {"iam:PassedToService": "ec2.amazonaws.com"},
    ),
    # STS: AssumeRole with trust policies (same and cross account), Deny, MFA, tag keys
    Shape("sts:GetCallerIdentity", "*", ALLOW),
    Shape("sts:AssumeRole", f"arn:aws:iam::{CORP}:role/app-deployer", _assume_deployer_mfa),
    Shape(
        "sts:AssumeRole",
        f"arn:aws:iam::{CORP}:role/app-deployer",
        _assume_deployer_no_mfa,
        {"aws:MultiFactorAuthPresent": False},
    ),
    Shape("sts:AssumeRole", f"arn:aws:iam::{CORP}:role/admin-root", DENY),
    Shape("sts:AssumeRole", f"arn:aws:iam::{APPS}:role/app-reader", _assume_reader),
    Shape("sts:TagSession", "*", ALLOW, {"aws:TagKeys": ["team"]}),
    Shape("sts:GetSessionToken", "*", ALLOW),
    Shape("sts:GetSessionToken", "*", IMPLICIT, {"aws:MultiFactorAuthPresent": False}),
    # Other services: the statements a real principal also carries
    Shape("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:{a}:table/app-orders", ALLOW),
    Shape("dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:{a}:table/app-orders", DENY),
    Shape("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:{a}:table/sandbox-{u}-x", _users_only),
    Shape(
        "dynamodb:PutItem",
        "arn:aws:dynamodb:us-east-1:{a}:table/app-orders",
        _users_only,
        {"dynamodb:LeadingKeys": ["{u}"]},
    ),
    Shape("sqs:SendMessage", "arn:aws:sqs:us-east-1:{a}:app-jobs", _unbounded_users),
    Shape("sqs:DeleteQueue", "arn:aws:sqs:us-east-1:{a}:app-jobs", DENY),
    Shape(
        "kms:Decrypt",
        "arn:aws:kms:us-east-1:{a}:key/1234abcd",
        _unbounded_users,
        {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
    ),
    Shape("kms:Decrypt", "arn:aws:kms:us-east-1:{a}:key/1234abcd", IMPLICIT),
    Shape("kms:ScheduleKeyDeletion", "arn:aws:kms:us-east-1:{a}:key/1234abcd", DENY),
    Shape(
        "lambda:InvokeFunction",
        "arn:aws:lambda:us-east-1:{a}:function:app-resize",
        _unbounded_users,
    ),
    Shape("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:{a}:function:prod-billing", DENY),
    Shape("cloudwatch:PutMetricData", "*", ALLOW, {"cloudwatch:namespace": "App/{t}"}),
    Shape("cloudwatch:PutMetricData", "*", IMPLICIT, {"cloudwatch:namespace": "App/other"}),
    Shape(
        "logs:PutLogEvents", "arn:aws:logs:us-east-1:{a}:log-group:/app/web:log-stream:i-1", ALLOW
    ),
    Shape("rds:DeleteDBInstance", "arn:aws:rds:us-east-1:{a}:db:prod", IMPLICIT),
    Shape("rds:DescribeDBInstances", "*", DENY, {"aws:RequestedRegion": "eu-central-1"}),
)

BASE_CONTEXT: Final[Mapping[str, Any]] = {
    "aws:SourceIp": "10.1.2.3",
    "aws:RequestedRegion": "us-east-1",
    "aws:CurrentTime": "2025-06-01T12:00:00Z",
    "aws:MultiFactorAuthPresent": True,
    "aws:SecureTransport": True,
    "aws:ViaAWSService": False,
}


@dataclass(frozen=True)
class Case:
    """One distinct request, ready to evaluate by rolegate and by moto."""

    actor: Actor
    request: Request
    policies: PolicySet
    moto_policies: Sequence[Any]
    expected: str
    resource_policy: Policy | None

    @property
    def has_resource_policy(self) -> bool:
        return self.resource_policy is not None

    @property
    def service(self) -> str:
        return self.request.action.split(":", 1)[0]


def _fill(value: Any, actor: Actor) -> Any:
    if isinstance(value, str):
        return value.format(a=actor.account, u=actor.name, t=actor.team)
    if isinstance(value, list):
        return [_fill(item, actor) for item in value]
    return value


def _resource_owner(resource: str) -> tuple[str | None, str | None]:
    """(resource account, resource-policy key) of a resource ARN."""
    if resource.startswith("arn:aws:s3:::"):
        bucket = resource[len("arn:aws:s3:::") :].split("/", 1)[0]
        owner = PARTNER if bucket.startswith("partner-") else CORP
        return owner, bucket if bucket in BUCKET_POLICIES else None
    if resource in TRUST_POLICIES:
        return None, resource
    return None, None


@dataclass
class World:
    cases: list[Case]
    identity_statements: dict[str, int]
    principals: int
    resource_policies: int


def build_world() -> World:
    resource_policies: dict[str, Policy] = {
        bucket: parse_policy(document, PolicyKind.RESOURCE, policy_id=f"bucket/{bucket}")
        for bucket, document in BUCKET_POLICIES.items()
    }
    resource_policies.update(
        (role, parse_policy(document, PolicyKind.TRUST, policy_id=f"trust/{role}"))
        for role, document in TRUST_POLICIES.items()
    )
    boundary = parse_policy(BOUNDARY, PolicyKind.BOUNDARY, policy_id="boundary")
    cases: list[Case] = []
    counts: dict[str, int] = {}
    for actor in ACTORS:
        documents = identity_documents(actor.account)
        identity = [
            parse_policy(document, PolicyKind.IDENTITY, policy_id=name)
            for name, document in documents
        ]
        counts[actor.key] = sum(len(policy.statements) for policy in identity)
        base = PolicySet(identity=identity, boundary=boundary if actor.bounded else None)
        with_resource = {key: base.with_resource(rp) for key, rp in resource_policies.items()}
        moto = [IAMPolicy(json.dumps(d)) for _, d in documents] if MOTO_VERSION else []
        principal = actor.principal()
        for shape in SHAPES:
            resource = _fill(shape.resource, actor)
            context = dict(BASE_CONTEXT)
            for key, value in (shape.context or {}).items():
                if value is None:
                    context.pop(key, None)
                else:
                    context[key] = _fill(value, actor)
            owner, policy_key = _resource_owner(resource)
            request = Request(principal, shape.action, resource, context, resource_account=owner)
            expected = shape.expect if isinstance(shape.expect, str) else shape.expect(actor)
            cases.append(
                Case(
                    actor=actor,
                    request=request,
                    policies=with_resource[policy_key] if policy_key else base,
                    moto_policies=moto,
                    expected=expected,
                    resource_policy=resource_policies[policy_key] if policy_key else None,
                )
            )
    return World(cases, counts, len(ACTORS), len(resource_policies))


# ------------------------------------------------------------------------------------ moto


def moto_decide(action_resource: tuple[str, str], policies: Sequence[Any]) -> str:
    """moto 5's `IAMRequestBase.check_action_permitted`, minus signature and backend lookups.

    Identity policies only, `is_action_permitted(action, resource)` without principal or
    condition values: moto then treats every condition as satisfied, and it has no resource
    policies, permissions boundaries, policy variables or NotResource.
    """
    action, resource = action_resource
    if action == "sts:GetCallerIdentity":
        return ALLOW
    permitted = False
    for policy in policies:
        result = policy.is_action_permitted(action, resource)
        if result is PermissionResult.DENIED:
            return DENY
        if result is PermissionResult.PERMITTED:
            permitted = True
    return ALLOW if permitted else IMPLICIT


# ---------------------------------------------------------------------------------- timing


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect, freeze and disable the cyclic GC for a timed section (refcounting still frees)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def percentile(sorted_samples: Sequence[int], fraction: float) -> float:
    if not sorted_samples:
        return float("nan")
    index = min(len(sorted_samples) - 1, int(fraction * len(sorted_samples)))
    return float(sorted_samples[index])


def time_each(
    pairs: Sequence[tuple[Any, Any]],
    call: Callable[[Any, Any], object],
    rounds: int,
    seed: int = 7,
) -> list[list[int]]:
    """Nanoseconds of every call, per pair, over `rounds` shuffled rounds (after a warm-up)."""
    for first, second in pairs:  # warm-up: per-action caches, regex caches, code paths
        call(first, second)
    samples: list[list[int]] = [[] for _ in pairs]
    order = list(range(len(pairs)))
    rng = random.Random(seed)
    clock = time.perf_counter_ns
    with gc_paused():
        for _ in range(rounds):
            rng.shuffle(order)
            for index in order:
                first, second = pairs[index]
                start = clock()
                call(first, second)
                samples[index].append(clock() - start)
    return samples


def timer_overhead_ns(repeat: int = 20000) -> float:
    clock = time.perf_counter_ns
    deltas = []
    for _ in range(repeat):
        start = clock()
        deltas.append(clock() - start)
    deltas.sort()
    return percentile(deltas, 0.5)


def throughput(
    pairs: Sequence[tuple[Any, Any]],
    call: Callable[[Any, Any], object],
    min_seconds: float,
) -> float:
    """Decisions per second of a tight loop over `pairs`, repeated for at least `min_seconds`."""
    done = 0
    with gc_paused():
        start = time.perf_counter()
        while True:
            for first, second in pairs:
                call(first, second)
            done += len(pairs)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                return done / elapsed


def interleaved_throughput(
    runs: Mapping[str, tuple[Sequence[tuple[Any, Any]], Callable[[Any, Any], object]]],
    trials: int,
    seconds: float,
) -> dict[str, list[float]]:
    """Alternate the contenders trial by trial so that noise on shared cores hits both."""
    results: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(trials):
        for name, (pairs, call) in runs.items():
            results[name].append(throughput(pairs, call, seconds))
    return results


def flat_sorted(samples: Sequence[Sequence[int]]) -> list[int]:
    return sorted(value for per_pair in samples for value in per_pair)


def summary_us(samples: Sequence[Sequence[int]]) -> dict[str, float]:
    values = flat_sorted(samples)
    return {
        "p50_us": percentile(values, 0.50) / 1000,
        "p90_us": percentile(values, 0.90) / 1000,
        "p99_us": percentile(values, 0.99) / 1000,
        "mean_us": (statistics.fmean(values) / 1000) if values else float("nan"),
        "samples": float(len(values)),
    }


def profile_rolegate(pairs: Sequence[tuple[Request, PolicySet]], rounds: int, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        for request, policies in pairs:
            evaluate(request, policies)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# ------------------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Settings:
    latency_rounds: int
    moto_rounds: int
    throughput_seconds: float
    throughput_trials: int
    scaling_rounds: int
    profile_rounds: int


FULL: Final = Settings(200, 12, 1.5, 3, 600, 40)
QUICK: Final = Settings(20, 2, 0.25, 1, 60, 5)


def _line(label: str, value: str) -> None:
    print(f"  {label:<44} {value}")


def _rate(value: float) -> str:
    return f"{value:>12,.0f} decisions/s"


def _build_scaling(
    actor: Actor, cases: Sequence[Case]
) -> tuple[dict[str, int], list[tuple[Request, PolicySet]], list[tuple[Request, PolicySet]]]:
    """The same requests against a 20-statement and a 200-statement identity policy set."""
    core = identity_documents(actor.account)[:4]
    extra = scale_documents(actor.account, 36)
    small = [parse_policy(d, PolicyKind.IDENTITY, policy_id=name) for name, d in core]
    large = small + [parse_policy(d, PolicyKind.IDENTITY, policy_id=name) for name, d in extra]
    small_set = PolicySet(identity=small)
    large_set = PolicySet(identity=large)
    sets: dict[int, tuple[PolicySet, PolicySet]] = {id(None): (small_set, large_set)}
    pairs_small: list[tuple[Request, PolicySet]] = []
    pairs_large: list[tuple[Request, PolicySet]] = []
    for case in cases:
        if case.actor is not actor:
            continue
        key = id(case.resource_policy)
        if key not in sets:  # built once per resource policy, like the main world
            sets[key] = (
                small_set.with_resource(case.resource_policy),
                large_set.with_resource(case.resource_policy),
            )
        pairs_small.append((case.request, sets[key][0]))
        pairs_large.append((case.request, sets[key][1]))
    counts = {
        "small": sum(len(p.statements) for p in small),
        "large": sum(len(p.statements) for p in large),
    }
    return counts, pairs_small, pairs_large


def _candidates(pairs: Sequence[tuple[Request, PolicySet]]) -> float:
    total = sum(len(ps.identity.for_action(request.action_key)) for request, ps in pairs)
    return total / len(pairs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small repetition counts (CI)")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--profile", action="store_true", help="always print a cProfile")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    wall_start = time.perf_counter()

    world_start = time.perf_counter()
    world = build_world()
    world_ms = (time.perf_counter() - world_start) * 1000
    cases = world.cases
    pairs = [(case.request, case.policies) for case in cases]

    print("rolegate policy evaluation benchmark" + (" (--quick)" if args.quick else ""))
    print(
        f"  python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cpus; moto {MOTO_VERSION or 'not installed'}"
    )
    print()
    print("World")
    statements = sorted(set(world.identity_statements.values()))
    _line(
        "principals (users / role sessions)",
        f"{world.principals} ({sum(a.is_user for a in ACTORS)} / "
        f"{sum(not a.is_user for a in ACTORS)}), "
        f"{sum(a.bounded for a in ACTORS)} with a permissions boundary",
    )
    _line("identity policies per principal", f"10 ({'/'.join(map(str, statements))} statements)")
    _line("resource policies (bucket + trust)", str(world.resource_policies))
    by_effect = Counter(case.expected for case in cases)
    _line("distinct requests", f"{len(cases)} ({len(SHAPES)} shapes x {len(ACTORS)} principals)")
    _line("  designed outcome", ", ".join(f"{k} {v}" for k, v in sorted(by_effect.items())))
    _line("  with a resource policy", str(sum(case.has_resource_policy for case in cases)))
    services = Counter(case.service for case in cases)
    _line("  by service", ", ".join(f"{k} {v}" for k, v in services.most_common()))
    _line("build (parse + compile + requests)", f"{world_ms:.1f} ms")

    # -------------------------------------------------------------- correctness cross-check
    decisions: list[Decision] = [evaluate(request, policies) for request, policies in pairs]
    wrong = [
        (case, decision)
        for case, decision in zip(cases, decisions, strict=True)
        if decision.effect.value != case.expected
    ]
    print()
    print("Correctness (rolegate vs the designed outcome of each request)")
    _line("matching", f"{len(cases) - len(wrong)}/{len(cases)}")
    for case, decision in wrong[:20]:
        print(
            f"    MISMATCH {case.actor.key} {case.request.action} {case.request.resource} "
            f"expected {case.expected}, got {decision.explain()}"
        )

    # ------------------------------------------------------------------- rolegate latency
    overhead = timer_overhead_ns()
    samples = time_each(pairs, evaluate, settings.latency_rounds)
    latency = summary_us(samples)
    print()
    print(
        f"rolegate evaluate() latency ({settings.latency_rounds} shuffled rounds x "
        f"{len(pairs)} requests, gc disabled while timing)"
    )
    _line(
        "p50 / p90 / p99",
        f"{latency['p50_us']:.2f} / {latency['p90_us']:.2f} / "
        f"{latency['p99_us']:.2f} us  (mean {latency['mean_us']:.2f} us)",
    )
    _line("perf_counter_ns overhead (included above)", f"{overhead / 1000:.3f} us")
    groups: dict[str, list[list[int]]] = {}
    for case, per_pair in zip(cases, samples, strict=True):
        groups.setdefault(f"outcome {case.expected}", []).append(per_pair)
        groups.setdefault(f"service {case.service}", []).append(per_pair)
        kind = "with resource policy" if case.has_resource_policy else "identity only"
        groups.setdefault(kind, []).append(per_pair)
        bounded = "with boundary" if case.actor.bounded else "no boundary"
        groups.setdefault(bounded, []).append(per_pair)
    breakdown: dict[str, dict[str, float]] = {}
    for name in sorted(groups):
        stats = summary_us(groups[name])
        breakdown[name] = stats
        _line(
            f"  {name} ({len(groups[name])} requests)",
            f"p50 {stats['p50_us']:6.2f} us   p99 {stats['p99_us']:6.2f} us",
        )

    # ------------------------------------------------------------------------------ moto
    moto_pairs = [((c.request.action, c.request.resource), c.moto_policies) for c in cases]
    moto_latency: dict[str, float] = {}
    agree = 0
    disagreements: Counter[str] = Counter()
    if MOTO_VERSION:
        for moto_pair, decision in zip(moto_pairs, decisions, strict=True):
            verdict = moto_decide(*moto_pair)
            if verdict == decision.effect.value:
                agree += 1
            else:
                disagreements[f"rolegate {decision.effect.value} / moto {verdict}"] += 1
        moto_latency = summary_us(time_each(moto_pairs, moto_decide, settings.moto_rounds))

    # ------------------------------------------------------------------------ throughput
    runs: dict[str, tuple[Sequence[tuple[Any, Any]], Callable[[Any, Any], object]]] = {
        "rolegate": (pairs, evaluate)
    }
    if MOTO_VERSION:
        runs["moto"] = (moto_pairs, moto_decide)
    rates = interleaved_throughput(runs, settings.throughput_trials, settings.throughput_seconds)
    rolegate_rate = statistics.median(rates["rolegate"])
    moto_rate = statistics.median(rates["moto"]) if MOTO_VERSION else float("nan")
    ratio = rolegate_rate / moto_rate if MOTO_VERSION else float("nan")

    def build_and_evaluate(case: Case, _: object) -> Decision:
        request = case.request
        fresh = Request(
            request.principal,
            request.action,
            request.resource,
            request.context,
            request.resource_account,
        )
        return evaluate(fresh, case.policies)

    with_build_rate = throughput(
        [(c, None) for c in cases], build_and_evaluate, settings.throughput_seconds
    )

    print()
    print(
        f"Throughput (tight loop, median of {settings.throughput_trials} interleaved trials "
        f"of >= {settings.throughput_seconds:g} s)"
    )
    _line("rolegate evaluate()", _rate(rolegate_rate))
    _line("rolegate Request(...) + evaluate() [info]", _rate(with_build_rate))
    if MOTO_VERSION:
        _line("moto IAMPolicy.is_action_permitted x 10", _rate(moto_rate))
        _line(
            "moto p50 / p99 per decision",
            f"{moto_latency['p50_us']:.2f} / {moto_latency['p99_us']:.2f} us",
        )
        _line("ratio rolegate / moto", f"{ratio:.1f}x")
        print("  note: moto evaluates identity policies only: it treats every Condition as met,")
        print("        ignores resource policies, permissions boundaries and policy variables,")
        print("        and returns PERMITTED for any statement without Resource (NotResource),")
        print("        Deny included. The comparison is speed, not equal semantics:")
        _line("  moto agrees with rolegate on", f"{agree}/{len(cases)} requests")
        for label, count in disagreements.most_common():
            _line(f"    {label}", str(count))
    else:
        print("  moto not installed: pip install -e '.[bench]' for the comparison")

    # --------------------------------------------------------------------------- scaling
    scale_actor = ACTORS[0]
    counts, pairs_small, pairs_large = _build_scaling(scale_actor, cases)
    both = time_each(pairs_small + pairs_large, evaluate, settings.scaling_rounds, seed=11)
    small_stats = summary_us(both[: len(pairs_small)])
    large_stats = summary_us(both[len(pairs_small) :])
    scaling = large_stats["p50_us"] / small_stats["p50_us"]
    print()
    print(
        f"Scaling: principal {scale_actor.key}, the same {len(pairs_small)} requests, "
        f"{settings.scaling_rounds} rounds"
    )
    for count, stats, pair_list in (
        (counts["small"], small_stats, pairs_small),
        (counts["large"], large_stats, pairs_large),
    ):
        _line(
            f"{count} statements",
            f"p50 {stats['p50_us']:.2f} us  p99 {stats['p99_us']:.2f} us  "
            f"(avg {_candidates(pair_list):.1f} statements match the action)",
        )
    _line(f"p50@{counts['large']} / p50@{counts['small']}", f"{scaling:.2f}")

    # --------------------------------------------------------------------------- summary
    p50 = latency["p50_us"]
    targets = [
        ("p50 per decision <= 10 us", f"{p50:.2f} us", p50 <= TARGET_P50_US),
        (
            f"throughput >= {TARGET_MOTO_RATIO:g}x moto",
            f"{ratio:.1f}x",
            bool(MOTO_VERSION) and ratio >= TARGET_MOTO_RATIO,
        ),
        (
            f"p50@{counts['large']} / p50@{counts['small']} <= {TARGET_SCALING:g}",
            f"{scaling:.2f}",
            scaling <= TARGET_SCALING,
        ),
        (
            "decisions match the designed outcomes",
            f"{len(cases) - len(wrong)}/{len(cases)}",
            not wrong,
        ),
    ]
    print()
    print("Summary" + (" (--quick: few repetitions, numbers are indicative)" if args.quick else ""))
    for name, value, passed in targets:
        verdict = "PASS" if passed else ("SKIP" if "moto" in name and not MOTO_VERSION else "FAIL")
        print(f"  [{verdict}] {name:<40} {value}")
    failed = [name for name, _, passed in targets if not passed]

    profile_text = ""
    latency_failed = p50 > TARGET_P50_US or scaling > TARGET_SCALING
    if args.profile or (latency_failed and not args.quick):
        profile_text = profile_rolegate(pairs, settings.profile_rounds, 25)
        print()
        print(
            f"cProfile of evaluate() over {settings.profile_rounds} rounds of the request mix "
            "(sorted by tottime):"
        )
        print(profile_text)

    elapsed = time.perf_counter() - wall_start
    print(f"total run time {elapsed:.1f} s")

    if args.json:
        report = {
            "quick": args.quick,
            "python": platform.python_version(),
            "moto_version": MOTO_VERSION,
            "world": {
                "principals": world.principals,
                "identity_statements": world.identity_statements,
                "resource_policies": world.resource_policies,
                "requests": len(cases),
                "designed_outcomes": dict(by_effect),
                "build_ms": world_ms,
            },
            "correctness": {"matching": len(cases) - len(wrong), "total": len(cases)},
            "rolegate": {
                "latency": latency,
                "timer_overhead_us": overhead / 1000,
                "breakdown": breakdown,
                "throughput": rolegate_rate,
                "throughput_trials": rates["rolegate"],
                "throughput_with_request_build": with_build_rate,
            },
            "moto": {
                "throughput": moto_rate if MOTO_VERSION else None,
                "throughput_trials": rates.get("moto"),
                "latency": moto_latency or None,
                "agreement": agree,
                "disagreements": dict(disagreements),
            },
            "ratio_rolegate_over_moto": ratio if MOTO_VERSION else None,
            "scaling": {
                "statements": counts,
                "small": small_stats,
                "large": large_stats,
                "p50_ratio": scaling,
            },
            "targets": {name: passed for name, _, passed in targets},
            "elapsed_s": elapsed,
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2, sort_keys=True)
            handle.write("\n")
        print(f"wrote {args.json}")
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
