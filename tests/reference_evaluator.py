"""A deliberately naive reference evaluator for corpus cases (test-only oracle).

It re-reads the JSON documents on every call and follows docs/policy-semantics.md line by line,
trading speed for being easy to check by eye. `reference_decide(case)` returns "Allow",
"ExplicitDeny" or "ImplicitDeny".
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"

ASSUME_ROLE_ACTIONS = ("sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity")
NEGATED_OPERATORS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
VARIABLE_OPERATOR_PREFIXES = ("String", "Arn", "Bool")
DIGITS = "0123456789"

# A pattern is a list of tokens: ("char", c) is a literal character, ("any", "") is `*`,
# ("one", "") is `?`.
Token = tuple[str, str]
Context = dict[str, str | list[str]]


@dataclass
class Caller:
    kind: str  # user, session, root, federated, service, anonymous, other
    arn: str
    account: str | None = None
    name: str | None = None
    unique_id: str | None = None  # AIDA... for users, AROA... (no session part) for sessions
    role_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- wildcard matching


def glob_match(pattern: list[Token], text: str) -> bool:
    if not pattern:
        return text == ""
    kind, char = pattern[0]
    if kind == "any":
        return any(glob_match(pattern[1:], text[skip:]) for skip in range(len(text) + 1))
    if text == "":
        return False
    if kind == "one":
        return glob_match(pattern[1:], text[1:])
    return text[0] == char and glob_match(pattern[1:], text[1:])


def plain_tokens(text: str, wildcards: bool) -> list[Token]:
    tokens: list[Token] = []
    for char in text:
        if wildcards and char == "*":
            tokens.append(("any", ""))
        elif wildcards and char == "?":
            tokens.append(("one", ""))
        else:
            tokens.append(("char", char))
    return tokens


def tokens_text(tokens: list[Token]) -> str:
    return "".join(char for kind, char in tokens if kind == "char")


def lowered(tokens: list[Token]) -> list[Token]:
    return [(kind, char.lower()) for kind, char in tokens]


# ---------------------------------------------------------------- policy variables


def expand(text: str, variables: bool, context: Context, wildcards: bool) -> list[Token] | None:
    """Turn a policy string into tokens; None when a variable cannot be resolved.

    Text substituted from a variable (or a default, or an escape) is always literal.
    """
    if not variables:
        return plain_tokens(text, wildcards)
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        start = text.find("${", position)
        end = text.find("}", start + 2) if start >= 0 else -1
        if start < 0 or end < 0:
            tokens += plain_tokens(text[position:], wildcards)
            break
        tokens += plain_tokens(text[position:start], wildcards)
        value = variable_value(text[start + 2 : end], context)
        if value is None:
            return None
        tokens += plain_tokens(value, wildcards=False)
        position = end + 1
    return tokens


def variable_value(inner: str, context: Context) -> str | None:
    if inner in ("*", "?", "$"):
        return inner
    key, comma, default_text = inner.partition(",")
    default: str | None = None
    if comma:
        default = default_text.strip()
        if len(default) >= 2 and default[0] == "'" and default[-1] == "'":
            default = default[1:-1]
    value = lookup(context, key.strip())
    if value is None:
        return default
    if isinstance(value, list):
        # multivalued keys cannot be substituted; a list of one value is that value
        return value[0] if len(value) == 1 else None
    return value


# ---------------------------------------------------------------- request and context


def as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def lookup(context: Context, key: str) -> str | list[str] | None:
    """The request value of a key (case-insensitive); None when absent or an empty list."""
    value = context.get(key.lower())
    if value == []:
        return None
    return value


def describe_caller(principal: dict[str, Any]) -> Caller:
    arn = principal["arn"]
    tags = {key: as_string(value) for key, value in principal.get("tags", {}).items()}
    given_id = principal.get("id")
    if arn in ("*", "anonymous"):
        return Caller("anonymous", arn)
    if not arn.startswith("arn:"):
        return Caller("service", arn)
    parts = arn.split(":", 5)
    service, account, resource = parts[2], parts[4], parts[5]
    if service == "iam" and resource == "root":
        return Caller("root", arn, account)
    if service == "iam" and resource.startswith("user/"):
        name = resource.rsplit("/", 1)[1]
        return Caller("user", arn, account, name, given_id, tags=tags)
    if service == "sts" and resource.startswith("assumed-role/"):
        _, role_name, session_name = resource.split("/", 2)
        role_arn = principal.get("role_arn") or f"arn:aws:iam::{account}:role/{role_name}"
        role_id = given_id.split(":", 1)[0] if given_id else None
        return Caller("session", arn, account, session_name, role_id, role_arn, tags)
    if service == "sts" and resource.startswith("federated-user/"):
        return Caller("federated", arn, account, resource.split("/", 1)[1])
    return Caller("other", arn, account, unique_id=given_id)


PRINCIPAL_TYPES = {
    "user": "User",
    "session": "AssumedRole",
    "root": "Account",
    "federated": "FederatedUser",
    "anonymous": "Anonymous",
}


def derived_keys(caller: Caller, given_id: str | None) -> Context:
    """The principal-derived global keys (the table in docs/policy-semantics.md)."""
    keys: Context = {}
    kind, account = caller.kind, caller.account
    if kind in PRINCIPAL_TYPES:
        keys["aws:PrincipalType"] = PRINCIPAL_TYPES[kind]
    if kind in ("user", "root", "federated"):
        keys["aws:PrincipalArn"] = caller.arn
    if kind == "session" and caller.role_arn is not None:
        keys["aws:PrincipalArn"] = caller.role_arn
    if kind != "anonymous" and account is not None:
        keys["aws:PrincipalAccount"] = account
    if kind == "user" and given_id:
        keys["aws:userid"] = given_id
    if kind == "session" and given_id:
        keys["aws:userid"] = given_id if ":" in given_id else f"{given_id}:{caller.name}"
    if kind == "root" and account is not None:
        keys["aws:userid"] = account
    if kind == "federated":
        keys["aws:userid"] = f"{account}:{caller.name}"
    if kind == "anonymous":
        keys["aws:userid"] = "anonymous"
    if kind == "user" and caller.name is not None:
        keys["aws:username"] = caller.name
    if kind in ("user", "session"):
        for tag_key, tag_value in caller.tags.items():
            keys[f"aws:PrincipalTag/{tag_key}"] = tag_value
    return keys


def resource_account_of(case: dict[str, Any], caller: Caller) -> str | None:
    if case.get("resource_account"):
        return str(case["resource_account"])
    resource: str = case["resource"]
    parts = resource.split(":")
    if len(parts) >= 6 and len(parts[4]) == 12 and all(c in DIGITS for c in parts[4]):
        return parts[4]
    return caller.account


def build_context(case: dict[str, Any], caller: Caller, resource_account: str | None) -> Context:
    context: Context = {}
    for key, value in case.get("context", {}).items():
        if isinstance(value, list):
            context[key.lower()] = [as_string(item) for item in value]
        elif value is not None:
            context[key.lower()] = as_string(value)
    derived = derived_keys(caller, case["principal"].get("id"))
    if resource_account is not None:
        derived["aws:ResourceAccount"] = resource_account
    for key, value in derived.items():
        if key.lower() not in context:
            context[key.lower()] = value
    return context


@dataclass
class Request:
    caller: Caller
    action: str
    resource: str
    context: Context


# ---------------------------------------------------------------- conditions


def parse_number(text: str) -> Decimal | None:
    body = text[1:] if text.startswith(("+", "-")) else text
    whole, _, fraction = body.partition(".")
    if not (whole or fraction) or not all(c in DIGITS for c in whole + fraction):
        return None
    return Decimal(text)


def parse_date(text: str) -> datetime | None:
    if text and all(c in DIGITS for c in text):
        try:
            return datetime.fromtimestamp(int(text), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def decode_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def arn_fields_match(pattern: list[Token], value: str) -> bool:
    fields: list[list[Token]] = [[]]
    for token in pattern:
        if token == ("char", ":") and len(fields) < 6:
            fields.append([])
        else:
            fields[-1].append(token)
    value_fields = value.split(":", 5)
    if len(fields) < 6 or len(value_fields) < 6:
        return False
    return all(glob_match(p, v) for p, v in zip(fields, value_fields, strict=True))


def compare(positive_operator: str, request_value: str, policy_value: list[Token]) -> bool:
    """Does one request value match one (already expanded) policy value?"""
    policy_text = tokens_text(policy_value)
    if positive_operator == "StringEquals":
        return request_value == policy_text
    if positive_operator == "StringEqualsIgnoreCase":
        return request_value.lower() == policy_text.lower()
    if positive_operator == "StringLike":
        return glob_match(policy_value, request_value)
    if positive_operator in ("ArnEquals", "ArnLike"):
        return arn_fields_match(policy_value, request_value)
    if positive_operator == "Bool":
        wanted = policy_text.lower()
        return wanted in ("true", "false") and request_value.lower() == wanted
    if positive_operator == "BinaryEquals":
        request_bytes, policy_bytes = decode_base64(request_value), decode_base64(policy_text)
        return request_bytes is not None and request_bytes == policy_bytes
    if positive_operator == "IpAddress":
        try:
            address = ipaddress.ip_address(request_value)
            network = ipaddress.ip_network(policy_text, strict=False)
        except ValueError:
            return False
        return address.version == network.version and address in network
    if positive_operator.startswith("Numeric"):
        left, right = parse_number(request_value), parse_number(policy_text)
        if left is None or right is None:
            return False
        return ordered(positive_operator.removeprefix("Numeric"), left, right)
    if positive_operator.startswith("Date"):
        left_date, right_date = parse_date(request_value), parse_date(policy_text)
        if left_date is None or right_date is None:
            return False
        return ordered(positive_operator.removeprefix("Date"), left_date, right_date)
    raise ValueError(f"unknown condition operator {positive_operator}")


def ordered(relation: str, left: Any, right: Any) -> bool:
    if relation == "Equals":
        return bool(left == right)
    if relation == "LessThan":
        return bool(left < right)
    if relation == "LessThanEquals":
        return bool(left <= right)
    if relation == "GreaterThan":
        return bool(left > right)
    if relation == "GreaterThanEquals":
        return bool(left >= right)
    raise ValueError(f"unknown comparison {relation}")


def as_string_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [as_string(item) for item in value]
    return [as_string(value)]


def condition_entry_holds(
    operator: str, key: str, raw_values: Any, request: Request, variables: bool
) -> bool:
    present = lookup(request.context, key)
    if operator == "Null":
        return any(
            (v.lower() == "true") == (present is None)
            for v in as_string_list(raw_values)
            if v.lower() in ("true", "false")
        )
    qualifier = ""
    if operator.startswith(("ForAllValues:", "ForAnyValue:")):
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = operator in NEGATED_OPERATORS
    positive_operator = NEGATED_OPERATORS.get(operator, operator)
    substitutes = variables and positive_operator.startswith(VARIABLE_OPERATOR_PREFIXES)
    wildcards = positive_operator in ("StringLike", "ArnLike", "ArnEquals")

    policy_values: list[list[Token]] = []
    for raw in as_string_list(raw_values):
        expanded = expand(raw, substitutes, request.context, wildcards)
        if expanded is not None:  # an unresolved value matches nothing
            policy_values.append(expanded)

    def single_value_holds(request_value: str) -> bool:
        matched = any(compare(positive_operator, request_value, p) for p in policy_values)
        return not matched if negated else matched

    if present is None:
        if qualifier == "ForAllValues" or if_exists:
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    request_values = present if isinstance(present, list) else [present]
    if qualifier == "ForAllValues":
        return all(single_value_holds(v) for v in request_values)
    if qualifier == "ForAnyValue":
        return any(single_value_holds(v) for v in request_values)
    matched = any(compare(positive_operator, v, p) for v in request_values for p in policy_values)
    return not matched if negated else matched


def conditions_hold(statement: dict[str, Any], request: Request, variables: bool) -> bool:
    for operator, entries in statement.get("Condition", {}).items():
        for key, raw_values in entries.items():
            if not condition_entry_holds(operator, key, raw_values, request, variables):
                return False
    return True


# ---------------------------------------------------------------- statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def action_listed(patterns: Any, action: str) -> bool:
    return any(
        glob_match(lowered(plain_tokens(p, wildcards=True)), action.lower())
        for p in as_list(patterns)
    )


def resource_listed(patterns: Any, request: Request, variables: bool) -> bool:
    for pattern in as_list(patterns):
        tokens = expand(pattern, variables, request.context, wildcards=True)
        if tokens is not None and glob_match(tokens, request.resource):
            return True
    return False


def statement_applies(statement: dict[str, Any], request: Request, variables: bool) -> bool:
    """Action, resource and conditions (the principal is checked separately)."""
    if "Action" in statement:
        action_ok = action_listed(statement["Action"], request.action)
    else:
        action_ok = not action_listed(statement.get("NotAction", []), request.action)
    if "Resource" in statement:
        resource_ok = resource_listed(statement["Resource"], request, variables)
    elif "NotResource" in statement:
        resource_ok = not resource_listed(statement["NotResource"], request, variables)
    else:
        resource_ok = True  # trust policies have no Resource element
    return action_ok and resource_ok and conditions_hold(statement, request, variables)


def principal_entries(element: Any) -> list[tuple[str, str]]:
    if isinstance(element, str):
        return [("AWS", element)]
    return [
        (block, as_string(value)) for block, values in element.items() for value in as_list(values)
    ]


def is_account_entry(value: str, account: str | None) -> bool:
    return account is not None and value in (account, f"arn:aws:iam::{account}:root")


def entry_match_kind(block: str, value: str, caller: Caller) -> str | None:
    if block == "AWS":
        if value == "*":
            return "wildcard"
        if is_account_entry(value, caller.account):
            return "account"
        if caller.kind == "session" and value in (caller.role_arn, caller.unique_id):
            return "role"
        if caller.kind in ("user", "session", "federated", "other") and value == caller.arn:
            return "direct"
        if caller.kind in ("user", "other") and value == caller.unique_id:
            return "direct"
        return None
    if block in ("Service", "Federated") and value == caller.arn:
        return "direct"
    return None


MATCH_STRENGTH = {"direct": 4, "wildcard": 3, "role": 2, "account": 1}


def principal_match_kind(element: Any, caller: Caller) -> str | None:
    kinds = [entry_match_kind(block, value, caller) for block, value in principal_entries(element)]
    found = [kind for kind in kinds if kind is not None]
    return max(found, key=MATCH_STRENGTH.__getitem__) if found else None


def identity_layers(caller: Caller) -> list[list[str]]:
    """The caller's identity layers; each layer is named by any one of its values."""
    layers: list[list[str]] = []
    if caller.kind in ("user", "other"):
        layers.append([caller.arn] + ([caller.unique_id] if caller.unique_id else []))
    if caller.kind in ("session", "federated", "service"):
        layers.append([caller.arn])
    if caller.kind == "session":
        layers.append([caller.role_arn or ""] + ([caller.unique_id] if caller.unique_id else []))
    if caller.account is not None:
        layers.append([caller.account, f"arn:aws:iam::{caller.account}:root"])
    return layers


