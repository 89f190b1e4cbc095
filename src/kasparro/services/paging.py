"""Paging rules shared by the read services: one row past the page says a next one exists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def trim_extra(rows: list[Any], limit: int) -> bool:
    """For a query asked for `limit + 1` rows: whether the extra one came; drops it."""
    more = len(rows) > limit
    del rows[limit:]
    return more


async def exact_total(
    returned: int, first_page: bool, more: bool, count: Callable[[], Awaitable[int]]
) -> int:
    """The whole result is on the page when it is the first and nothing follows: no count."""
    return returned if first_page and not more else await count()
