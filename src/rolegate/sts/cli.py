"""`rolegate keys rotate|list`: the token keys that seal and open session tokens.

A rotation writes the store only: running servers (every node of a PostgreSQL store) seal
with the new key within their key ring's reload interval, and open the old keys' tokens
until those expire.
"""

from __future__ import annotations

import json

import click

from ..cli_store import open_store, store_options
from .keyring import list_token_keys, rotate_token_keys

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Rotate and list the token keys (session tokens, console sessions)."""


@keys.command("rotate")
@store_options
def keys_rotate(data: str, db: str | None) -> None:
    """Add a new current key; print it, the keys it retired and the expired keys deleted."""
    database = open_store(data, db)
    try:
        with database.write() as uow:
            rotation = rotate_token_keys(uow)
    finally:
        database.dispose()
    click.echo(json.dumps(rotation.to_json()))


@keys.command("list")
@store_options
def keys_list(data: str, db: str | None) -> None:
    """List the token keys (id, Current or Retired, creation time) as JSON."""
    database = open_store(data, db)
    try:
        with database.read() as uow:
            listed = list_token_keys(uow)
    finally:
        database.dispose()
    click.echo(json.dumps(listed, indent=2))