def every_layer_listed(element: Any, caller: Caller) -> bool:
    entries = principal_entries(element)
    if ("AWS", "*") in entries:
        return True
    if caller.kind == "anonymous":
        return False  # only "*" names the anonymous caller
    values = [value for _, value in entries]
    return all(any(name in values for name in layer) for layer in identity_layers(caller))


def resource_statement_kind(statement: dict[str, Any], caller: Caller) -> str | None:
    """How a resource-policy statement names the caller, or None when it does not apply."""
    if "Principal" in statement:
        return principal_match_kind(statement["Principal"], caller)
    if "NotPrincipal" in statement:
        return None if every_layer_listed(statement["NotPrincipal"], caller) else "wildcard"
    return None


def statements_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document.get("Statement", []))


def uses_variables(document: dict[str, Any]) -> bool:
    return document.get("Version") == "2012-10-17"


def has_matching(documents: list[dict[str, Any]], effect: str, request: Request) -> bool:
    for document in documents:
        for statement in statements_of(document):
            if statement.get("Effect") == effect and statement_applies(
                statement, request, uses_variables(document)
            ):
                return True
    return False


def resource_match_kinds(
    document: dict[str, Any] | None, effect: str, request: Request
) -> list[str]:
    kinds: list[str] = []
    for statement in statements_of(document or {}):
        if statement.get("Effect") != effect:
            continue
        if not statement_applies(statement, request, uses_variables(document or {})):
            continue
        kind = resource_statement_kind(statement, request.caller)
        if kind is not None:
            kinds.append(kind)
    return kinds


