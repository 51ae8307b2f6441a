"""Account-level IAM calls: aliases and the account summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..iam import accounts
from .iam_common import account_resource, page
from .registry import OperationContext, operation

__all__: list[str] = []


@operation("iam", "CreateAccountAlias", resource=account_resource, writes=True)
def create_account_alias(ctx: OperationContext) -> None:
    accounts.create_account_alias(ctx.uow, ctx.account_id, ctx.params["AccountAlias"])


@operation("iam", "DeleteAccountAlias", resource=account_resource, writes=True)
def delete_account_alias(ctx: OperationContext) -> None:
    accounts.delete_account_alias(ctx.uow, ctx.account_id, ctx.params["AccountAlias"])


@operation("iam", "ListAccountAliases", resource=account_resource)
def list_account_aliases(ctx: OperationContext) -> Mapping[str, Any]:
    return page(ctx, accounts.list_account_aliases(ctx.uow, ctx.account_id), "AccountAliases")


@operation("iam", "GetAccountSummary", resource=account_resource)
def get_account_summary(ctx: OperationContext) -> Mapping[str, Any]:
    return {"SummaryMap": accounts.account_summary(ctx.uow, ctx.account_id)}
