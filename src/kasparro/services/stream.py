"""What one `/stream` client is sent: the events it missed (after its `Last-Event-ID`) from the
outbox, then the live tail from the hub, with no duplicate and no gap at the seam.

The seam: the client subscribes first, so every event after `sub.after` reaches its buffer;
the replay reads the outbox up to `sub.after` only. A client that has seen more than this
process has (it was on another replica, a moment ahead) skips what it already has.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from kasparro.db.errors import DATABASE_DOWN_ERRORS, is_database_down
from kasparro.domain.stream import Gap, StreamFilter
from kasparro.repositories import stream
from kasparro.repositories.driver import Reads
from kasparro.services.stream_hub import Item, Subscription

logger = logging.getLogger("kasparro.stream")

REPLAY_PAGE = 1000


async def client_frames(
    reads: Reads, sub: Subscription, last_event_id: int | None
) -> AsyncIterator[bytes]:
    """The client's SSE frames, several joined per chunk when they come together; ends when
    the client is dropped, or (one log line) when the database is lost during the replay."""
    seen = sub.after
    if last_event_id is not None:
        try:
            async for chunk, upto in replayed(reads, sub.filter, last_event_id, sub.after):
                seen = max(sub.after, upto)
                yield chunk
        except DATABASE_DOWN_ERRORS as exc:
            if not is_database_down(exc):
                raise
            logger.warning("stream: replay cut short, database lost (%s)", type(exc).__name__)
            return
        seen = max(sub.after, last_event_id, seen)
    while not sub.dropped.is_set():
        items = await sub.take()
        fresh = [i for i in items if i.id > seen]
        if fresh:
            seen = fresh[-1].id
            yield _joined(fresh)


def _joined(items: list[Item]) -> bytes:
    return b"".join(i.frame for i in items)


async def replayed(
    reads: Reads, flt: StreamFilter, after: int, through: int
) -> AsyncIterator[tuple[bytes, int]]:
    """The outbox's events in (`after`, `through`] that pass `flt`, page by page as (frames,
    last id read); a `gap` first wherever events were pruned before they could be read."""
    cursor = after
    while True:
        page = await stream.page_after(reads, cursor, REPLAY_PAGE, through)
        items: list[Item] = []
        if page.pruned_through > cursor:
            gap = Gap(cursor, await stream.oldest_id(reads), page.pruned_through)
            items.append(gap)
            cursor = page.pruned_through
        items += [e for e in page.events if e.id > cursor and flt.passes(e)]
        if page.events:
            cursor = max(cursor, page.events[-1].id)
        if items:
            yield _joined(items), cursor
        if len(page.events) < REPLAY_PAGE:
            return
