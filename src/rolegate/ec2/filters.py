"""EC2's `Filters` (`Name` and `Values`, `*` and `?` wildcards; values OR, filters AND) and
its `MaxResults` / `NextToken` paging."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final, TypeVar

from .errors import ec2_error, invalid_parameter

__all__ = ["Getter", "matches", "page", "parse_filters"]

T = TypeVar("T")
# A filter name's values on one item (several for a tag filter or a list attribute).
Getter = Callable[[Any], Sequence[str]]


@lru_cache(maxsize=512)
def _wildcard(value: str) -> re.Pattern[str]:
    """`*` any run, `?` one character, `\\` escapes them (EC2's filter values)."""
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def parse_filters(
    filters: Sequence[Mapping[str, Any]] | None,
    getters: Mapping[str, Getter],
) -> list[tuple[Getter, list[str]]]:
    """The filters of a request, each with how it reads an item; unknown names refused."""
    parsed: list[tuple[Getter, list[str]]] = []
    for item in filters or ():
        name = str(item.get("Name", ""))
        values = [str(value) for value in item.get("Values", [])]
        if name.startswith("tag:") and len(name) > 4:
            key = name[4:]
            parsed.append((_tag_getter(key), values))
            continue
        getter = getters.get(name)
        if getter is None:
            raise invalid_parameter(f"The filter '{name}' is invalid")
        parsed.append((getter, values))
    return parsed


def _tag_getter(key: str) -> Getter:
    def value(item: Any) -> Sequence[str]:
        tags: Mapping[str, str] = item.tags
        return [tags[key]] if key in tags else []

    return value


def matches(item: Any, filters: Sequence[tuple[Getter, list[str]]]) -> bool:
    for getter, values in filters:
        present = getter(item)
        if not any(_wildcard(value).fullmatch(have) for value in values for have in present):
            return False
    return True


_TOKEN_PREFIX: Final = "rg1:"


def page(
    items: Sequence[T],
    key: Callable[[T], str],
    max_results: int | None,
    next_token: str | None,
    *,
    low: int = 5,
    high: int = 1000,
) -> tuple[list[T], str | None]:
    """One page of `items` (sorted by `key`): those after the token's key, at most
    `max_results`; the token of the next page when more remain."""
    start = 0
    if next_token:
        try:
            after = base64.urlsafe_b64decode(next_token.encode("ascii")).decode()
        except (binascii.Error, UnicodeError, ValueError):
            after = ""
        if not after.startswith(_TOKEN_PREFIX):
            raise ec2_error("InvalidParameterValue", "Unable to parse pagination token")
        after = after[len(_TOKEN_PREFIX) :]
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    if max_results is None:
        return list(items[start:]), None
    if not low <= max_results <= high:
        raise invalid_parameter(
            f"Value ( {max_results} ) for parameter maxResults is invalid. "
            f"Expecting a value between {low} and {high}."
        )
    chosen = list(items[start : start + max_results])
    if start + max_results >= len(items):
        return chosen, None
    token = base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{key(chosen[-1])}".encode()).decode()
    return chosen, token