# ---------------------------------------------------------------- the decision


def reference_decide(case: dict[str, Any]) -> str:
    caller = describe_caller(case["principal"])
    resource_account = resource_account_of(case, caller)
    request = Request(
        caller, case["action"], case["resource"], build_context(case, caller, resource_account)
    )
    policies = case.get("policies", {})
    identity: list[dict[str, Any]] = policies.get("identity", [])
    resource_policy: dict[str, Any] | None = policies.get("resource")
    boundary: dict[str, Any] | None = policies.get("boundary")
    session: list[dict[str, Any]] = policies.get("session", [])
    scp_levels: list[list[dict[str, Any]]] = policies.get("scp", [])

    every_scp = [document for level in scp_levels for document in level]
    caller_side_documents = every_scp + identity + ([boundary] if boundary else []) + session
    if has_matching(caller_side_documents, "Deny", request):
        return EXPLICIT_DENY
    if resource_match_kinds(resource_policy, "Deny", request):
        return EXPLICIT_DENY

    if not all(has_matching(level, "Allow", request) for level in scp_levels):
        return IMPLICIT_DENY

    boundary_allows = boundary is None or has_matching([boundary], "Allow", request)
    session_allows = not session or has_matching(session, "Allow", request)
    identity_allows = caller.kind == "root" or has_matching(identity, "Allow", request)
    caller_side_allows = identity_allows and boundary_allows and session_allows
    resource_kinds = resource_match_kinds(resource_policy, "Allow", request)

    if caller.account is None:  # anonymous or a service: there is no caller side
        return ALLOW if resource_kinds else IMPLICIT_DENY
    if caller.account != resource_account:
        return ALLOW if resource_kinds and caller_side_allows else IMPLICIT_DENY

    if is_assume_role_on_role(request) and not resource_kinds:
        return IMPLICIT_DENY
    if "direct" in resource_kinds or "wildcard" in resource_kinds:
        return ALLOW
    if "role" in resource_kinds and boundary_allows and session_allows:
        return ALLOW
    return ALLOW if caller_side_allows else IMPLICIT_DENY


def is_assume_role_on_role(request: Request) -> bool:
    parts = request.resource.split(":", 5)
    return (
        request.action.lower() in ASSUME_ROLE_ACTIONS
        and len(parts) == 6
        and parts[2] == "iam"
        and parts[5].startswith("role/")
    )
