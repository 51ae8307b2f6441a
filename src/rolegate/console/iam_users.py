"""The console's IAM user pages: the list, a user's page (groups, policies, access keys, MFA
devices, console password), creating and deleting users, and every change on a user.

Each action is one IAM call (or a few) as the signed-in identity; a refusal shows IAM's
message (a DeleteConflict as it comes) with the engine's explanation, under its HTTP status.
A new access key's secret is shown once, on the page answering the POST that created it; a
new virtual MFA device's QR code and seed likewise, with the form taking its two codes.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..mfa import base32_to_seed, otpauth_uri
from . import iam_attach
from .aws import AwsCallError
from .iam_support import (
    GROUP,
    USER,
    Listing,
    act,
    attempt,
    change,
    create_page,
    entity_action,
    error_dict,
    form_page,
    form_text,
    format_time,
    iam_call,
    list_page,
    with_times,
)
from .web import Console, Identity, page

__all__ = ["USER", "routes"]

_LISTING: Final = USER.listing("Users", "CreateDate", "PasswordLastUsed")
_DEVICES: Final = Listing(
    "iam_mfa_devices.html",
    "Virtual MFA devices",
    "list_virtual_mfa_devices",
    "VirtualMFADevices",
    "devices",
    lambda device: {
        **with_times(device, "EnableDate"),
        "UserName": str((device.get("User") or {}).get("UserName", "")),
    },
)
_NAME_LIMIT: Final = 128


def _with_times(items: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    return [with_times(item, *fields) for item in items]


def _tags(form: Any) -> list[dict[str, str]]:
    key = form_text(form, "tag_key", 128)
    return [{"Key": key, "Value": form_text(form, "tag_value", 256)}] if key else []


def routes(console: Console) -> list[Route]:
    # ------------------------------------------------------------------ list
    async def users_page(request: Request, identity: Identity) -> Response:
        return await list_page(console, request, identity, _LISTING)

    # ------------------------------------------------------------------ create
    create_form = create_page(console, "iam_user_create.html", "Create user")

    async def create_user_form(request: Request, identity: Identity) -> Response:
        return create_form(request, identity, {"path": "/"})

    async def create_user(request: Request, identity: Identity) -> Response:
        form = await request.form()
        values = {
            name: form_text(form, name, 512)
            for name in ("name", "path", "tag_key", "tag_value", "reset")
        }
        password = form_text(form, "password", 512, strip=False)
        params: dict[str, Any] = {"UserName": values["name"], "Path": values["path"] or "/"}
        tags = _tags(form)
        if tags:
            params["Tags"] = tags
        _, error = await attempt(console, request, identity, "create_user", **params)
        if error is not None:
            return create_form(request, identity, values, error)
        done = USER.done(values["name"], "user-created")
        if not password:
            return RedirectResponse(done, 303)
        return await act(
            console,
            request,
            identity,
            detail,
            values["name"],
            "create_login_profile",
            done=done,
            UserName=values["name"],
            Password=password,
            PasswordResetRequired=bool(values["reset"]),
        )

    # ------------------------------------------------------------------ one user
    async def detail(
        request: Request,
        identity: Identity,
        name: str,
        error: AwsCallError | None = None,
        status: int = 200,
    ) -> Response:
        found = await iam_attach.get_entity(console, request, identity, USER, name, error)
        if isinstance(found, Response):
            return found
        user = found.get("User", {})
        context: dict[str, Any] = {}
        tags, tags_error = await attempt(
            console, request, identity, "list_user_tags", UserName=name
        )
        context["tags"] = (tags or {}).get("Tags", user.get("Tags", []))
        context["tags_error"] = error_dict(tags_error)
        groups, groups_error = await attempt(
            console, request, identity, "list_groups_for_user", UserName=name
        )
        member_of = (groups or {}).get("Groups", [])
        context["groups"] = [GROUP.row(group) for group in member_of]
        context["groups_error"] = error_dict(groups_error)
        all_groups, _ = await attempt(console, request, identity, "list_groups", MaxItems=1000)
        names = {group.get("GroupName") for group in member_of}
        context["other_groups"] = [
            str(group.get("GroupName", ""))
            for group in (all_groups or {}).get("Groups", [])
            if group.get("GroupName") not in names
        ]
        keys, keys_error = await attempt(
            console, request, identity, "list_access_keys", UserName=name
        )
        context["keys"] = _with_times((keys or {}).get("AccessKeyMetadata", []), "CreateDate")
        context["keys_error"] = error_dict(keys_error)
        devices, devices_error = await attempt(
            console, request, identity, "list_mfa_devices", UserName=name
        )
        context["devices"] = _with_times((devices or {}).get("MFADevices", []), "EnableDate")
        context["devices_error"] = error_dict(devices_error)
        profile, profile_error = await attempt(
            console, request, identity, "get_login_profile", UserName=name
        )
        if profile_error is not None and profile_error.code == "NoSuchEntity":
            profile_error = None
        context["profile"] = (
            {
                **profile["LoginProfile"],
                "CreateDateText": format_time(profile["LoginProfile"].get("CreateDate")),
            }
            if profile and profile.get("LoginProfile")
            else None
        )
        context["profile_error"] = error_dict(profile_error)
        return await iam_attach.entity_page(
            console,
            request,
            identity,
            USER,
            name,
            error,
            status,
            user=with_times(user, "CreateDate", "PasswordLastUsed"),
            **context,
        )

    action = entity_action(console, USER, detail)

    # ------------------------------------------------------------------ groups
    async def add_to_group(request: Request, identity: Identity) -> Response:
        group = form_text(await request.form(), "group", _NAME_LIMIT)
        return await action(request, identity, "add_user_to_group", "member-added", GroupName=group)

    async def remove_from_group(request: Request, identity: Identity) -> Response:
        group = form_text(await request.form(), "group", _NAME_LIMIT)
        return await action(
            request, identity, "remove_user_from_group", "member-removed", GroupName=group
        )

    # ------------------------------------------------------------------ access keys
    async def create_key(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        try:
            result = await iam_call(console, request, identity, "create_access_key", UserName=name)
        except AwsCallError as error:
            return await detail(request, identity, name, error, error.status)
        return console.render(
            request,
            "iam_access_key.html",
            identity,
            title="Access key created",
            name=name,
            user_url=USER.url(name),
            key=result.get("AccessKey", {}),
        )

    async def update_key(request: Request, identity: Identity) -> Response:
        form = await request.form()
        status = "Active" if form_text(form, "status") == "Active" else "Inactive"
        return await action(
            request,
            identity,
            "update_access_key",
            "key-updated",
            AccessKeyId=form_text(form, "key_id", 128),
            Status=status,
        )

    async def delete_key(request: Request, identity: Identity) -> Response:
        form = await request.form()
        return await action(
            request,
            identity,
            "delete_access_key",
            "key-deleted",
            AccessKeyId=form_text(form, "key_id", 128),
        )

    # ------------------------------------------------------------------ login profile
    async def set_password(request: Request, identity: Identity) -> Response:
        form = await request.form()
        mode = "update" if form_text(form, "mode") == "update" else "create"
        return await action(
            request,
            identity,
            f"{mode}_login_profile",
            "password-set",
            Password=form_text(form, "password", 512, strip=False),
            PasswordResetRequired=bool(form_text(form, "reset")),
        )

    async def delete_password(request: Request, identity: Identity) -> Response:
        return await action(request, identity, "delete_login_profile", "password-deleted")

    # ------------------------------------------------------------------ MFA
    def mfa_page(
        request: Request,
        identity: Identity,
        name: str,
        serial: str,
        *,
        device: dict[str, Any] | None = None,
        error: AwsCallError | None = None,
    ) -> Response:
        enrolment: dict[str, str] | None = None
        if device is not None:
            seed_text = _text(device.get("Base32StringSeed"))
            png = device.get("QRCodePNG") or b""
            png_bytes = png if isinstance(png, bytes) else str(png).encode("latin-1")
            label = (
                identity.role_account_label if identity.in_role else identity.base_account_label
            ) or identity.account_id
            device_name = serial.rsplit("/", 1)[-1]
            try:
                uri = otpauth_uri(base32_to_seed(seed_text), device_name, label)
            except ValueError:
                uri = ""
            enrolment = {
                "seed": seed_text,
                "qr": "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii"),
                "uri": uri,
            }
        return form_page(
            console,
            request,
            identity,
            "iam_mfa.html",
            "Assign MFA device",
            error,
            name=name,
            user_url=USER.url(name),
            serial=serial,
            enrolment=enrolment,
        )

    async def create_mfa(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        device_name = form_text(await request.form(), "device_name", 256) or name
        try:
            result = await iam_call(
                console,
                request,
                identity,
                "create_virtual_mfa_device",
                VirtualMFADeviceName=device_name,
            )
        except AwsCallError as error:
            return await detail(request, identity, name, error, error.status)
        device = result.get("VirtualMFADevice", {})
        return mfa_page(request, identity, name, str(device.get("SerialNumber", "")), device=device)

    async def enable_mfa(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        serial = form_text(form, "serial", 512)
        return await change(
            console,
            request,
            identity,
            "enable_mfa_device",
            done=USER.done(name, "mfa-enabled"),
            failed=lambda error: mfa_page(request, identity, name, serial, error=error),
            UserName=name,
            SerialNumber=serial,
            AuthenticationCode1=form_text(form, "code1", 16),
            AuthenticationCode2=form_text(form, "code2", 16),
        )

    async def deactivate_mfa(request: Request, identity: Identity) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        serial = form_text(form, "serial", 512)
        try:
            await iam_call(
                console,
                request,
                identity,
                "deactivate_mfa_device",
                UserName=name,
                SerialNumber=serial,
            )
            if form_text(form, "delete") and ":mfa/" in serial:
                await iam_call(
                    console, request, identity, "delete_virtual_mfa_device", SerialNumber=serial
                )
        except AwsCallError as error:
            return await detail(request, identity, name, error, error.status)
        return RedirectResponse(USER.done(name, "mfa-deactivated"), 303)

    # ------------------------------------------------------------------ all virtual devices
    async def devices_page(
        request: Request,
        identity: Identity,
        error: AwsCallError | None = None,
    ) -> Response:
        return await list_page(
            console, request, identity, _DEVICES, failure=error, error=error_dict(error)
        )

    async def mfa_devices(request: Request, identity: Identity) -> Response:
        return await devices_page(request, identity)

    async def delete_device(request: Request, identity: Identity) -> Response:
        serial = form_text(await request.form(), "serial", 512)
        return await change(
            console,
            request,
            identity,
            "delete_virtual_mfa_device",
            done="/console/iam/mfa?done=mfa-deleted",
            failed=lambda error: devices_page(request, identity, error),
            SerialNumber=serial,
        )

    base = f"{USER.list_url}/{{name}}"
    return [
        Route(USER.list_url, page(console, users_page), methods=["GET"]),
        Route("/console/iam/create/user", page(console, create_user_form), methods=["GET"]),
        Route("/console/iam/create/user", page(console, create_user), methods=["POST"]),
        Route(f"{base}/groups/add", page(console, add_to_group), methods=["POST"]),
        Route(f"{base}/groups/remove", page(console, remove_from_group), methods=["POST"]),
        Route(f"{base}/keys/create", page(console, create_key), methods=["POST"]),
        Route(f"{base}/keys/update", page(console, update_key), methods=["POST"]),
        Route(f"{base}/keys/delete", page(console, delete_key), methods=["POST"]),
        Route(f"{base}/password", page(console, set_password), methods=["POST"]),
        Route(f"{base}/password/delete", page(console, delete_password), methods=["POST"]),
        Route(f"{base}/mfa/create", page(console, create_mfa), methods=["POST"]),
        Route(f"{base}/mfa/enable", page(console, enable_mfa), methods=["POST"]),
        Route(f"{base}/mfa/deactivate", page(console, deactivate_mfa), methods=["POST"]),
        Route("/console/iam/mfa", page(console, mfa_devices), methods=["GET"]),
        Route("/console/iam/mfa/delete", page(console, delete_device), methods=["POST"]),
        *iam_attach.routes(console, USER, detail),
    ]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value or "")
