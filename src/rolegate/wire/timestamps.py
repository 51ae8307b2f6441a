"""Timestamps as AWS protocols write them (shared by the Query and REST-XML serializers)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

__all__ = ["format_timestamp", "to_utc"]


def to_utc(value: Any) -> datetime:
    """A datetime (naive = UTC), epoch number or ISO string as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise TypeError(f"not a timestamp: {value!r}")


def format_timestamp(
    value: Any, timestamp_format: str = "iso8601", *, always_millis: bool = False
) -> str:
    """`iso8601` (`...T17:50:30Z`, fractions when present; S3 always writes `.000`),
    `rfc822` (HTTP date) or `unixTimestamp`."""
    moment = to_utc(value)
    fmt = timestamp_format.lower()
    if fmt == "rfc822":
        return formatdate(int(moment.timestamp()), usegmt=True)
    if fmt == "unixtimestamp":
        seconds = moment.timestamp()
        if seconds.is_integer():
            return str(int(seconds))
        return f"{seconds:.3f}" if always_millis else repr(round(seconds, 6))
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    micro = moment.microsecond
    if always_millis:
        text += f".{micro // 1000:03d}"
    elif micro:
        text += f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"
    return text + "Z"
