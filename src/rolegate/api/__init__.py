"""Query-API adapters: one function per AWS operation, registered in `registry`.

Importing this package registers every operation.
"""

from . import (  # noqa: F401  (registration side effects)
    accessanalyzer,
    accessanalyzer_validate,
    cloudtrail,
    ec2,
    iam_accounts,
    iam_credentials,
    iam_groups,
    iam_inline_policies,
    iam_keys,
    iam_managed_policies,
    iam_passwords,
    iam_roles,
    iam_simulate,
    iam_users,
    sts,
)
from .registry import REGISTRY, Operation, OperationContext

__all__ = ["REGISTRY", "Operation", "OperationContext"]
