"""ValidatePolicy checks across elements: security warnings, redundancy, the resource type.

`iam:PassRole` / `iam:CreateServiceLinkedRole` granted on every resource, trust-policy actions
that do not fit their federated principals, OIDC providers and service principals trusted with
no condition that narrows them, resource-policy actions and ARNs that the resource
type (`validatePolicyResourceType`) cannot hold, and redundant actions, resources and
statements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

from ..policy.located import plain
from ..policy.patterns import Glob
from . import validate_catalog as catalog
from .validate_elements import globs_intersect
from .validate_findings import ERROR, SECURITY_WARNING, SUGGESTION, WARNING, FindingSink, Spot
from .validate_structure import TRUST_POLICY, Entry, PolicyType, StatementView

__all__ = ["check_practices"]


_PASS_ROLE_RISK: Final = "can be overly permissive because it"
_PASS_ROLE_ADVICE: Final = (
    "We recommend that you specify resource ARNs or add the iam:PassedToService condition key "
    "to your statement."
)
_SLR_RISK: Final = "can allow creation of unintended service-linked roles"
_ARNS_ADVICE: Final = "We recommend that you specify resource ARNs instead."
# The AWS check reference's findingDetails, by issue code.
_GRANT_DETAILS: Final = {
    "PASS_ROLE_WITH_STAR_IN_RESOURCE": "Using the iam:PassRole action with wildcards (*) in the "
    f"resource {_PASS_ROLE_RISK} allows iam:PassRole permissions on multiple resources. "
    f"{_PASS_ROLE_ADVICE}",
    "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE": "Using wildcards (*) in the action and the "
    f"resource {_PASS_ROLE_RISK} allows iam:PassRole permissions on all resources. "
    f"{_PASS_ROLE_ADVICE}",
    "PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION": "Using a resource with wildcards (*) and "
    f"NotAction {_PASS_ROLE_RISK} allows iam:PassRole permissions on all resources. "
    f"{_PASS_ROLE_ADVICE}",
    "PASS_ROLE_WITH_NOT_RESOURCE": "Using the iam:PassRole action with NotResource "
    f"{_PASS_ROLE_RISK} can allow iam:PassRole permissions on multiple resources. {_ARNS_ADVICE}",
    "PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE": "Using an action with a wildcard (*) and "
    f"NotResource {_PASS_ROLE_RISK} can allow iam:PassRole permissions on multiple resources. "
    f"{_ARNS_ADVICE}",
    "PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE": f"Using NotAction with NotResource "
    f"{_PASS_ROLE_RISK} can allow iam:PassRole permissions on multiple resources.. {_ARNS_ADVICE}",
    "CREATE_SLR_WITH_STAR_IN_RESOURCE": "Using the iam:CreateServiceLinkedRole action with "
    f"wildcards (*) in the resource {_SLR_RISK}. {_ARNS_ADVICE}",
    "CREATE_SLR_WITH_STAR_IN_ACTION_AND_RESOURCE": "Using wildcards (*) in the action and the "
    f"resource {_SLR_RISK} because it allows iam:CreateServiceLinkedRole permissions on all "
    f"resources. {_ARNS_ADVICE}",
    "CREATE_SLR_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION": "Using a resource with wildcards (*) and "
    f"NotAction {_SLR_RISK} because it allows iam:CreateServiceLinkedRole permissions on all "
    f"resources. {_ARNS_ADVICE}",
    "CREATE_SLR_WITH_NOT_RESOURCE": "Using the iam:CreateServiceLinkedRole action with "
    f"NotResource {_SLR_RISK} for multiple resources. {_ARNS_ADVICE}",
    "CREATE_SLR_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE": "Using an action with a wildcard(*) and "
    f"NotResource {_SLR_RISK} because it can allow iam:CreateServiceLinkedRole permissions on "
    f"multiple resources. {_ARNS_ADVICE}",
    "CREATE_SLR_WITH_NOT_ACTION_AND_NOT_RESOURCE": f"Using NotAction with NotResource {_SLR_RISK} "
    f"because it allows iam:CreateServiceLinkedRole permissions on multiple resources. "
    f"{_ARNS_ADVICE}",
}
# action -> (finding type, issue-code prefix)
_GRANTS: Final = {
    "iam:PassRole": (SECURITY_WARNING, "PASS_ROLE"),
    "iam:CreateServiceLinkedRole": (WARNING, "CREATE_SLR"),
}

# validatePolicyResourceType -> (display name, action prefixes, resource ARN patterns).
_RESOURCE_TYPES: Final[dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    "AWS::S3::Bucket": ("S3 Bucket", ("s3",), ("arn:*:s3:::*",)),
    "AWS::S3::AccessPoint": (
        "S3 Access Point",
        ("s3",),
        ("arn:*:s3:*:*:accesspoint/*",),
    ),
    "AWS::S3::MultiRegionAccessPoint": (
        "S3 Multi-Region Access Point",
        ("s3",),
        ("arn:*:s3::*:accesspoint/*",),
    ),
    "AWS::S3ObjectLambda::AccessPoint": (
        "S3 Object Lambda Access Point",
        ("s3-object-lambda",),
        ("arn:*:s3-object-lambda:*:*:accesspoint/*",),
    ),
    "AWS::DynamoDB::Table": ("DynamoDB Table", ("dynamodb",), ("arn:*:dynamodb:*:*:table/*",)),
    TRUST_POLICY: ("IAM Role Trust Policy", ("sts",), ()),
}
_ASSUME_ACTIONS: Final = (
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
)


_GITHUB: Final = "token.actions.githubusercontent.com"
_SOURCE_KEYS: Final = frozenset(
    {"aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths"}
)


def _covers(pattern: str, action: str) -> bool:
    return Glob(pattern, fold_case=True).matches(action.lower())


def _every_role(resource: str) -> bool:
    """`*`, or a wildcard for every role name (`arn:aws:iam::111122223333:role/*`)."""
    if resource == "*":
        return True
    fields = resource.split(":", 5)
    return len(fields) == 6 and fields[2] in ("iam", "*") and fields[5] in ("*", "role/*")


def _expanded(text: str) -> frozenset[str]:
    """The catalogue actions an Action entry covers (lowercase `service:name`)."""
    if text == "*":
        return frozenset({"*"})
    prefix, _, name = text.partition(":")
    service = catalog.service(prefix) if "*" not in prefix and "?" not in prefix else None
    if service is None:
        return frozenset()
    return frozenset(info.qualified.lower() for info in service.matching(name))


class _Checker:
    def __init__(
        self, sink: FindingSink, policy_type: PolicyType, resource_type: str | None
    ) -> None:
        self.sink = sink
        self.policy_type = policy_type
        self.resource_type = resource_type if policy_type is PolicyType.RESOURCE else None

    def report(self, finding_type: str, code: str, details: str, *spots: Spot) -> None:
        self.sink.add(finding_type, code, details, spots)

    def grant(self, statement: StatementView, action: str) -> None:
        """`action` allowed on every resource (`*`, or NotResource / NotAction)."""
        if not statement.allows:
            return
        if action == "iam:PassRole" and any(
            condition.key.lower() == "iam:passedtoservice" for condition in statement.conditions
        ):
            return
        if statement.actions is not None:
            if any(entry.text.lower() == action.lower() for entry in statement.actions):
                how = ""
            elif any(_covers(entry.text, action) for entry in statement.actions):
                how = "STAR_IN_ACTION_AND_"
            else:
                return
        elif statement.not_actions is not None:
            if any(_covers(entry.text, action) for entry in statement.not_actions):
                return
            how = "NOT_ACTION"
        else:
            return
        if statement.resources is not None:
            spots = [entry.spot for entry in statement.resources if _every_role(entry.text)]
            suffix = (
                "STAR_IN_RESOURCE_AND_NOT_ACTION"
                if how == "NOT_ACTION"
                else how + ("RESOURCE" if how else "STAR_IN_RESOURCE")
            )
        elif statement.not_resources is not None:
            spots = [statement.spot("NotResource")]
            suffix = "NOT_ACTION_AND_NOT_RESOURCE" if how == "NOT_ACTION" else how + "NOT_RESOURCE"
        else:
            return
        if spots:
            finding_type, prefix = _GRANTS[action]
            code = f"{prefix}_WITH_{suffix}"
            self.report(finding_type, code, _GRANT_DETAILS[code], *spots)

    def federated(self, statement: StatementView) -> None:
        principal = statement.principal
        if principal is None or statement.actions is None:
            return
        providers = principal.entries.get("Federated", [])
        if not providers:
            return
        for entry in statement.actions:
            action = entry.text.lower()
            if action not in _ASSUME_ACTIONS:
                continue
            if action == "sts:assumerole":
                mismatched = providers
            else:
                saml = action == "sts:assumerolewithsaml"
                mismatched = [p for p in providers if (":saml-provider/" in p.text) != saml]
            if not mismatched:
                continue
            names = ", ".join(p.text for p in mismatched)
            self.report(
                ERROR,
                "MISMATCHED_ACTION_FOR_PRINCIPAL",
                f"The {entry.text} action is invalid with the following principal(s): {names}. "
                "Use a SAML provider principal with the sts:AssumeRoleWithSAML action or use an "
                "OIDC provider principal with the sts:AssumeRoleWithWebIdentity action. Ensure "
                "the provider is Federated if you use either of the two options.",
                entry.spot,
                *(p.spot for p in mismatched),
            )

    def web_identity(self, statement: StatementView) -> None:
        """OIDC providers trusted without a condition on their claims."""
        principal = statement.principal
        if principal is None or not statement.allows:
            return
        keys = {condition.key.lower() for condition in statement.conditions}
        for entry in principal.entries.get("Federated", []):
            if ":saml-provider/" in entry.text:
                continue
            domain = entry.text.partition(":oidc-provider/")[2] or entry.text
            if domain.lower() == _GITHUB:
                if f"{_GITHUB}:sub" not in keys:
                    self.report(
                        SECURITY_WARNING,
                        "MISSING_GITHUB_REPO_CONDITION_KEY",
                        "Granting a federated GitHub principal permissions without a condition "
                        "key can allow more sources to assume the role than you intended. Add "
                        f"the {_GITHUB}:sub condition key and specify the branch and repository "
                        "name in the value.",
                        entry.spot,
                    )
            elif not any(key.startswith(domain.lower() + ":") for key in keys):
                self.report(
                    SECURITY_WARNING,
                    "MISSING_CONDITION_KEY_FOR_OIDC_PRINCIPAL",
                    "Using an Open ID Connect principal without a condition can be overly "
                    "permissive. Add condition keys with a prefix that matches your federated "
                    "OIDC principals to ensure that only the intended identity provider assumes "
                    "the role.",
                    entry.spot,
                )

    def service_principal(self, statement: StatementView) -> None:
        """A service acting on a resource with no condition naming the source (confused deputy)."""
        principal = statement.principal
        if principal is None or not statement.allows or self.resource_type == TRUST_POLICY:
            return
        if statement.actions and all(
            entry.text.lower().startswith("sts:") for entry in statement.actions
        ):
            return  # a role trust policy: services assume roles without a source condition
        keys = {condition.key.lower() for condition in statement.conditions}
        if keys & _SOURCE_KEYS:
            return
        for entry in principal.entries.get("Service", []):
            self.report(
                SECURITY_WARNING,
                "RESTRICT_ACCESS_TO_SERVICE_PRINCIPAL",
                "Granting access to a service principal without specifying a source is overly "
                "permissive. Use aws:SourceArn, aws:SourceAccount, aws:SourceOrgID, or "
                "aws:SourceOrgPaths condition key to grant fine-grained access.",
                entry.spot,
            )

    def trust_principal(self, statement: StatementView) -> None:
        principal = statement.principal
        if self.resource_type != TRUST_POLICY or principal is None:
            return
        stars = [entry for entry in principal.entries.get("AWS", []) if entry.text == "*"]
        spots = [principal.spot] if principal.everyone else [entry.spot for entry in stars]
        if spots:
            self.report(
                ERROR,
                "ROLE_TRUST_POLICY_UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                '"Principal:" "*" is not supported in the principal element of a role trust '
                "policy. Replace the wildcard with a valid principal value.",
                *spots,
            )

    def resource_type_fit(self, statement: StatementView) -> None:
        if self.resource_type is None:
            return
        display, prefixes, arns = _RESOURCE_TYPES[self.resource_type]
        for entry in statement.actions or ():
            prefix = entry.text.partition(":")[0].lower()
            if entry.text != "*" and prefix not in prefixes:
                self.report(
                    ERROR,
                    "UNSUPPORTED_ACTION_IN_POLICY",
                    f"The action {entry.text} is not supported for the resource-based policy "
                    f"attached to the resource type {display}.",
                    entry.spot,
                )
        if self.resource_type != TRUST_POLICY:
            for entry in statement.resources or ():
                if entry.text == "*" or not any(globs_intersect(entry.text, arn) for arn in arns):
                    self.report(
                        ERROR,
                        "UNSUPPORTED_RESOURCE_ARN_IN_POLICY",
                        "The resource ARN is not supported for the resource-based policy attached "
                        f"to resource type {display}.",
                        entry.spot,
                    )
            principal = statement.principal
            for entry in principal.entries.get("Federated", []) if principal else ():
                self.report(
                    ERROR,
                    "FEDERATED_PRINCIPAL_NOT_SUPPORTED",
                    "The policy type does not support a federated identity provider in the "
                    "principal element. Use a supported principal.",
                    entry.spot,
                )

    def rcp_allow(self, statement: StatementView) -> None:
        if self.policy_type is not PolicyType.RCP or not statement.allows:
            return
        if statement.not_actions is not None:
            self.report(
                ERROR,
                "RCP_SYNTAX_ERROR_NOTACTION",
                "RCPs do not support the NotAction element. Update to use the Action element.",
                statement.spot("NotAction"),
            )
        broad = (statement.resources or []) and all(
            entry.text == "*" for entry in statement.resources or []
        )
        if not broad or statement.has_condition:
            self.report(
                ERROR,
                "RCP_SYNTAX_ERROR_ALLOW",
                'RCPs only support specifying all principals ("*") in the Principal element, all '
                'resources ("*") in the Resource element, and no Condition element with an '
                "effect of Allow.",
                Spot(statement.path, statement.node),
            )

    def redundant_actions(self, entries: Sequence[Entry]) -> None:
        """Entries whose every action another entry also grants (of equal ones, the later)."""
        covered = [_expanded(entry.text) for entry in entries]
        coverage = Counter(action for actions in covered for action in actions)
        redundant: list[Entry] = []
        for index in reversed(range(len(entries))):
            mine = covered[index]
            if mine and (coverage["*"] - ("*" in mine) > 0 or all(coverage[a] > 1 for a in mine)):
                redundant.append(entries[index])
                coverage.subtract(mine)
        redundant.reverse()
        if redundant:
            self.report(
                SUGGESTION,
                "REDUNDANT_ACTION",
                f"The {len(redundant)} action(s) are redundant because they provide similar "
                "permissions. Update the policy to remove the redundant action such as: "
                f"{redundant[0].text}.",
                *(entry.spot for entry in redundant),
            )

    def redundant_resources(self, entries: Sequence[Entry]) -> None:
        redundant: list[Entry] = []
        # A pattern with `?` could match a `*` of another as one character: it covers nothing.
        globs = [
            None if "?" in entry.text else Glob(entry.text, fold_case=False) for entry in entries
        ]
        for index, entry in enumerate(entries):
            for other_index, other in enumerate(entries):
                glob = globs[other_index]
                if other_index == index or glob is None or other in redundant:
                    continue
                if other.text == entry.text and other_index > index:
                    continue
                if glob.matches(entry.text):
                    redundant.append(entry)
                    break
        if redundant:
            self.report(
                SUGGESTION,
                "REDUNDANT_RESOURCE",
                f"The {len(redundant)} resource ARN(s) are redundant because they reference the "
                "same resource. Review the use of wildcards (*)",
                *(entry.spot for entry in redundant),
            )

    def redundant_statements(self, statements: Sequence[StatementView]) -> None:
        seen: list[object] = []
        for statement in statements:
            shape = {key: value for key, value in _plain(statement).items() if key != "Sid"}
            if shape in seen:
                self.report(
                    SUGGESTION,
                    "REDUNDANT_STATEMENT",
                    "The statements are redundant because they provide identical permissions. "
                    "Update the policy to remove the redundant statement.",
                    Spot(statement.path, statement.node),
                )
            else:
                seen.append(shape)


def _plain(statement: StatementView) -> dict[str, object]:
    value = plain(statement.node)
    assert isinstance(value, dict)
    return value


def check_practices(
    statements: Sequence[StatementView],
    sink: FindingSink,
    policy_type: PolicyType,
    resource_type: str | None,
) -> None:
    """Security warnings, resource-type fit and redundancy suggestions into `sink`."""
    checker = _Checker(sink, policy_type, resource_type)
    for statement in statements:
        if policy_type not in (PolicyType.SCP, PolicyType.RCP):
            for action in _GRANTS:
                checker.grant(statement, action)
        if policy_type is PolicyType.RESOURCE:
            checker.federated(statement)
            checker.web_identity(statement)
            checker.service_principal(statement)
            checker.trust_principal(statement)
            checker.resource_type_fit(statement)
        checker.rcp_allow(statement)
        if statement.actions:
            checker.redundant_actions(statement.actions)
        if statement.resources:
            checker.redundant_resources(statement.resources)
    checker.redundant_statements(statements)
