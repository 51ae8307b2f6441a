"""What the console's IAM pages share: IAM calls that never raise anything but AwsCallError,
listing every page of a List* call, list pages, form pages, a form's one IAM call (a redirect
with a notice, or the page again with the refusal), form values, URLs, policy documents shown
as pretty JSON, and a refused policy document's validation issues located in the submitted
text."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import quote, unquote, urlencode

from botocore.exceptions import ParamValidationError  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..policy import PolicyKind, validate_policy
from .aws import AwsCallError
from .web import Console, Identity, error_dict, format_time

__all__ = [
    "GROUP",
    "IAM",
    "LIST_LIMIT",
    "MAX_DOCUMENT",
    "NEW_POLICY",
    "NOTICES",
    "ROLE",
    "USER",
    "CreatePage",
    "DetailPage",
    "EntityAction",
    "Kind",
    "Listing",
    "Shown",
    "act",
    "attempt",
    "change",
    "create_page",
    "entity_action",
    "error_dict",
    "form_page",
    "form_text",
    "format_time",
    "iam_call",
    "list_all",
    "list_page",
    "notice",
    "policy_json",
    "policy_problems",
    "policy_url",
    "switch_role_url",
    "text_positions",
    "with_times",
]

IAM: Final = "iam"
LIST_LIMIT: Final = 1000
_PAGE: Final = 1000
# The largest policy document a form takes (IAM's own limits are lower).
MAX_DOCUMENT: Final = 131072
# What the policy editors start from.
NEW_POLICY: Final = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "",
      "Resource": "*"
    }
  ]
}"""

NOTICES: Final = {
    "user-created": "User created.",
    "user-deleted": "User deleted.",
    "group-created": "Group created.",
    "group-deleted": "Group deleted.",
    "role-created": "Role created.",
    "role-deleted": "Role deleted.",
    "role-updated": "Role updated.",
    "trust-updated": "Trust policy updated.",
    "policy-created": "Policy created.",
    "policy-deleted": "Policy deleted.",
    "version-created": "Policy version created.",
    "version-default": "Default version set.",
    "version-deleted": "Policy version deleted.",
    "attached": "Policy attached.",
    "detached": "Policy detached.",
    "inline-saved": "Inline policy saved.",
    "inline-deleted": "Inline policy deleted.",
    "member-added": "User added to the group.",
    "member-removed": "User removed from the group.",
    "key-updated": "Access key updated.",
    "key-deleted": "Access key deleted.",
    "password-set": "Console password set.",
    "password-deleted": "Console access removed.",
    "mfa-enabled": "MFA device assigned.",
    "mfa-deactivated": "MFA device deactivated.",
    "mfa-deleted": "Virtual MFA device deleted.",
}


@dataclass(frozen=True)
class Kind:
    """An IAM identity the shared policy pages work on: user, group or role."""

    key: str
    label: str
    plural: str

    @property
    def param(self) -> str:
        return f"{self.label}Name"

    @property
    def list_url(self) -> str:
        return f"/console/iam/{self.plural}"

    def url(self, name: str) -> str:
        return f"{self.list_url}/{quote(name, safe='')}"

    def done(self, name: str, notice: str) -> str:
        """The page of `name`, showing `notice` (a key of NOTICES)."""
        return f"{self.url(name)}?done={notice}"

    def op(self, template: str) -> str:
        """`template` with `{}` as the kind: 'attach_{}_policy' -> 'attach_user_policy'."""
        return template.format(self.key)

    def row(self, item: Mapping[str, Any], *times: str) -> dict[str, Any]:
        """A listed user, group or role with the URL of its page and `times` formatted."""
        return {**with_times(item, *times), "url": self.url(str(item.get(self.param, "")))}

    def listing(self, title: str, *times: str) -> Listing:
        """The list page of the kind: every `List{Label}s` item in `iam_{plural}.html`."""
        return Listing(
            f"iam_{self.plural}.html",
            title,
            f"list_{self.plural}",
            f"{self.label}s",
            self.plural,
            lambda item: self.row(item, *times),
        )


@dataclass(frozen=True)
class Listing:
    """A list page: every item of one List* call (`key` of its answer), shown in `template`
    as the context value `name`, each item made a row by `row`."""

    template: str
    title: str
    operation: str
    key: str
    name: str
    row: Callable[[dict[str, Any]], dict[str, Any]]


USER: Final = Kind("user", "User", "users")
GROUP: Final = Kind("group", "Group", "groups")
ROLE: Final = Kind("role", "Role", "roles")

# The detail page of one entity, again with a refusal (the error, the page's HTTP status).
DetailPage = Callable[[Request, Identity, str, AwsCallError | None, int], Awaitable[Response]]
# What a refused form shows: its page again, with the error.
Shown = Callable[[AwsCallError], Response | Awaitable[Response]]


class CreatePage(Protocol):
    """A create form's page with its values (and the refusal of what they created, if any)."""

    def __call__(
        self,
        request: Request,
        identity: Identity,
        values: dict[str, str],
        error: AwsCallError | None = None,
    ) -> Response: ...


