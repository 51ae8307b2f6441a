"""CloudTrail records, pure: who (userIdentity), what, when, from where, and the outcome.

Everything here builds plain dicts shaped as CloudTrail writes them (event version 1.11):
camelCase request parameters and response elements, Java-style dates in response elements,
`mfaAuthenticated` a string, `readOnly` / `managementEvent` booleans. Secrets never get in:
`clean` drops every member named in `SECRET_MEMBERS` (secret access keys, session tokens,
passwords, MFA codes and seeds, private keys) at any depth, and
`SECRET_QUERY_PREFIX` parameters (presigned URLs) are never copied from S3 query strings.

A cross-account event is written once per account with one `sharedEventID` (`shared_copies`):
the other account's copy names the caller by account and principal id only (`AWSAccount`).
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # only types: building records needs no store, no server
    from ..api.registry import Caller
    from ..iam.access_keys import KeyOwner
    from ..sts.tokens import SessionClaims

__all__ = [
    "ANONYMOUS_IDENTITY",
    "CONSOLE_SIGN_IN",
    "DATA",
    "EVENT_VERSION",
    "MANAGEMENT",
    "SECRET_MEMBERS",
    "SECRET_QUERY_PREFIX",
    "account_identity",
    "api_call",
    "camel",
    "clean",
    "cloudtrail_time",
    "console_event",
    "identity_for_caller",
    "identity_for_key",
    "identity_for_session",
    "java_time",
    "lookup_username",
    "new_event_id",
    "read_only_name",
    "request_event_ids",
    "resource_of_arn",
    "shared_copies",
    "shared_identity_for_caller",
    "shared_identity_for_key",
    "shared_identity_for_session",
]

EVENT_VERSION: Final = "1.11"
MANAGEMENT: Final = "Management"
DATA: Final = "Data"
CONSOLE_SIGN_IN: Final = "AwsConsoleSignIn"
API_CALL: Final = "AwsApiCall"

# botocore member names (any case) whose values are never recorded.
SECRET_MEMBERS: Final = frozenset(
    name.lower()
    for name in (
        "SecretAccessKey",
        "SessionToken",
        "Password",
        "OldPassword",
        "NewPassword",
        "ServicePassword",
        "TokenCode",
        "AuthenticationCode1",
        "AuthenticationCode2",
        "Base32StringSeed",
        "QRCodePNG",
        "PrivateKey",
        "SAMLAssertion",
        "WebIdentityToken",
        "SecurityToken",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
        "X-Amz-Credential",
    )
)
SECRET_QUERY_PREFIX: Final = "x-amz-"

# Reads: CloudTrail's readOnly (their responseElements stay null, except the STS calls that
# hand out credentials, whose response names the session).
_READ_PREFIXES: Final = ("Get", "List", "Describe", "Head", "Lookup", "Simulate", "Decode")
_READ_NAMES: Final = frozenset({"AssumeRole", "GetSessionToken", "GetFederationToken"})
_IAM_TYPES: Final = {
    "user": "AWS::IAM::User",
    "role": "AWS::IAM::Role",
    "group": "AWS::IAM::Group",
    "policy": "AWS::IAM::Policy",
    "mfa": "AWS::IAM::VirtualMFADevice",
    "instance-profile": "AWS::IAM::InstanceProfile",
}
_IAM_ARN: Final = re.compile(r"^arn:aws:iam::(\d{12}|aws):([a-z-]+)/(.*)$")
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

ANONYMOUS_IDENTITY: Final[Mapping[str, str]] = {
    "type": "AWSAccount",
    "principalId": "ANONYMOUS_PRINCIPAL",
    "accountId": "anonymous",
}


# --------------------------------------------------------------------------- values
# Formatted whole seconds (epoch second -> text): eventTime of requests served in the same
# second, and the creationDate of a session used again and again, are formatted once.
_SECONDS: dict[int, str] = {}
_SECONDS_KEPT: Final = 4096


def _second_text(second: int) -> str:
    text = _SECONDS.get(second)
    if text is None:
        if len(_SECONDS) >= _SECONDS_KEPT:
            _SECONDS.clear()
        text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        _SECONDS[second] = text
    return text


def cloudtrail_time(moment: datetime | float) -> str:
    """`2014-07-15T21:40:14Z` (UTC, whole seconds)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:  # naive: taken as UTC
            moment = moment.replace(tzinfo=UTC)
        moment = moment.timestamp()
    return _second_text(math.floor(moment))


