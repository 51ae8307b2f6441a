"""The request side of an authorization question: who asks, to do what, on which resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from .patterns import Context

__all__ = [
    "ContextValue",
    "Principal",
    "PrincipalType",
    "Request",
    "account_of_arn",
    "normalize_context",
]

ContextValue = str | bool | int | float | Sequence[str | bool | int | float]

_ACCOUNT_DIGITS: Final = 12


class PrincipalType(Enum):
    USER = "User"
    ASSUMED_ROLE = "AssumedRole"
    ACCOUNT = "Account"
    FEDERATED_USER = "FederatedUser"
    SERVICE = "Service"
    ANONYMOUS = "Anonymous"


def account_of_arn(arn: str) -> str | None:
    """The 12-digit account field of an ARN, or None when it has none."""
    fields = arn.split(":", 5)
    if len(fields) == 6 and len(fields[4]) == _ACCOUNT_DIGITS and fields[4].isdigit():
        return fields[4]
    return None


def _as_text(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalize_context(context: Mapping[str, ContextValue]) -> dict[str, tuple[str, ...]]:
    """Lowercase keys, turn every value into a tuple of strings, drop empty lists."""
    normalized: dict[str, tuple[str, ...]] = {}
    for key, value in context.items():
        if type(value) is str:  # the common case first: isinstance on a union is slower
            normalized[key.lower()] = (value,)
        elif isinstance(value, str | bool | int | float):
            normalized[key.lower()] = (_as_text(value),)
        else:
            values = tuple(_as_text(item) for item in value)
            if values:
                normalized[key.lower()] = values
    return normalized


@dataclass(frozen=True, slots=True, init=False)
class Principal:
    """The authenticated caller, with the identities it can be matched by.

    `identities` are the strings a Principal element can name to match it, each with the
    strength of that match: a user is (its ARN, its unique id, its account); a role session is
    (its session ARN, the role ARN, the role's unique id, its account); root is its account.
    """

    arn: str
    type: PrincipalType
    account: str | None
    role_arn: str | None
    unique_id: str | None
    tags: Mapping[str, str]
    is_root: bool
    direct_identities: frozenset[str]
    role_identities: frozenset[str]
    global_context: Mapping[str, tuple[str, ...]]

    def __init__(
        self,
        arn: str,
        *,
        role_arn: str | None = None,
        unique_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        set_ = object.__setattr__
        principal_type, account, name = _classify(arn)
        tags = dict(tags or {})
        direct: set[str] = set()
        roles: set[str] = set()
        context: dict[str, tuple[str, ...]] = {}
        if principal_type is PrincipalType.ASSUMED_ROLE and account is not None:
            role_name, _, session = name.partition("/")
            if role_arn is None:
                role_arn = f"arn:aws:iam::{account}:role/{role_name}"
            direct.add(arn)
            roles.add(role_arn)
            if unique_id:
                role_id = unique_id.partition(":")[0]
                roles.add(role_id)
                userid = unique_id if ":" in unique_id else f"{unique_id}:{session}"
                context["aws:userid"] = (userid,)
            context["aws:principalarn"] = (role_arn,)
        elif principal_type is PrincipalType.USER:
            direct.add(arn)
            if unique_id:
                direct.add(unique_id)
                context["aws:userid"] = (unique_id,)
            context["aws:principalarn"] = (arn,)
            context["aws:username"] = (name.rsplit("/", 1)[-1],)
        elif principal_type is PrincipalType.ACCOUNT and account is not None:
            context["aws:principalarn"] = (arn,)
            context["aws:userid"] = (account,)
        elif principal_type is PrincipalType.FEDERATED_USER and account is not None:
            direct.add(arn)
            context["aws:principalarn"] = (arn,)
            context["aws:userid"] = (f"{account}:{name}",)
        elif principal_type is PrincipalType.SERVICE:
            direct.add(arn)
        else:
            context["aws:userid"] = ("anonymous",)
        if account is not None:
            context["aws:principalaccount"] = (account,)
        context["aws:principaltype"] = (principal_type.value,)
        for tag_key, tag_value in tags.items():
            context[f"aws:principaltag/{tag_key.lower()}"] = (tag_value,)
        set_(self, "arn", arn)
        set_(self, "type", principal_type)
        set_(self, "account", account)
        set_(self, "role_arn", role_arn)
        set_(self, "unique_id", unique_id)
        set_(self, "tags", tags)
        set_(self, "is_root", principal_type is PrincipalType.ACCOUNT)
        set_(self, "direct_identities", frozenset(direct))
        set_(self, "role_identities", frozenset(roles))
        set_(self, "global_context", context)


def _classify(arn: str) -> tuple[PrincipalType, str | None, str]:
    """(type, account, resource part) of a principal ARN."""
    if arn in ("*", "anonymous", ""):
        return PrincipalType.ANONYMOUS, None, ""
    fields = arn.split(":", 5)
    if len(fields) != 6 or fields[0] != "arn":
        return PrincipalType.SERVICE, None, arn
    service, account, resource = fields[2], fields[4], fields[5]
    if service == "iam" and resource == "root":
        return PrincipalType.ACCOUNT, account, ""
    if service == "iam" and resource.startswith("user/"):
        return PrincipalType.USER, account, resource[len("user/") :]
    if service == "sts" and resource.startswith("assumed-role/"):
        return PrincipalType.ASSUMED_ROLE, account, resource[len("assumed-role/") :]
    if service == "sts" and resource.startswith("federated-user/"):
        return PrincipalType.FEDERATED_USER, account, resource[len("federated-user/") :]
    return PrincipalType.SERVICE, account, resource


class Request:
    """One authorization question. `context` keys are case-insensitive.

    Immutable by convention; a plain slotted class because one is built per API call and a
    frozen dataclass costs several times more to construct.
    """

    __slots__ = (
        "action",
        "action_key",
        "context",
        "evaluation_context",
        "owner_account",
        "principal",
        "resource",
        "resource_account",
        "same_account",
    )

    def __init__(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Mapping[str, ContextValue] | None = None,
        resource_account: str | None = None,
    ) -> None:
        self.principal = principal
        self.action = action
        self.resource = resource
        self.context: Mapping[str, ContextValue] = context if context is not None else {}
        self.resource_account = resource_account
        self.action_key = action.lower()
        owner = resource_account or account_of_arn(resource) or principal.account
        self.owner_account = owner
        account = principal.account
        self.same_account = account is not None and account == owner
        merged = dict(principal.global_context)
        if owner is not None:
            merged["aws:resourceaccount"] = (owner,)
        if self.context:
            merged.update(normalize_context(self.context))
        self.evaluation_context: Context = merged

    def __repr__(self) -> str:
        return (
            f"Request(principal={self.principal.arn!r}, action={self.action!r}, "
            f"resource={self.resource!r})"
        )