# A form's IAM call on the entity of the page's path: (operation, notice, parameters).
EntityAction = Callable[..., Awaitable[Response]]


async def iam_call(
    console: Console, request: Request, identity: Identity, operation: str, **params: Any
) -> dict[str, Any]:
    """An IAM call as the page's identity; a parameter botocore refuses before sending is an
    AwsCallError too (400 ValidationError), so pages show it like IAM's own refusals."""
    try:
        return await console.call(request, identity, IAM, operation, **params)
    except ParamValidationError as error:
        raise AwsCallError("ValidationError", str(error), 400, None) from None


async def attempt(
    console: Console, request: Request, identity: Identity, operation: str, **params: Any
) -> tuple[dict[str, Any] | None, AwsCallError | None]:
    """(result, None) or (None, the error): for the sections of a page that may each fail."""
    try:
        return await iam_call(console, request, identity, operation, **params), None
    except AwsCallError as error:
        return None, error


async def list_all(
    console: Console,
    request: Request,
    identity: Identity,
    operation: str,
    key: str,
    **params: Any,
) -> list[dict[str, Any]]:
    """Every item of a Marker-paginated List* call (at most LIST_LIMIT)."""
    items: list[dict[str, Any]] = []
    marker: str | None = None
    while len(items) < LIST_LIMIT:
        extra = {"Marker": marker} if marker else {}
        result = await iam_call(
            console, request, identity, operation, MaxItems=_PAGE, **params, **extra
        )
        items.extend(result.get(key, []))
        marker = result.get("Marker")
        if not result.get("IsTruncated") or not marker:
            break
    return items[:LIST_LIMIT]


async def change(
    console: Console,
    request: Request,
    identity: Identity,
    operation: str,
    *,
    done: str,
    failed: Shown,
    **params: Any,
) -> Response:
    """A form's IAM call: a 303 to `done` when IAM takes it, else what `failed` shows of the
    refusal."""
    try:
        await iam_call(console, request, identity, operation, **params)
    except AwsCallError as error:
        shown = failed(error)
        return shown if isinstance(shown, Response) else await shown
    return RedirectResponse(done, 303)


async def act(
    console: Console,
    request: Request,
    identity: Identity,
    detail: DetailPage,
    name: str,
    operation: str,
    *,
    done: str,
    **params: Any,
) -> Response:
    """`change` from a form on the detail page of `name`: a refusal shows that page again,
    with the error under its HTTP status."""

    async def failed(error: AwsCallError) -> Response:
        return await detail(request, identity, name, error, error.status)

    return await change(console, request, identity, operation, done=done, failed=failed, **params)


def entity_action(console: Console, kind: Kind, detail: DetailPage) -> EntityAction:
    """`act` on the entity named by the path (`{name}`), with its name as `{Label}Name`: the
    operation (`{}` for the kind), the notice its page shows when done, more parameters."""

    async def action(
        request: Request, identity: Identity, operation: str, done: str, **params: Any
    ) -> Response:
        name = request.path_params["name"]
        return await act(
            console,
            request,
            identity,
            detail,
            name,
            kind.op(operation),
            done=kind.done(name, done),
            **{kind.param: name},
            **params,
        )

    return action


def create_page(
    console: Console,
    template: str,
    title: str,
    document: str | None = None,
    policy_kind: PolicyKind = PolicyKind.IDENTITY,
) -> CreatePage:
    """A create form's page; with `document`, the form value holding a policy document whose
    validation issues a refusal shows."""

    def show(
        request: Request,
        identity: Identity,
        values: dict[str, str],
        error: AwsCallError | None = None,
    ) -> Response:
        extra = {}
        if document is not None:
            extra["problems"] = policy_problems(error, values.get(document, ""), policy_kind)
        return form_page(console, request, identity, template, title, error, form=values, **extra)

    return show


def notice(request: Request) -> str | None:
    """The notice the page was redirected to show (`?done=`), if it is one of NOTICES."""
    return NOTICES.get(request.query_params.get("done", ""))


async def list_page(
    console: Console,
    request: Request,
    identity: Identity,
    listing: Listing,
    *,
    failure: AwsCallError | None = None,
    params: Mapping[str, Any] | None = None,
    **context: Any,
) -> Response:
    """A list page: its items, or the error that kept them from being listed; under the
    status of `failure` (a refused action on the page) or else of that error."""
    items: list[dict[str, Any]] = []
    list_error: AwsCallError | None = None
    try:
        items = await list_all(
            console, request, identity, listing.operation, listing.key, **(params or {})
        )
    except AwsCallError as error:
        list_error = error
    shown = failure or list_error
    return console.render(
        request,
        listing.template,
        identity,
        status=shown.status if shown else 200,
        title=listing.title,
        **{listing.name: [listing.row(item) for item in items]},
        list_error=error_dict(list_error),
        notice=notice(request),
        **context,
    )


