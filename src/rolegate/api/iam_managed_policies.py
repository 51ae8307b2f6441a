"""IAM managed policies: policies, versions, attachments, entities, authorization details."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import AccessDenied
from ..iam import managed_policies as policies
from ..iam.aws_managed import is_aws_policy_arn
from ..ids import iam_arn
from .iam_common import (
    account_resource,
    collection_resource,
    group_resource,
    page,
    policy_resource,
    role_resource,
    user_resource,
)
from .registry import OperationContext, ResourceFn, operation

__all__: list[str] = []


def _new_policy_resource(ctx: OperationContext) -> str:
    return iam_arn(ctx.account_id, "policy", ctx.params.get("Path", "/"), ctx.params["PolicyName"])


def _customer_only(ctx: OperationContext, action: str) -> None:
    """AWS managed policies are read-only for every account, whatever its policies say."""
    arn = str(ctx.params["PolicyArn"])
    if is_aws_policy_arn(arn):
        raise AccessDenied(
            f"User: {ctx.caller.arn} is not authorized to perform: iam:{action} on resource: "
            f"policy {arn}"
        )


# --------------------------------------------------------------------------- policies


@operation("iam", "CreatePolicy", resource=_new_policy_resource, writes=True)
def create_policy(ctx: OperationContext) -> Mapping[str, Any]:
    params = ctx.params
    row = policies.create_policy(
        ctx.uow,
        ctx.account_id,
        params["PolicyName"],
        params["PolicyDocument"],
        path=params.get("Path", "/"),
        description=params.get("Description"),
        tags=params.get("Tags", []),
    )
    usage = policies.PolicyUsage({}, {})
    return {"Policy": policies.describe_policy(ctx.uow, row, usage)}


@operation("iam", "GetPolicy", resource=policy_resource())
def get_policy(ctx: OperationContext) -> Mapping[str, Any]:
    row = policies.get_policy(ctx.uow, ctx.account_id, ctx.params["PolicyArn"])
    usage = policies.policy_usage(ctx.uow, ctx.account_id)
    return {"Policy": policies.describe_policy(ctx.uow, row, usage)}


@operation("iam", "DeletePolicy", resource=policy_resource(), writes=True)
def delete_policy(ctx: OperationContext) -> None:
    _customer_only(ctx, "DeletePolicy")
    policies.delete_policy(ctx.uow, ctx.account_id, ctx.params["PolicyArn"])


@operation("iam", "ListPolicies", resource=collection_resource("policy"))
def list_policies(ctx: OperationContext) -> Mapping[str, Any]:
    params = ctx.params
    found = policies.list_policies(
        ctx.uow,
        ctx.account_id,
        scope=params.get("Scope", "All"),
        only_attached=bool(params.get("OnlyAttached", False)),
        path_prefix=params.get("PathPrefix", "/"),
        usage_filter=params.get("PolicyUsageFilter"),
    )
    return page(ctx, found, "Policies")


# --------------------------------------------------------------------------- versions


@operation("iam", "CreatePolicyVersion", resource=policy_resource(), writes=True)
def create_policy_version(ctx: OperationContext) -> Mapping[str, Any]:
    _customer_only(ctx, "CreatePolicyVersion")
    version = policies.create_policy_version(
        ctx.uow,
        ctx.account_id,
        ctx.params["PolicyArn"],
        ctx.params["PolicyDocument"],
        set_as_default=bool(ctx.params.get("SetAsDefault", False)),
    )
    return {"PolicyVersion": version}


@operation("iam", "GetPolicyVersion", resource=policy_resource())
def get_policy_version(ctx: OperationContext) -> Mapping[str, Any]:
    version = policies.get_policy_version(
        ctx.uow, ctx.account_id, ctx.params["PolicyArn"], ctx.params["VersionId"]
    )
    return {"PolicyVersion": version}


@operation("iam", "ListPolicyVersions", resource=policy_resource())
def list_policy_versions(ctx: OperationContext) -> Mapping[str, Any]:
    versions = policies.list_policy_versions(ctx.uow, ctx.account_id, ctx.params["PolicyArn"])
    return page(ctx, versions, "Versions")


@operation("iam", "DeletePolicyVersion", resource=policy_resource(), writes=True)
def delete_policy_version(ctx: OperationContext) -> None:
    _customer_only(ctx, "DeletePolicyVersion")
    policies.delete_policy_version(
        ctx.uow, ctx.account_id, ctx.params["PolicyArn"], ctx.params["VersionId"]
    )


@operation("iam", "SetDefaultPolicyVersion", resource=policy_resource(), writes=True)
def set_default_policy_version(ctx: OperationContext) -> None:
    _customer_only(ctx, "SetDefaultPolicyVersion")
    policies.set_default_policy_version(
        ctx.uow, ctx.account_id, ctx.params["PolicyArn"], ctx.params["VersionId"]
    )


# --------------------------------------------------------------------------- attachments


def _register_attachments(kind: str, label: str, resource: ResourceFn) -> None:
    param = f"{label}Name"

    def attach(ctx: OperationContext) -> None:
        policies.attach_policy(
            ctx.uow, ctx.account_id, kind, ctx.params[param], ctx.params["PolicyArn"]
        )

    def detach(ctx: OperationContext) -> None:
        policies.detach_policy(
            ctx.uow, ctx.account_id, kind, ctx.params[param], ctx.params["PolicyArn"]
        )

    def list_attached(ctx: OperationContext) -> Mapping[str, Any]:
        found = policies.list_attached_policies(
            ctx.uow, ctx.account_id, kind, ctx.params[param], ctx.params.get("PathPrefix", "/")
        )
        return page(ctx, found, "AttachedPolicies")

    operation("iam", f"Attach{label}Policy", resource=resource, writes=True)(attach)
    operation("iam", f"Detach{label}Policy", resource=resource, writes=True)(detach)
    operation("iam", f"ListAttached{label}Policies", resource=resource)(list_attached)


_register_attachments("user", "User", user_resource())
_register_attachments("group", "Group", group_resource())
_register_attachments("role", "Role", role_resource())


@operation("iam", "ListEntitiesForPolicy", resource=policy_resource())
def list_entities_for_policy(ctx: OperationContext) -> Mapping[str, Any]:
    params = ctx.params
    found = policies.list_entities_for_policy(
        ctx.uow,
        ctx.account_id,
        params["PolicyArn"],
        entity_filter=params.get("EntityFilter"),
        path_prefix=params.get("PathPrefix", "/"),
        usage_filter=params.get("PolicyUsageFilter"),
    )
    result = page(ctx, found, "_entries")
    entries: list[tuple[str, dict[str, str]]] = result.pop("_entries")
    lists: dict[str, list[dict[str, str]]] = {
        "PolicyGroups": [],
        "PolicyUsers": [],
        "PolicyRoles": [],
    }
    for key, entry in entries:
        lists[key].append(entry)
    return {**lists, **result}


# --------------------------------------------------------------------------- account details

_DETAIL_LISTS = {
    "User": "UserDetailList",
    "Group": "GroupDetailList",
    "Role": "RoleDetailList",
    "LocalManagedPolicy": "Policies",
    "AWSManagedPolicy": "Policies",
}


@operation("iam", "GetAccountAuthorizationDetails", resource=account_resource)
def get_account_authorization_details(ctx: OperationContext) -> Mapping[str, Any]:
    filters = list(ctx.params.get("Filter", []))
    refs = policies.authorization_detail_refs(ctx.uow, ctx.account_id, filters)
    result = page(
        ctx, refs, "_entries", lambda ref: policies.render_detail(ctx.uow, ctx.account_id, ref)
    )
    entries: list[tuple[str, dict[str, Any]]] = result.pop("_entries")
    wanted = filters or list(_DETAIL_LISTS)
    lists: dict[str, list[dict[str, Any]]] = {_DETAIL_LISTS[kind]: [] for kind in wanted}
    for key, entry in entries:
        lists.setdefault(key, []).append(entry)
    return {**lists, **result}
