"""Run a blocking iterator in a worker thread, one item ahead of its consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


async def prefetched(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Yield items while the thread already parses the next one.

    File parsing then overlaps the database writes of the previous batch, and the
    event loop (which also serves the API) never blocks on file I/O.
    """
    pending = asyncio.ensure_future(asyncio.to_thread(next, iterator, _DONE))
    try:
        while True:
            item = await pending
            if item is _DONE:
                return
            pending = asyncio.ensure_future(asyncio.to_thread(next, iterator, _DONE))
            yield item  # type: ignore[misc]
    finally:
        if not pending.done():
            await asyncio.wait([pending])