def form_page(
    console: Console,
    request: Request,
    identity: Identity,
    template: str,
    title: str,
    error: AwsCallError | None,
    **context: Any,
) -> Response:
    """A form's page, with IAM's refusal (under its status) when there is one."""
    return console.render(
        request,
        template,
        identity,
        status=error.status if error else 200,
        title=title,
        error=error_dict(error),
        **context,
    )


def form_text(source: Any, name: str, limit: int = 4096, *, strip: bool = True) -> str:
    value = source.get(name)
    if not isinstance(value, str):
        return ""
    value = value[:limit]
    return value.strip() if strip else value


def with_times(item: Mapping[str, Any], *fields: str) -> dict[str, Any]:
    """`item` with `{field}Text`, each time field formatted."""
    return {**item, **{f"{name}Text": format_time(item.get(name)) for name in fields}}


def policy_json(document: Any) -> str:
    """A policy document as pretty JSON: botocore already decodes IAM's URL-encoded JSON
    into a dict; a string (undecodable by botocore) is URL-decoded and parsed here."""
    if isinstance(document, str):
        text = document
        for candidate in (document, unquote(document)):
            try:
                document = json.loads(candidate)
                break
            except ValueError:
                continue
        else:
            return text
    return json.dumps(document, indent=2, ensure_ascii=False)


def policy_url(arn: str, **extra: str) -> str:
    return "/console/iam/policies/view?" + urlencode({"arn": arn, **extra})


def switch_role_url(account_id: str, path: str, name: str) -> str:
    """The Switch Role link of a role: `roleName` is the role's path (without its slashes at
    both ends) and name."""
    inner = path.strip("/")
    role_name = f"{inner}/{name}" if inner else name
    return "/switchrole?" + urlencode(
        {"account": account_id, "roleName": role_name, "displayName": name}
    )


# --------------------------------------------------------------------------- issues


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _pointer_part(part: str | int) -> str:
    return "/" + str(part).replace("~", "~0").replace("/", "~1")


class _Locator:
    """Offsets of every member and item of a JSON text, by JSON pointer (a member at its key,
    a duplicate key at its last occurrence: `value` keeps a position already recorded)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.positions: dict[str, int] = {}
        self.decoder = json.JSONDecoder()

    def skip(self, at: int) -> int:
        while at < len(self.text) and self.text[at] in " \t\r\n":
            at += 1
        return at

    def value(self, at: int, pointer: str, depth: int = 0) -> int:
        if depth > 100:
            raise ValueError("nesting too deep")
        at = self.skip(at)
        self.positions.setdefault(pointer, at)
        char = self.text[at : at + 1]
        if char == "{":
            at = self.skip(at + 1)
            if self.text[at : at + 1] == "}":
                return at + 1
            while True:
                at = self.skip(at)
                key_at = at
                key, at = self.decoder.raw_decode(self.text, at)
                if not isinstance(key, str):
                    raise ValueError("expected a key")
                member = pointer + _pointer_part(key)
                self.positions[member] = key_at
                at = self.skip(at)
                if self.text[at : at + 1] != ":":
                    raise ValueError("expected ':'")
                at = self.value(at + 1, member, depth + 1)
                at = self.skip(at)
                if self.text[at : at + 1] == ",":
                    at += 1
                    continue
                if self.text[at : at + 1] == "}":
                    return at + 1
                raise ValueError("expected ',' or '}'")
        if char == "[":
            at = self.skip(at + 1)
            if self.text[at : at + 1] == "]":
                return at + 1
            index = 0
            while True:
                at = self.value(at, f"{pointer}/{index}", depth + 1)
                at = self.skip(at)
                index += 1
                if self.text[at : at + 1] == ",":
                    at += 1
                    continue
                if self.text[at : at + 1] == "]":
                    return at + 1
                raise ValueError("expected ',' or ']'")
        _, end = self.decoder.raw_decode(self.text, at)
        return int(end)


def text_positions(text: str) -> dict[str, int]:
    """JSON pointer -> offset in `text` (empty when the text is not JSON)."""
    locator = _Locator(text)
    try:
        locator.value(0, "")
    except (ValueError, IndexError):
        return {}
    return locator.positions


def _nearest(positions: Mapping[str, int], pointer: str) -> int | None:
    current = pointer
    while True:
        if current in positions:
            return positions[current]
        if not current:
            return None
        current = current[: current.rfind("/")]


def policy_problems(
    error: AwsCallError | None, text: str, kind: PolicyKind
) -> list[dict[str, Any]] | None:
    """The engine's validation issues of a document IAM refused as malformed (or too large):
    each with its JSON pointer and, when it can be found, its line and column in `text`."""
    if error is None or error.code not in ("MalformedPolicyDocument", "LimitExceeded"):
        return None
    issues = validate_policy(text, kind)
    if not issues:
        return None
    positions = text_positions(text)
    problems: list[dict[str, Any]] = []
    for issue in issues:
        offset = _nearest(positions, issue.pointer)
        line, column = _line_column(text, offset) if offset is not None else (None, None)
        problems.append(
            {
                "pointer": issue.pointer or "/",
                "message": issue.message,
                "line": line,
                "column": column,
            }
        )
    return problems
