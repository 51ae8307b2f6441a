"""Query-API adapters: one function per AWS operation, registered in `registry`.

Importing this package registers every operation.
"""

from . import iam_accounts, iam_keys, iam_users  # noqa: F401  (registration side effects)
from .registry import REGISTRY, Operation, OperationContext

__all__ = ["REGISTRY", "Operation", "OperationContext"]