def java_time(moment: datetime) -> str:
    """`Jul 18, 2014 4:07:39 PM`: how CloudTrail writes dates inside responseElements."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (
        f"{_MONTHS[moment.month - 1]} {moment.day}, {moment.year} "
        f"{hour}:{moment.minute:02d}:{moment.second:02d} {half}"
    )


@lru_cache(maxsize=4096)
def camel(name: str) -> str:
    """botocore member name -> CloudTrail key: `RoleSessionName` -> `roleSessionName`."""
    return name[:1].lower() + name[1:]


_PLAIN: Final = frozenset({str, int, float, bool, type(None)})


_random_bits: Final = random.getrandbits
_UUID7_CLEAR: Final = ~((0xF << 76) | (0x3 << 62))
_UUID7_SET: Final = (0x7 << 76) | (0x2 << 62)


def _uuid7_text(value: int) -> str:
    text = f"{value & _UUID7_CLEAR | _UUID7_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_event_id() -> str:
    """A GUID as eventID: a time-ordered (version 7) UUID, so that the store's event id
    index grows at its end (random ids rewrote most of its pages at every ingested batch).
    Its random bits come from `random` (seeded from the OS at start and after a fork): an
    event id must be unique, not secret, and a getrandom call per id cost more than the rest."""
    return _uuid7_text((time.time_ns() // 1_000_000) << 80 | _random_bits(80))


def _hashed_uuid7(millisecond: int, text: str) -> str:
    digest = hashlib.blake2b(text.encode(), digest_size=10).digest()
    return _uuid7_text(millisecond << 80 | int.from_bytes(digest, "big"))


def request_event_ids(moment: float, request_id: str) -> Callable[[], str]:
    """The event ids of one request's records, in the order they are asked for: version 7
    UUIDs of its time (milliseconds) with bits hashed from its request id (and a counter),
    so that building its records again from the same journal line gives the same ids (a
    line ingested twice is stored once) and nothing is drawn on the request path."""
    millisecond = int(moment * 1000)
    issued = 0

    def next_id() -> str:
        nonlocal issued
        issued += 1
        return _hashed_uuid7(millisecond, request_id if issued == 1 else f"{request_id}/{issued}")

    return next_id


@lru_cache(maxsize=4096)
def _record_key(name: str) -> str | None:
    """The CloudTrail key of a member name; None for a secret (never recorded)."""
    return None if name.lower() in SECRET_MEMBERS else camel(name)


def clean(value: Any) -> Any:
    """A botocore-shaped value as CloudTrail JSON: camelCase keys, secrets dropped, dates
    Java-style, bytes left out. (On the request path of every call: plain members are
    copied without a recursive call, and a member name is looked at once per process.)"""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _record_key(key if type(key) is str else str(key))
            if name is None:
                continue
            if type(item) in _PLAIN:
                out[name] = item
            elif not isinstance(item, bytes | bytearray):
                out[name] = clean(item)
        return out
    if isinstance(value, list | tuple):
        return [clean(item) for item in value if not isinstance(item, bytes | bytearray)]
    if isinstance(value, datetime):
        return java_time(value)
    return value


def read_only_name(event_name: str) -> bool:
    return event_name.startswith(_READ_PREFIXES) or event_name in _READ_NAMES


def resource_of_arn(arn: str) -> dict[str, str] | None:
    """`{ARN, accountId, type}` of an IAM resource ARN; None for `*` and collections."""
    found = _resource_parts(arn)
    if found is None:
        return None
    return {"ARN": arn, "accountId": found[0], "type": found[1]}


@lru_cache(maxsize=4096)
def _resource_parts(arn: str) -> tuple[str, str] | None:
    found = _IAM_ARN.match(arn)
    if found is None or not found.group(3) or found.group(3).endswith("/"):
        return None
    kind = _IAM_TYPES.get(found.group(2))
    if kind is None:
        return None
    return found.group(1), kind


# --------------------------------------------------------------------------- identities
def _attributes(claims: SessionClaims) -> dict[str, str]:
    return {
        "creationDate": cloudtrail_time(claims.issued_at),
        "mfaAuthenticated": "true" if claims.mfa_authenticated_at else "false",
    }


def identity_for_session(claims: SessionClaims) -> dict[str, Any]:
    """The userIdentity of a request signed with temporary credentials: a role session
    (AssumedRole, with the role as sessionIssuer) or a GetSessionToken / console session of
    a user or the root (the session's creation time and MFA state in sessionContext)."""
    account = claims.account_id
    context: dict[str, Any]
    if claims.kind == "AssumedRole":
        role_arn = f"arn:aws:iam::{account}:role{claims.principal_path}{claims.principal_name}"
        context = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": claims.principal_id,
                "arn": role_arn,
                "accountId": account,
                "userName": claims.principal_name,
            },
            "webIdFederationData": {},
            "attributes": _attributes(claims),
        }
        if claims.source_identity:
            context["sourceIdentity"] = claims.source_identity
        return {
            "type": "AssumedRole",
            "principalId": f"{claims.principal_id}:{claims.session_name}",
            "arn": (
                f"arn:aws:sts::{account}:assumed-role/{claims.principal_name}/{claims.session_name}"
            ),
            "accountId": account,
            "accessKeyId": claims.access_key_id,
            "sessionContext": context,
        }
    context = {"attributes": _attributes(claims)}
    if claims.source_identity:
        context["sourceIdentity"] = claims.source_identity
    if claims.principal_id == account:
        return {
            "type": "Root",
            "principalId": account,
            "arn": f"arn:aws:iam::{account}:root",
            "accountId": account,
            "accessKeyId": claims.access_key_id,
            "sessionContext": context,
        }
    return {
        "type": "IAMUser",
        "principalId": claims.principal_id,
        "arn": f"arn:aws:iam::{account}:user{claims.principal_path}{claims.principal_name}",
        "accountId": account,
        "accessKeyId": claims.access_key_id,
        "userName": claims.principal_name,
        "sessionContext": context,
    }


