"""The account password policy and users changing their own password.

GetAccountPasswordPolicy, UpdateAccountPasswordPolicy, DeleteAccountPasswordPolicy,
ChangePassword. ChangePassword and GetAccountPasswordPolicy authorize themselves: the account
policy's AllowUsersToChangePassword stands in for an identity-based allow of
iam:ChangePassword on the user's own ARN and of iam:GetAccountPasswordPolicy
(`passwords.self_service_allowed`), otherwise the user's policies decide as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import AccessDenied
from ..iam import passwords
from ..policy import Request, evaluate
from ..policy.explain import failure_details
from .iam_common import account_resource
from .registry import OperationContext, operation

__all__: list[str] = []


def _authorize(
    ctx: OperationContext, action: str, resource: str, policy: passwords.PasswordPolicy
) -> None:
    caller = ctx.caller
    request = Request(
        caller.principal,
        action,
        resource,
        context=ctx.services.evaluation_context(ctx),
        resource_account=ctx.account_id,
    )
    decision = evaluate(request, caller.policies)
    if decision.allowed:
        return
    if caller.user_id is not None and passwords.self_service_allowed(policy, decision):
        return
    raise AccessDenied(
        f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} "
        f"{decision.aws_reason(action)}".rstrip(),
        explanation=failure_details(request, decision),
    )


@operation("iam", "GetAccountPasswordPolicy", resource=account_resource, gateway_authorizes=False)
def get_account_password_policy(ctx: OperationContext) -> Mapping[str, Any]:
    policy = passwords.effective_policy(ctx.uow, ctx.account_id)
    _authorize(ctx, "iam:GetAccountPasswordPolicy", "*", policy)
    return {"PasswordPolicy": passwords.get_account_password_policy(ctx.uow, ctx.account_id)}


@operation("iam", "UpdateAccountPasswordPolicy", resource=account_resource, writes=True)
def update_account_password_policy(ctx: OperationContext) -> None:
    passwords.update_account_password_policy(ctx.uow, ctx.account_id, ctx.params)


@operation("iam", "DeleteAccountPasswordPolicy", resource=account_resource, writes=True)
def delete_account_password_policy(ctx: OperationContext) -> None:
    passwords.delete_account_password_policy(ctx.uow, ctx.account_id)


# Not `writes`: authorized in the read transaction, then the change runs in its own write
# transaction, which commits a wrong old password's failure count before the error answers.
@operation(
    "iam",
    "ChangePassword",
    resource=lambda ctx: ctx.caller.arn,
    gateway_authorizes=False,
    may_write=True,
)
def change_password(ctx: OperationContext) -> None:
    caller = ctx.caller
    if caller.user_id is None:
        raise passwords.InvalidUserType(
            "ChangePassword changes the calling IAM user's password: it cannot be called with "
            "root user or role credentials."
        )
    policy = passwords.effective_policy(ctx.uow, ctx.account_id)
    _authorize(ctx, "iam:ChangePassword", caller.arn, policy)
    with ctx.services.database.write() as uow:
        failure = passwords.change_password(
            uow,
            ctx.account_id,
            caller.user_id,
            ctx.params["OldPassword"],
            ctx.params["NewPassword"],
            ctx.source_ip,
        )
    if failure is not None:
        raise failure
