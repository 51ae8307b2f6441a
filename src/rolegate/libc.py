"""C library functions that Python's os module does not offer (Linux/glibc only)."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

__all__ = ["libc_function"]


def libc_function(name: str, argtypes: list[Any], restype: Any) -> Any | None:
    """`name` from the C library with its signature set; None where it does not exist."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        function = getattr(ctypes.CDLL(library, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = restype
    return function
