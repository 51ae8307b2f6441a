"""Hypothesis strategies for random but valid corpus cases (see tests/corpus/*.json format).

Pools are small on purpose so that generated statements often name the generated principal,
action and resource, giving a healthy mix of Allow, ExplicitDeny and ImplicitDeny.
Service principals are left out: the semantics do not say which global keys they carry.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

HOME = "111122223333"
OTHER = "444455556666"

ALICE = f"arn:aws:iam::{HOME}:user/alice"
BOB = f"arn:aws:iam::{OTHER}:user/dev/bob"
DEPLOY_ROLE = f"arn:aws:iam::{HOME}:role/ops/Deploy"
DEPLOY_SESSION = f"arn:aws:sts::{HOME}:assumed-role/Deploy/s1"
READER_ROLE = f"arn:aws:iam::{OTHER}:role/Reader"
READER_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/Reader/s2"
FRED = f"arn:aws:sts::{HOME}:federated-user/fred"
ALICE_ID = "AIDAALICEEXAMPLE0001"
BOB_ID = "AIDABOBEXAMPLE000002"
DEPLOY_ID = "AROADEPLOYEXAMPLE003"

PRINCIPALS: list[dict[str, Any]] = [
    {"arn": ALICE, "id": ALICE_ID, "tags": {"team": "blue"}},
    {"arn": ALICE},
    {"arn": BOB, "id": BOB_ID, "tags": {"Team": "red", "env": "prod"}},
    {
        "arn": DEPLOY_SESSION,
        "role_arn": DEPLOY_ROLE,
        "id": DEPLOY_ID,
        "tags": {"team": "productionapp"},
    },
    {"arn": DEPLOY_SESSION, "role_arn": DEPLOY_ROLE, "id": f"{DEPLOY_ID}:s1"},
    {"arn": READER_SESSION},
    {"arn": f"arn:aws:iam::{HOME}:root"},
    {"arn": f"arn:aws:iam::{OTHER}:root"},
    {"arn": FRED},
    {"arn": "anonymous"},
]

ACTIONS = [
    "s3:GetObject",
    "s3:getobject",
    "S3:PutObject",
    "s3:ListBucket",
    "iam:GetUser",
    "iam:PassRole",
    "sts:AssumeRole",
    "STS:assumerole",
    "sts:AssumeRoleWithSAML",
]

RESOURCES = [
    "arn:aws:s3:::productionapp/a.txt",
    "arn:aws:s3:::productionapp/alice/notes.txt",
    "arn:aws:s3:::productionapp/blue/x.txt",
    "arn:aws:s3:::productionapp/*",
    "arn:aws:s3:::productionapp",
    "arn:aws:s3:::otherbucket/A.TXT",
    ALICE,
    BOB,
    DEPLOY_ROLE,
    READER_ROLE,
]

ACTION_PATTERNS = [
    "*",
    "s3:*",
    "s3:Get*",
    "s3:getobject",
    "S3:PutObject",
    "s3:List?ucket",
    "iam:*",
    "iam:GetUser",
    "iam:Pass*",
    "sts:AssumeRole",
    "sts:*",
    "sts:assume*",
    "ec2:*",
]

PLAIN_RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::productionapp/*",
    "arn:aws:s3:::productionapp",
    "arn:aws:s3:::*",
    "arn:aws:s3:::productionapp/?.txt",
    "arn:aws:s3:::otherbucket/a.txt",
    "arn:aws:iam::*:role/*",
    f"arn:aws:iam::{HOME}:*",
    DEPLOY_ROLE,
    f"arn:aws:iam::{OTHER}:user/*",
    "arn:aws:*",
]
# Literal text under 2008-10-17, substituted under 2012-10-17.
VARIABLE_RESOURCE_PATTERNS = [
    "arn:aws:s3:::productionapp/${aws:username}/*",
    "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}",
    "arn:aws:s3:::productionapp/${aws:PrincipalTag/team}/*",
    "arn:aws:s3:::productionapp/${AWS:PRINCIPALTAG/TEAM}/*",
    "arn:aws:s3:::${aws:PrincipalTag/team, 'productionapp'}/*",
    "arn:aws:s3:::productionapp/${aws:username, 'a.txt'}",
    "arn:aws:iam::${aws:ResourceAccount}:role/*",
]
ESCAPE_RESOURCE_PATTERNS = ["arn:aws:s3:::productionapp/${*}", "arn:aws:s3:::productionapp${?}a"]

AWS_PRINCIPAL_VALUES = [
    "*",
    HOME,
    OTHER,
    f"arn:aws:iam::{HOME}:root",
    f"arn:aws:iam::{OTHER}:root",
    ALICE,
    BOB,
    DEPLOY_SESSION,
    DEPLOY_ROLE,
    READER_ROLE,
    READER_SESSION,
    ALICE_ID,
    DEPLOY_ID,
    FRED,
]
# Identities of the pool principals, so NotPrincipal often lists all or most of them.
IDENTITY_GROUPS = [
    [ALICE, ALICE_ID, HOME],
    [BOB, BOB_ID, f"arn:aws:iam::{OTHER}:root"],
    [DEPLOY_SESSION, DEPLOY_ROLE, DEPLOY_ID, HOME],
    [READER_SESSION, READER_ROLE, OTHER],
    [FRED, f"arn:aws:iam::{HOME}:root"],
]

STRING_OPERATORS = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
]
NUMERIC_OPERATORS = [
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
]
DATE_OPERATORS = [
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
]
ARN_OPERATORS = ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"]
IP_OPERATORS = ["IpAddress", "NotIpAddress"]

ConditionKey = tuple[list[str], list[Any], list[Any]]

# key -> (operators, policy values, request values); no request values = derived by the engine.
CONDITION_KEYS: dict[str, ConditionKey] = {
    "aws:SourceIp": (
        IP_OPERATORS,
        ["203.0.113.0/24", "10.0.0.0/8", "2001:db8::/32", "198.51.100.1", "::1"],
        ["203.0.113.7", "10.1.2.3", "2001:db8::5", "198.51.100.1"],
    ),
    "aws:MultiFactorAuthPresent": (
        ["Bool"],
        ["true", "false", "TRUE", True, False],
        ["true", "false", True, False, "True"],
    ),
    "aws:MultiFactorAuthAge": (
        NUMERIC_OPERATORS,
        ["3600", "300", "0.5", "-1", "abc"],
        ["30", "7200", 300, "3600", "x"],
    ),
    "aws:CurrentTime": (
        DATE_OPERATORS,
        ["2024-01-01T00:00:00Z", "2024-06-01T12:00:00+02:00", "2024-06-01", "1717243200", "soon"],
        ["2024-06-01T12:00:00Z", "2023-12-31T23:59:59.500Z", "1717243200"],
    ),
    "aws:EpochTime": (
        DATE_OPERATORS + NUMERIC_OPERATORS,
        ["1717243200", "1704067200"],
        ["1717243200", "1704067200"],
    ),
    "aws:TagKeys": (
        STRING_OPERATORS,
        ["team", "env", "cost*", "Team"],
        [["team"], ["team", "env"], ["env", "owner"], []],
    ),
    "aws:CalledVia": (
        STRING_OPERATORS,
        ["athena.amazonaws.com", "*.amazonaws.com"],
        [
            ["athena.amazonaws.com"],
            ["athena.amazonaws.com", "glue.amazonaws.com"],
            ["glue.amazonaws.com"],
            [],
        ],
    ),
    "aws:RequestTag/env": (
        STRING_OPERATORS,
        ["prod", "Prod", "dev", "pr*", "${aws:PrincipalTag/env}", "${aws:PrincipalTag/env, 'dev'}"],
        ["prod", "Prod", "dev"],
    ),
    "s3:prefix": (
        STRING_OPERATORS,
        ["home/", "home/${aws:username}/*", "home/*", "home/${aws:username, 'nobody'}/"],
        ["home/alice/", "home/bob/x", "home/", "home/nobody/"],
    ),
    "aws:SourceArn": (
        [*ARN_OPERATORS, "StringLike"],
        [
            f"arn:aws:sns:*:{HOME}:*",
            f"arn:aws:sns:us-east-1:{OTHER}:topic",
            "arn:aws:sns:us-east-1:${aws:PrincipalAccount}:*",
            "arn:aws:sns",
        ],
        [
            f"arn:aws:sns:us-east-1:{HOME}:topic",
            f"arn:aws:sns:eu-west-1:{OTHER}:topic:sub",
            "not-an-arn",
        ],
    ),
    "test:Blob": (["BinaryEquals"], ["aGVsbG8=", "d29ybGQ="], ["aGVsbG8=", "d29ybGQ=", "!!"]),
    "aws:username": (STRING_OPERATORS, ["alice", "Alice", "bob", "a*", "${aws:username}"], []),
    "aws:PrincipalTag/team": (
        STRING_OPERATORS,
        ["blue", "red", "${aws:PrincipalTag/team, 'blue'}"],
        [],
    ),
    "aws:PrincipalArn": (
        [*ARN_OPERATORS, "StringEquals"],
        [f"arn:aws:iam::{HOME}:role/ops/*", ALICE, "arn:aws:iam::*:root"],
        [],
    ),
    "aws:PrincipalType": (STRING_OPERATORS, ["User", "AssumedRole", "Account", "Anonymous"], []),
    "aws:userid": (STRING_OPERATORS, [ALICE_ID, f"{DEPLOY_ID}:*", "${aws:userid}"], []),
    "aws:PrincipalAccount": (STRING_OPERATORS, [HOME, OTHER], []),
    "aws:ResourceAccount": (STRING_OPERATORS, [HOME, OTHER, "${aws:PrincipalAccount}"], []),
}
# Derived keys a case sometimes sets itself (the engine must then keep the case's value).
OVERRIDES: dict[str, list[Any]] = {
    "aws:username": ["mallory", "alice"],
    "aws:PrincipalAccount": [OTHER],
    "aws:PrincipalTag/team": ["red"],
}


@dataclass(frozen=True)
class Focus:
    """Values taken from the case itself, mixed into the pools so statements often apply."""

    actions: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    principal_names: list[str] = field(default_factory=list)


NO_FOCUS = Focus()


def focus_of(principal: dict[str, Any], action: str, resource: str) -> Focus:
    names: list[str] = []
    if principal["arn"].startswith("arn:"):
        account = principal["arn"].split(":")[4]
        names += [principal["arn"], account, f"arn:aws:iam::{account}:root"]
        if "role_arn" in principal:
            names.append(principal["role_arn"])
        if "id" in principal:
            names.append(principal["id"].split(":")[0])
    head, _, tail = resource.rpartition(":")
    resources = [resource, f"{head}:{tail.swapcase()}", f"{head}:{tail[: len(tail) // 2]}*"]
    return Focus([action, action.lower(), action.upper()], resources, names)


def pool_with(pool: list[Any], focused: list[Any]) -> list[Any]:
    """`pool` with `focused` repeated so that roughly half the draws come from `focused`."""
    if not focused:
        return pool
    return pool + focused * max(1, len(pool) // len(focused))


def key_spelling(key: str) -> st.SearchStrategy[str]:
    return st.sampled_from([key, key, key.lower(), key.upper()])


@st.composite
def condition_blocks(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    block: dict[str, dict[str, Any]] = {}
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(sorted(CONDITION_KEYS)))
        operators, policy_values, _ = CONDITION_KEYS[key]
        if draw(st.integers(0, 9)) == 0:
            operator = "Null"
            value: Any = draw(st.sampled_from(["true", "false", True, False]))
        else:
            operator = draw(st.sampled_from(operators))
            multivalued = key in ("aws:TagKeys", "aws:CalledVia")
            qualifier = draw(
                st.sampled_from(
                    ["", "ForAllValues:", "ForAnyValue:"]
                    if multivalued
                    else ["", "", "", "", "ForAnyValue:", "ForAllValues:"]
                )
            )
            suffix = draw(st.sampled_from(["", "", "", "IfExists"]))
            operator = f"{qualifier}{operator}{suffix}"
            values = draw(
                st.lists(st.sampled_from(policy_values), min_size=1, max_size=2, unique_by=str)
            )
            value = values[0] if len(values) == 1 and draw(st.booleans()) else values
        block.setdefault(operator, {})[draw(key_spelling(key))] = value
    return block


@st.composite
def principal_elements(draw: st.DrawFn, focus: Focus = NO_FOCUS) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return "*"
    pool = pool_with(AWS_PRINCIPAL_VALUES, focus.principal_names)
    use_only_focus = draw(st.booleans())
    if focus.principal_names and use_only_focus:
        pool = focus.principal_names
    values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
    element: dict[str, Any] = {"AWS": values[0] if len(values) == 1 else values}
    if draw(st.integers(0, 7)) == 0:
        element["Service"] = "ec2.amazonaws.com"  # names no principal of the pool
    return element


@st.composite
def not_principal_elements(draw: st.DrawFn, focus: Focus = NO_FOCUS) -> dict[str, Any]:
    group = draw(
        st.sampled_from(
            pool_with(IDENTITY_GROUPS, [focus.principal_names] if focus.principal_names else [])
        )
    )
    listed = [value for value in group if draw(st.integers(0, 3)) > 0]
    extra = draw(st.lists(st.sampled_from(AWS_PRINCIPAL_VALUES[1:]), max_size=1))
    values = list(dict.fromkeys(listed + extra)) or [group[0]]
    return {"AWS": values}


def one_or_list(values: list[str], single: bool) -> Any:
    return values[0] if single and len(values) == 1 else values


@st.composite
def statements(
    draw: st.DrawFn,
    *,
    effect: str | None = None,
    variables: bool = True,
    resource_policy: bool = False,
    trust: bool = False,
    focus: Focus = NO_FOCUS,
) -> dict[str, Any]:
    """One valid statement; trust policies have no Resource element and no NotPrincipal."""
    chosen_effect = effect or draw(st.sampled_from(["Allow"] * 5 + ["Deny"]))
    statement: dict[str, Any] = {"Effect": chosen_effect}
    if resource_policy:
        if chosen_effect == "Deny" and not trust and draw(st.booleans()):
            statement["NotPrincipal"] = draw(not_principal_elements(focus))
        else:
            statement["Principal"] = draw(principal_elements(focus))
    action_values = draw(
        st.lists(
            st.sampled_from(pool_with(ACTION_PATTERNS, focus.actions)),
            min_size=1,
            max_size=2,
            unique=True,
        )
    )
    action_element = "NotAction" if draw(st.integers(0, 4)) == 0 else "Action"
    statement[action_element] = one_or_list(action_values, draw(st.booleans()))
    if not trust:
        pool = PLAIN_RESOURCE_PATTERNS + VARIABLE_RESOURCE_PATTERNS
        if variables:
            pool = pool + ESCAPE_RESOURCE_PATTERNS
        pool = pool_with(pool, focus.resources)
        resource_values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
        resource_element = "NotResource" if draw(st.integers(0, 5)) == 0 else "Resource"
        statement[resource_element] = one_or_list(resource_values, draw(st.booleans()))
    if draw(st.integers(0, 9)) < 3:
        statement["Condition"] = draw(condition_blocks())
    return statement


@st.composite
def documents(
    draw: st.DrawFn,
    *,
    resource_policy: bool = False,
    trust: bool = False,
    focus: Focus = NO_FOCUS,
    max_statements: int = 3,
) -> dict[str, Any]:
    version = draw(st.sampled_from(["2012-10-17"] * 8 + ["2008-10-17", None]))
    variables = version == "2012-10-17"
    statement_strategy = statements(
        variables=variables, resource_policy=resource_policy, trust=trust, focus=focus
    )
    body = draw(st.lists(statement_strategy, min_size=1, max_size=max_statements))
    document: dict[str, Any] = {}
    if version is not None:
        document["Version"] = version
    single = len(body) == 1 and draw(st.integers(0, 4)) == 0
    document["Statement"] = body[0] if single else body
    return document


FULL_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@st.composite
def limiting_documents(draw: st.DrawFn, focus: Focus = NO_FOCUS) -> dict[str, Any]:
    """A boundary or session document: half of them start by allowing everything."""
    document = draw(documents(focus=focus))
    if draw(st.booleans()):
        body = document["Statement"]
        document["Statement"] = [
            copy.deepcopy(FULL_ACCESS["Statement"][0]),
            *(body if isinstance(body, list) else [body]),
        ]
    return document


@st.composite
def scp_chains(draw: st.DrawFn, focus: Focus = NO_FOCUS) -> list[list[dict[str, Any]]]:
    levels = []
    for _ in range(draw(st.integers(1, 2))):
        level = draw(st.lists(documents(focus=focus, max_statements=2), min_size=0, max_size=2))
        if draw(st.booleans()):
            level.insert(0, copy.deepcopy(FULL_ACCESS))
        levels.append(level or [copy.deepcopy(FULL_ACCESS)])
    return levels


def is_role_assumption(action: str, resource: str) -> bool:
    return action.lower().startswith("sts:assumerole") and ":role/" in resource


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for key, (_, _, request_values) in sorted(CONDITION_KEYS.items()):
        present = draw(st.booleans())
        if request_values and present:
            context[draw(key_spelling(key))] = draw(st.sampled_from(request_values))
    for key, values in sorted(OVERRIDES.items()):
        if draw(st.integers(0, 9)) == 0:
            context[key] = draw(st.sampled_from(values))
    return context


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    principal = copy.deepcopy(draw(st.sampled_from(PRINCIPALS + PRINCIPALS[2:6])))
    action = draw(st.sampled_from(ACTIONS))
    if action.lower().startswith("sts:assumerole") and draw(st.booleans()):
        resource = draw(st.sampled_from([DEPLOY_ROLE, READER_ROLE]))
    else:
        resource = draw(st.sampled_from(RESOURCES))
    trust = is_role_assumption(action, resource)
    focus = focus_of(principal, action, resource)
    policies: dict[str, Any] = {}
    identity_count = draw(st.sampled_from([None, 0, 1, 1, 1, 1, 2, 2, 3]))
    if identity_count is not None:
        policies["identity"] = draw(
            st.lists(documents(focus=focus), min_size=identity_count, max_size=identity_count)
        )
    if draw(st.integers(0, 4)) < 3:
        policies["resource"] = draw(documents(resource_policy=True, trust=trust, focus=focus))
    if draw(st.integers(0, 2)) == 0:
        policies["boundary"] = draw(limiting_documents(focus))
    if draw(st.integers(0, 2 if ":sts:" in principal["arn"] else 6)) == 0:
        policies["session"] = draw(st.lists(limiting_documents(focus), min_size=1, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        policies["scp"] = draw(scp_chains(focus))
    case: dict[str, Any] = {
        "name": "generated",
        "principal": principal,
        "action": action,
        "resource": resource,
        "context": draw(contexts()),
        "policies": policies,
    }
    if draw(st.integers(0, 4)) == 0:
        case["resource_account"] = draw(st.sampled_from([HOME, OTHER]))
    return case


def allow_everything(trust: bool = False, **fields: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "*", **fields}
    if not trust:
        statement["Resource"] = "*"
    return statement


NARROW_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
}


@st.composite
def condition_cases(draw: st.DrawFn) -> dict[str, Any]:
    """Cases decided by the conditions of one identity policy: an Allow and maybe a Deny."""
    principal = copy.deepcopy(draw(st.sampled_from(PRINCIPALS[:-1])))
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17"]))
    body = [allow_everything(Condition=draw(condition_blocks()))]
    if draw(st.booleans()):
        body.append(
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": draw(condition_blocks()),
            }
        )
    return {
        "name": "generated-conditions",
        "principal": principal,
        "action": "s3:GetObject",
        "resource": draw(st.sampled_from(RESOURCES[:3])),
        "context": draw(contexts()),
        "policies": {"identity": [{"Version": version, "Statement": body}]},
    }


@st.composite
def principal_cases(draw: st.DrawFn) -> dict[str, Any]:
    """Cases decided by how a resource (or trust) policy names the caller, and by the
    account relation, the boundary and the session policy."""
    principal = copy.deepcopy(draw(st.sampled_from(PRINCIPALS)))
    action = draw(st.sampled_from(["s3:GetObject", "sts:AssumeRole"]))
    resource = draw(st.sampled_from([*RESOURCES[:2], DEPLOY_ROLE, READER_ROLE]))
    trust = is_role_assumption(action, resource)
    focus = focus_of(principal, action, resource)
    body = [allow_everything(trust, Principal=draw(principal_elements(focus)))]
    if not trust and draw(st.integers(0, 2)) == 0:
        body.append(
            {
                "Effect": "Deny",
                "NotPrincipal": draw(not_principal_elements(focus)),
                "Action": "*",
                "Resource": "*",
            }
        )
    policies: dict[str, Any] = {"resource": {"Version": "2012-10-17", "Statement": body}}
    if draw(st.booleans()):
        policies["identity"] = [{"Version": "2012-10-17", "Statement": [allow_everything()]}]
    if draw(st.integers(0, 2)) == 0:
        policies["boundary"] = copy.deepcopy(NARROW_DOCUMENT)
    if draw(st.integers(0, 2)) == 0:
        policies["session"] = [copy.deepcopy(NARROW_DOCUMENT)]
    case: dict[str, Any] = {
        "name": "generated-principals",
        "principal": principal,
        "action": action,
        "resource": resource,
        "context": {},
        "policies": policies,
    }
    if draw(st.integers(0, 3)) == 0:
        case["resource_account"] = draw(st.sampled_from([HOME, OTHER]))
    return case


def any_cases() -> st.SearchStrategy[dict[str, Any]]:
    """Broad random cases mixed with the two focused families."""
    return st.one_of(cases(), cases(), condition_cases(), principal_cases())