def identity_for_key(owner: KeyOwner) -> dict[str, Any]:
    """The userIdentity of a request signed with a long-term key (a user's or the root's)."""
    account = owner.account_id
    if owner.user_id is None:
        return {
            "type": "Root",
            "principalId": account,
            "arn": f"arn:aws:iam::{account}:root",
            "accountId": account,
            "accessKeyId": owner.access_key_id,
        }
    return {
        "type": "IAMUser",
        "principalId": owner.user_id,
        "arn": f"arn:aws:iam::{account}:user{owner.user_path or '/'}{owner.user_name}",
        "accountId": account,
        "accessKeyId": owner.access_key_id,
        "userName": owner.user_name,
    }


def identity_for_caller(caller: Caller) -> dict[str, Any]:
    """The userIdentity of an authenticated caller (anonymous: `ANONYMOUS_IDENTITY`)."""
    if caller.session is not None:
        return identity_for_session(caller.session)
    if not caller.account_id:
        return dict(ANONYMOUS_IDENTITY)
    account = caller.account_id
    if caller.user_id is None:
        return {
            "type": "Root",
            "principalId": account,
            "arn": f"arn:aws:iam::{account}:root",
            "accountId": account,
            "accessKeyId": caller.access_key_id,
        }
    return {
        "type": "IAMUser",
        "principalId": caller.user_id,
        "arn": caller.arn,
        "accountId": account,
        "accessKeyId": caller.access_key_id,
        "userName": caller.user_name,
    }


# --------------------------------------------------------------------------- shared identities
# The request path builds a userIdentity per request, the same one for every request of a
# session or a key: `shared_identity_*` return one dict per identity (never to be modified).
_SHARED: dict[tuple[Any, ...], dict[str, Any]] = {}
_SHARED_KEPT: Final = 2048


