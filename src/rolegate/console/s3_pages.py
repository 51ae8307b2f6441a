"""(placeholder: filled in by the s3_pages work)"""

from __future__ import annotations

from starlette.routing import Route

from .web import Console

__all__ = ["routes"]


def routes(console: Console) -> list[Route]:
    return []
