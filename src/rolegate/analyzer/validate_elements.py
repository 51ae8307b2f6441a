"""ValidatePolicy checks of element values against the Service Authorization Reference.

Actions (does the service / action exist), resource ARNs (prefix, fields, the service's
resource types), principals (wildcards, unique ids) and condition keys (does the key exist,
does it apply to the statement's actions, does the operator fit its type, do the values fit
the operator).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Sequence
from functools import cache
from typing import Final

from ..policy.conditions import SetQualifier, parse_epoch
from ..policy.located import LocatedScalar
from . import validate_catalog as catalog
from .validate_findings import ERROR, SECURITY_WARNING, SUGGESTION, WARNING, FindingSink, Spot
from .validate_structure import ConditionEntry, Entry, PolicyType, StatementView

__all__ = ["check_elements", "globs_intersect"]

_ACCOUNT: Final = re.compile(r"^\d{12}$")
_UNIQUE_ID: Final = re.compile(r"^A[A-Z0-9]{15,127}$")
_KEY_FORMAT: Final = re.compile(r"^[^:\s]+:\S+$")
_VARIABLE: Final = re.compile(r"\$\{[^}]*\}")
_TAG_KEYS: Final = ("aws:RequestTag", "aws:ResourceTag", "aws:PrincipalTag")
# Private address space (RFC 1918, RFC 4193): requests from it never reach AWS with that source.
_PRIVATE_NETWORKS: Final = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
# Operator families each key type takes (the Service Authorization Reference's types).
_FAMILIES: Final = {
    "String": ("String",),
    "ARN": ("Arn", "String"),
    "Bool": ("Bool",),
    "Numeric": ("Numeric",),
    "Date": ("Date",),
    "IPAddress": ("Ip",),
    "Binary": ("Binary",),
}
# Numeric operators whose several values reduce to one (the value that admits the most).
_ORDERINGS: Final = {
    "NumericLessThan": "greatest",
    "NumericLessThanEquals": "greatest",
    "NumericGreaterThan": "least",
    "NumericGreaterThanEquals": "least",
}
_OPERATOR_TYPE: Final = {
    "String": "String",
    "Arn": "Arn",
    "Bool": "Bool",
    "Numeric": "Numeric",
    "Date": "Date",
    "Ip": "IpAddress",
    "Binary": "Binary",
}


def globs_intersect(left: str, right: str) -> bool:
    """Whether some string matches both `*` / `?` patterns (a search over position pairs)."""
    pending = [(0, 0)]
    seen = {(0, 0)}
    while pending:
        i, j = pending.pop()
        if i == len(left) and j == len(right):
            return True
        steps: list[tuple[int, int]] = []
        if i < len(left) and left[i] == "*":
            steps.append((i + 1, j))
            if j < len(right):
                steps.append((i, j + 1))
        elif j < len(right) and right[j] == "*":
            steps.append((i, j + 1))
            if i < len(left):
                steps.append((i + 1, j))
        elif (
            i < len(left) and j < len(right) and (left[i] == right[j] or "?" in (left[i], right[j]))
        ):
            steps.append((i + 1, j + 1))
        for step in steps:
            if step not in seen:
                seen.add(step)
                pending.append(step)
    return False


def _without_variables(text: str) -> str:
    return _VARIABLE.sub("*", text)


@cache
def _close_match(word: str, choices: tuple[str, ...]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.8)
    return found[0] if found else None


class _Checker:
    def __init__(self, sink: FindingSink, policy_type: PolicyType) -> None:
        self.sink = sink
        self.policy_type = policy_type

    def report(self, finding_type: str, code: str, details: str, *spots: Spot) -> None:
        self.sink.add(finding_type, code, details, spots)

    # ------------------------------------------------------------------ actions

    def actions(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self.action(entry)

    def action(self, entry: Entry) -> None:
        text = entry.text
        if text == "*":
            return
        prefix, colon, name = text.partition(":")
        if not colon or not prefix or not name:
            self.report(ERROR, "INVALID_ACTION", f"The action {text} does not exist.", entry.spot)
            return
        if "*" in prefix or "?" in prefix:
            self.report(
                SUGGESTION,
                "WILDCARD_IN_SERVICE_NAME",
                "Avoid using wildcards (*, ?) in the service name because it might grant "
                "unintended access to other AWS services with similar names.",
                entry.spot,
            )
            return
        if self.policy_type is PolicyType.SCP and "*" in name[:-1]:
            self.report(
                ERROR,
                "SCP_SYNTAX_ERROR_ACTION_WILDCARD",
                "SCP actions can include wildcards (*) only at the end of a string. "
                f"Update {text}.",
                entry.spot,
            )
        service = catalog.service(prefix)
        if service is None:
            suggestion = _close_match(prefix.lower(), tuple(sorted(catalog.service_prefixes())))
            hint = f" Did you mean {suggestion}?" if suggestion else ""
            self.report(
                ERROR,
                "INVALID_SERVICE_IN_ACTION",
                f"The service {prefix} specified in the action does not exist.{hint}",
                entry.spot,
            )
            return
        if service.matching(name):
            return
        names = tuple(info.name for info in service.actions.values())
        suggestion = None
        if "*" not in name and "?" not in name:
            by_lower = {candidate.lower(): candidate for candidate in names}
            close = _close_match(name.lower(), tuple(sorted(by_lower)))
            suggestion = by_lower[close] if close else None
        hint = f" Did you mean {service.prefix}:{suggestion}?" if suggestion else ""
        self.report(ERROR, "INVALID_ACTION", f"The action {text} does not exist.{hint}", entry.spot)

    # ---------------------------------------------------------------- resources

    def resources(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self.resource(entry)

    def resource(self, entry: Entry) -> None:
        text = entry.text
        if text == "*":
            return
        if not text.startswith("arn:"):
            self.report(
                ERROR,
                "INVALID_ARN_PREFIX",
                "Add the required prefix (arn) to the resource ARN.",
                entry.spot,
            )
            return
        fields = text.split(":", 5)
        if len(fields) < 6:
            if not text.endswith("*"):
                self.report(
                    ERROR,
                    "MISSING_ARN_FIELD",
                    "Resource ARNs must include at least 6 fields in the following structure: "
                    "arn:partition:service:region:account:resource",
                    entry.spot,
                )
            return
        _, _, arn_service, region, account, resource = fields
        if "*" in arn_service or "?" in arn_service:
            self.report(
                SUGGESTION,
                "WILDCARD_IN_SERVICE_NAME",
                "Avoid using wildcards (*, ?) in the service name because it might grant "
                "unintended access to other AWS services with similar names.",
                entry.spot,
            )
            return
        if arn_service != arn_service.lower():
            self.report(
                ERROR,
                "INVALID_ARN_SERVICE_CASE",
                f"Update the service name {arn_service} in the resource ARN to use all lowercase "
                "letters.",
                entry.spot,
            )
            return
        literal_account = not any(mark in account for mark in ("*", "?", "${"))
        if account and account != "aws" and literal_account and not _ACCOUNT.match(account):
            self.report(
                ERROR,
                "INVALID_ARN_ACCOUNT",
                f"The resource ARN account ID {account} is not valid. Provide a 12-digit "
                "account ID.",
                entry.spot,
            )
            return
        self.resource_type(entry, arn_service, region, account, _without_variables(resource))

    def resource_type(
        self, entry: Entry, arn_service: str, region: str, account: str, resource: str
    ) -> None:
        candidates = _candidates(arn_service, resource, everywhere=False)
        if candidates is None:
            return
        if not candidates:
            candidates = _candidates(arn_service, resource, everywhere=True) or []
        if not candidates:
            self.report(
                ERROR,
                "INVALID_ARN_RESOURCE",
                "Resource ARN does not match the expected ARN format. Update the resource portion "
                "of the ARN.",
                entry.spot,
            )
            return
        wild = {"*", ""}
        if region and region not in wild and all(not template[3] for template in candidates):
            self.report(
                ERROR,
                "ARN_REGION_NOT_ALLOWED",
                f"The service {arn_service} does not support specifying a Region in the resource "
                "ARN.",
                entry.spot,
            )
        elif account and account not in wild and all(not template[4] for template in candidates):
            self.report(
                ERROR,
                "ARN_ACCOUNT_NOT_ALLOWED",
                f"The service {arn_service} does not support specifying an account ID in the "
                "resource ARN.",
                entry.spot,
            )

    # --------------------------------------------------------------- principals

    def principal_entries(self, statement: StatementView) -> None:
        for view in (statement.principal, statement.not_principal):
            if view is None:
                continue
            for key, entries in view.entries.items():
                for entry in entries:
                    self.principal_entry(key, entry)

    def principal_entry(self, key: str, entry: Entry) -> None:
        text = entry.text
        if key == "AWS" and text == "*":
            return
        if "*" in text or "?" in text:
            self.report(
                ERROR,
                "UNSUPPORTED_WILDCARD_IN_PRINCIPAL",
                f"Wildcards (*, ?) are not supported with the principal key {key}. Replace the "
                "wildcard with a valid principal value.",
                entry.spot,
            )
            return
        if key == "AWS" and _UNIQUE_ID.match(text):
            kind, code = (
                ("role", "INVALID_ROLE_REFERENCE")
                if text.startswith("AROA")
                else ("user", "INVALID_USER_REFERENCE")
            )
            if text.startswith(("AROA", "AIDA")):
                self.report(
                    WARNING,
                    code,
                    f"The Principal element includes the IAM {kind} ID {text}. We recommend "
                    f"that you use a {kind} ARN instead.",
                    entry.spot,
                )

    # --------------------------------------------------------------- conditions

    def conditions(self, statement: StatementView) -> None:
        self.paired_keys(statement)
        for condition in statement.conditions:
            info = self.condition_key(condition)
            self.condition_values(condition)
            if info is None:
                continue
            self.operator_fits(condition, info)
            key = condition.key.lower()
            if key.startswith("aws:resourcetag/"):
                self.resource_tag(statement, condition)
            elif statement.actions and (
                not key.startswith("aws:")
                or key.startswith("aws:requesttag/")
                or key == "aws:tagkeys"
            ):
                self.key_applies(condition, statement.actions)

    def condition_key(self, condition: ConditionEntry) -> catalog.ConditionKeyInfo | None:
        key, spot = condition.key, condition.spot
        if not _KEY_FORMAT.match(key):
            self.report(
                ERROR,
                "INVALID_CONDITION_KEY_FORMAT",
                "The condition key format is not valid. Use the format service:keyname.",
                spot,
            )
            return None
        for tag_key in _TAG_KEYS:
            if key.lower() in (tag_key.lower(), tag_key.lower() + "/"):
                self.report(
                    ERROR,
                    "MISSING_TAG_KEY_IN_CONDITION",
                    f"The condition key {tag_key}/ must include a tag key to control access "
                    f"based on tags. Use the format {tag_key}/tag-key and specify a key name for "
                    "tag-key.",
                    spot,
                )
                return None
        info = catalog.condition_key(key)
        if info is not None:
            return info
        prefix = key.split(":", 1)[0]
        if prefix.lower() == "aws":
            if key.lower() == "aws:arn":
                self.report(
                    ERROR,
                    "UNSUPPORTED_GLOBAL_CONDITION_KEY",
                    "The condition key aws:ARN is not supported. Use aws:PrincipalArn or "
                    "aws:SourceArn instead.",
                    spot,
                )
            else:
                self.report(
                    ERROR,
                    "INVALID_GLOBAL_CONDITION_KEY",
                    f"The condition key {key} does not exist. Use a valid condition key.",
                    spot,
                )
        elif catalog.condition_key_prefix_known(prefix):
            self.report(
                ERROR,
                "INVALID_SERVICE_CONDITION_KEY",
                f"The condition key {key} does not exist in the service {prefix}. Use a valid "
                "condition key.",
                spot,
            )
        else:
            self.report(
                ERROR,
                "INVALID_SERVICE",
                f"The service {prefix} does not exist. Use a valid service name.",
                spot,
            )
        return None

    def operator_fits(self, condition: ConditionEntry, info: catalog.ConditionKeyInfo) -> None:
        spec = condition.spec
        if spec.family == "Null":
            return
        allowed = _FAMILIES.get(info.base_type, ("String",))
        if info.name == "aws:EpochTime":
            allowed = ("Date", "Numeric")
        if spec.family not in allowed:
            self.report(
                WARNING,
                "TYPE_MISMATCH",
                f"Use the operator type {_OPERATOR_TYPE[allowed[0]]} instead of operator "
                f"{condition.operator} for the condition key {condition.key}.",
                condition.spot,
            )
        elif info.base_type == "ARN" and spec.family == "String" and spec.base.endswith("Like"):
            self.report(
                SECURITY_WARNING,
                "STRING_LIKE_OPERATOR_WITH_ARN_CONDITION_KEYS",
                f"Use the operator type {_OPERATOR_TYPE['Arn']} instead of operator "
                f"{condition.operator} for the condition key {condition.key}.",
                condition.spot,
            )
        if info.multivalued and spec.qualifier is SetQualifier.NONE:
            self.report(
                ERROR,
                "MISSING_QUALIFIER",
                f"The request context key {condition.key} has multiple values. Use the "
                "ForAllValues or ForAnyValue condition key qualifiers in your policy.",
                condition.spot,
            )
        elif not info.multivalued and spec.qualifier is SetQualifier.FOR_ALL_VALUES:
            self.report(
                SECURITY_WARNING,
                "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
                f"Using ForAllValues qualifier with the single-valued condition key "
                f"{condition.key} can be overly permissive. We recommend that you remove "
                "ForAllValues:.",
                condition.spot,
            )

    def condition_values(self, condition: ConditionEntry) -> None:
        spec = condition.spec
        family = spec.family
        texts = [_scalar_text(value) for value in condition.values]
        if any(_VARIABLE.search(text) for text in texts):
            if family not in ("String", "Arn"):
                self.report(
                    ERROR,
                    "INVALID_VARIABLE_FOR_OPERATOR",
                    "Policy variables can only be used with String and ARN operators.",
                    condition.spot,
                )
            return
        if family == "String" and not spec.base.endswith("Like"):
            if any("*" in text or "?" in text for text in texts):
                self.report(
                    WARNING,
                    "WILDCARD_WITHOUT_LIKE_OPERATOR",
                    "Your condition value includes a * or ? character. If you meant to use a "
                    "wildcard (*, ?), update the condition operator to include Like.",
                    condition.spot,
                )
        elif family == "Date" and any(parse_epoch(text) is None for text in texts):
            self.report(
                WARNING,
                "TYPE_MISMATCH_DATE",
                "The date condition operator is used with an invalid value. Specify a valid date "
                "using YYYY-MM-DD or other ISO 8601 date/time format.",
                condition.spot,
            )
        elif family == "Date" and any(text.isdigit() for text in texts):
            epoch = next(text for text in texts if text.isdigit())
            self.report(
                WARNING,
                "INVALID_DATE_VALUE",
                f"The date {epoch} might not resolve as expected. We recommend that you use the "
                "YYYY-MM-DD format.",
                condition.spot,
            )
        elif family == "Numeric" and any(not _is_number(text) for text in texts):
            self.report(
                WARNING,
                "TYPE_MISMATCH_NUMBER",
                f"Add a valid numeric value for the condition operator {condition.operator}.",
                condition.spot,
            )
        elif family == "Numeric" and len(texts) > 1 and spec.base in _ORDERINGS:
            bound = _ORDERINGS[spec.base]
            self.report(
                SUGGESTION,
                "REDUNDANT_CONDITION_VALUE_NUM",
                f"Multiple values in {condition.operator} are redundant. Replace with the "
                f"{bound} single value for {condition.key}.",
                condition.spot,
            )
        elif family in ("Bool", "Null") and any(
            text.lower() not in ("true", "false") for text in texts
        ):
            self.report(
                WARNING,
                "TYPE_MISMATCH_BOOLEAN",
                "Add a valid Boolean value (true or false) for the condition operator "
                f"{condition.operator}.",
                condition.spot,
            )
        elif family == "Ip":
            self.ip_values(condition, texts)
        if family == "String" and not any("*" in text or "?" in text for text in texts):
            self.vpc_values(condition, texts)

    def vpc_values(self, condition: ConditionEntry, texts: list[str]) -> None:
        key = condition.key.lower()
        for name, prefix in (("aws:sourcevpc", "vpc"), ("aws:sourcevpce", "vpce")):
            if key == name and not all(_vpc_id(prefix, text) for text in texts):
                upper = prefix.upper()
                self.report(
                    ERROR,
                    f"INVALID_{upper}_FORMAT",
                    f"The {upper} identifier in the condition key value is not valid."
                    + ("  " if prefix == "vpce" else " ")
                    + f"Use the prefix '{prefix}-' followed by 8 or 17 alphanumeric characters.",
                    condition.spot,
                )

    def paired_keys(self, statement: StatementView) -> None:
        keys = {condition.key.lower(): condition for condition in statement.conditions}
        source_ip = keys.get("aws:vpcsourceip")
        if source_ip is not None and "aws:sourcevpc" not in keys:
            self.report(
                SECURITY_WARNING,
                "MISSING_PAIRED_CONDITION_KEYS",
                f"Using the condition key {source_ip.key} can be overly permissive without also "
                "using the following condition keys: aws:SourceVpc. Condition keys like this one "
                "are more secure when paired with a related key. We recommend that you add the "
                "related condition keys to the same condition block.",
                source_ip.spot,
            )

    def ip_values(self, condition: ConditionEntry, texts: list[str]) -> None:
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for text in texts:
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                self.report(
                    ERROR,
                    "TYPE_MISMATCH_IP_RANGE",
                    f"The condition operator {condition.operator} is used with an invalid IP "
                    "range value. Specify the IP range in standard CIDR format.",
                    condition.spot,
                )
                return
        for text, network in zip(texts, networks, strict=True):
            try:
                ipaddress.ip_network(text)
            except ValueError:  # host bits set after the mask
                self.report(
                    SUGGESTION,
                    "IMPROVE_IP_RANGE",
                    "The non-zero bits in the IP address after the masked bits are ignored. "
                    f"Replace address with {network}.",
                    condition.spot,
                )
        if condition.key.lower() != "aws:sourceip":
            return
        private = [_is_private(network) for network in networks]
        negated = condition.spec.negated
        if all(private):
            code = "PRIVATE_NOT_IP_ADDRESS" if negated else "PRIVATE_IP_ADDRESS"
            details = (
                "The values for condition key aws:SourceIp include only private IP addresses and "
                "has no effect. aws:SourceIp works only for public IP address ranges. Update the "
                "value to include only public IP addresses."
                if negated
                else "aws:SourceIp works only for public IP address ranges. The values for "
                "condition key aws:SourceIp include only private IP addresses and will not have "
                "the desired effect. Update the value to include only public IP addresses."
            )
            self.report(ERROR, code, details, condition.spot)
        elif any(private):
            effect = "have no effect" if negated else "will not have the desired effect"
            self.report(
                SUGGESTION,
                "PRIVATE_NOT_IP_ADDRESS_SUBSET" if negated else "PRIVATE_IP_ADDRESS_SUBSET",
                "The values for condition key aws:SourceIp include a mix of private and public IP "
                f"addresses. The private addresses {effect}. aws:SourceIp works only for public "
                "IP address ranges. To define permissions for private IP ranges, use "
                "aws:VpcSourceIp.",
                condition.spot,
            )

    def resource_tag(self, statement: StatementView, condition: ConditionEntry) -> None:
        """`aws:ResourceTag/...` on actions of services whose resources have no such key."""
        key, allows = condition.key, statement.allows
        if statement.not_actions is not None and statement.effect is not None:
            self.report(
                SUGGESTION if allows else SECURITY_WARNING,
                f"{statement.effect.upper()}_NOTACTION_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
                f"Using the effect {statement.effect} with NotAction and the tag condition key "
                f"{key} "
                + (
                    "allows only service actions that support the condition key. The condition "
                    "key doesn't apply to some service actions."
                    if allows
                    else "can be overly permissive because some service actions are not denied "
                    "by this statement. This is because the condition key doesn't apply to some "
                    "service actions."
                )
                + " We recommend that you use Action instead of NotAction.",
                condition.spot,
            )
            return
        unsupported = _unsupported(statement.actions or (), key)
        if not unsupported or statement.effect is None:
            return
        prefixes = ", ".join(dict.fromkeys(entry.text.partition(":")[0] for entry in unsupported))
        consequence = "does not affect the policy" if allows else "can be overly permissive"
        outcome = (
            "Actions for the listed service are not allowed"
            if allows
            else ("Actions for the listed services are not denied")
        )
        self.report(
            SUGGESTION if allows else SECURITY_WARNING,
            f"{statement.effect.upper()}_WITH_UNSUPPORTED_TAG_CONDITION_KEY_FOR_SERVICE",
            f"Using the effect {statement.effect} with the tag condition key {key} and actions "
            f"for services with the following prefixes {consequence}: {prefixes}. {outcome} by "
            "this statement. We recommend that you move these actions to a different statement "
            "without this condition key.",
            *(entry.spot for entry in unsupported),
            condition.spot,
        )

    def key_applies(self, condition: ConditionEntry, actions: Sequence[Entry]) -> None:
        unsupported = _unsupported(actions, condition.key)
        if unsupported:
            names = ", ".join(entry.text for entry in unsupported)
            self.report(
                ERROR,
                "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
                f"The following actions: {names} are not supported by the condition key "
                f"{condition.key}. The condition will not be evaluated for these actions. We "
                "recommend that you move these actions to a different statement without this "
                "condition key.",
                *(entry.spot for entry in unsupported),
                condition.spot,
            )


def _unsupported(actions: Sequence[Entry], key: str) -> list[Entry]:
    """The listed actions the reference does not give `key` (wildcard actions are skipped)."""
    unsupported: list[Entry] = []
    for entry in actions:
        prefix, _, name = entry.text.partition(":")
        if "*" in entry.text or "?" in entry.text:
            continue  # AWS does not evaluate wildcard actions for these checks
        service = catalog.service(prefix)
        action = service.action(name) if service else None
        if service and action and not service.supports_key(action, key):
            unsupported.append(entry)
    return unsupported


def _candidates(arn_service: str, resource: str, *, everywhere: bool) -> list[list[str]] | None:
    """The ARN templates (split in fields) whose resource part can match `resource`."""
    known = catalog.resource_types_for_arn_service(arn_service, everywhere=everywhere)
    if known is None:
        return None
    candidates = []
    for info in known:
        template = info.arn_glob.split(":", 5)
        if len(template) == 6 and globs_intersect(resource, template[5]):
            candidates.append(template)
    return candidates


def _vpc_id(prefix: str, text: str) -> bool:
    """`vpc-` / `vpce-` then 8 or 17 alphanumeric characters."""
    identifier = text.removeprefix(prefix + "-")
    return identifier != text and len(identifier) in (8, 17) and identifier.isalnum()


def _is_private(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return any(
        network.version == private.version and network.subnet_of(private)  # type: ignore[arg-type]
        for private in _PRIVATE_NETWORKS
    )


def _scalar_text(value: LocatedScalar) -> str:
    if isinstance(value.value, bool):
        return "true" if value.value else "false"
    return str(value.value)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", text) is not None


def check_elements(
    statements: Sequence[StatementView], sink: FindingSink, policy_type: PolicyType
) -> None:
    """Check every statement's actions, resources, principals and conditions into `sink`."""
    checker = _Checker(sink, policy_type)
    for statement in statements:
        checker.actions(statement.actions or ())
        checker.actions(statement.not_actions or ())
        checker.resources(statement.resources or ())
        checker.resources(statement.not_resources or ())
        checker.principal_entries(statement)
        checker.conditions(statement)