def _shared(key: tuple[Any, ...], build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    identity = _SHARED.get(key)
    if identity is None:
        if len(_SHARED) >= _SHARED_KEPT:
            _SHARED.clear()
        identity = build()
        _SHARED[key] = identity
    return identity


def shared_identity_for_session(claims: SessionClaims) -> dict[str, Any]:
    """`identity_for_session(claims)`, one dict per session (read-only)."""
    key = (
        "session",
        claims.access_key_id,
        claims.account_id,
        claims.issued_at,
        claims.kind,
        claims.principal_id,
        claims.principal_name,
        claims.principal_path,
        claims.session_name,
        bool(claims.mfa_authenticated_at),
        claims.source_identity,
    )
    return _shared(key, lambda: identity_for_session(claims))


def shared_identity_for_key(owner: KeyOwner) -> dict[str, Any]:
    """`identity_for_key(owner)`, one dict per key and owner (read-only)."""
    key = (
        "key",
        owner.access_key_id,
        owner.account_id,
        owner.user_id,
        owner.user_path,
        owner.user_name,
    )
    return _shared(key, lambda: identity_for_key(owner))


def shared_identity_for_caller(caller: Caller) -> dict[str, Any]:
    """`identity_for_caller(caller)`, one dict per identity (read-only)."""
    if caller.session is not None:
        return shared_identity_for_session(caller.session)
    key = (
        "caller",
        caller.account_id,
        caller.user_id,
        caller.access_key_id,
        caller.user_name,
        caller.arn if caller.account_id else None,
    )
    return _shared(key, lambda: identity_for_caller(caller))


def account_identity(identity: Mapping[str, Any]) -> dict[str, Any]:
    """How another account's event names the caller: account and principal id only."""
    return {
        "type": "AWSAccount",
        "principalId": identity.get("principalId", ""),
        "accountId": identity.get("accountId", ""),
    }


def lookup_username(record: Mapping[str, Any]) -> str | None:
    """LookupEvents' `Username` of a record: the user name, `root`, or for a role session
    its session name; for an other account's copy of AssumeRole, the session name asked for.
    """
    identity = record.get("userIdentity") or {}
    kind = identity.get("type")
    if kind == "IAMUser":
        name = identity.get("userName")
        return str(name) if name else None
    if kind == "Root":
        return str(identity.get("userName") or "root")
    if kind == "AssumedRole":
        return str(identity.get("arn", "")).rsplit("/", 1)[-1] or None
    parameters = record.get("requestParameters")
    if isinstance(parameters, Mapping) and parameters.get("roleSessionName"):
        return str(parameters["roleSessionName"])
    return None


# --------------------------------------------------------------------------- records
def api_call(
    *,
    identity: Mapping[str, Any],
    event_time: datetime | float,
    event_source: str,
    event_name: str,
    region: str,
    source_ip: str,
    user_agent: str | None,
    request_id: str,
    recipient: str,
    read_only: bool,
    request_parameters: Mapping[str, Any] | None = None,
    response_elements: Mapping[str, Any] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    resources: Sequence[Mapping[str, str]] | None = None,
    category: str = MANAGEMENT,
    additional: Mapping[str, Any] | None = None,
    event_ids: Callable[[], str] = new_event_id,
) -> dict[str, Any]:
    """One AwsApiCall record in `recipient`'s account. The parameters and elements must
    already be `clean`."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": cloudtrail_time(event_time),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent or "",
    }
    if error_code is not None:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or ""
    record["requestParameters"] = request_parameters
    record["responseElements"] = response_elements
    if additional:
        record["additionalEventData"] = additional
    record["requestID"] = request_id
    record["eventID"] = event_ids()
    record["readOnly"] = read_only
    if resources:
        record["resources"] = list(resources)
    record["eventType"] = API_CALL
    record["managementEvent"] = category == MANAGEMENT
    record["recipientAccountId"] = recipient
    record["eventCategory"] = category
    return record


def shared_copies(
    record: dict[str, Any],
    other_accounts: Iterable[str],
    *,
    full_identity: bool = False,
    event_ids: Callable[[], str] = new_event_id,
) -> list[dict[str, Any]]:
    """`record` and its copies for `other_accounts` (one per account, the caller's own and
    empty ones skipped), all with one sharedEventID; the copies name the caller as an
    AWSAccount unless `full_identity`."""
    own = record.get("recipientAccountId")
    others = [account for account in dict.fromkeys(other_accounts) if account and account != own]
    if not others:
        return [record]
    shared = event_ids()
    record["sharedEventID"] = shared
    copies = [record]
    identity = record["userIdentity"] if full_identity else account_identity(record["userIdentity"])
    for account in others:
        copy = dict(record)
        copy["userIdentity"] = identity
        copy["eventID"] = event_ids()
        copy["recipientAccountId"] = account
        copies.append(copy)
    return copies


def console_event(
    *,
    event_name: str,
    identity: Mapping[str, Any],
    event_time: datetime,
    recipient: str,
    source_ip: str,
    user_agent: str | None,
    success: bool = True,
    error_message: str | None = None,
    additional: Mapping[str, Any] | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """A sign-in event (`ConsoleLogin`, `CheckMfa`, `SwitchRole`, `ExitRole`, `RenewRole`):
    requestParameters null, `{"<eventName>": "Success"|"Failure"}` as responseElements, and
    on failure an errorMessage but no errorCode (as CloudTrail writes sign-in failures).
    `identity` is the userIdentity (build it with `identity_for_key` / `identity_for_session`,
    or by hand for a failed sign-in: `accessKeyId` "" and no `arn`)."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": dict(identity),
        "eventTime": cloudtrail_time(event_time),
        "eventSource": "signin.amazonaws.com",
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent or "",
    }
    if not success:
        record["errorMessage"] = error_message or "Failed authentication"
    record["requestParameters"] = None
    record["responseElements"] = {event_name: "Success" if success else "Failure"}
    if additional:
        record["additionalEventData"] = _clean_console(additional)
    record["eventID"] = new_event_id()
    record["readOnly"] = False
    record["eventType"] = CONSOLE_SIGN_IN
    record["managementEvent"] = True
    record["recipientAccountId"] = recipient
    record["eventCategory"] = MANAGEMENT
    return record


def _clean_console(additional: Mapping[str, Any]) -> dict[str, Any]:
    """additionalEventData as given (PascalCase keys, as CloudTrail writes them), minus any
    secret member."""
    return {key: value for key, value in additional.items() if key.lower() not in SECRET_MEMBERS}
