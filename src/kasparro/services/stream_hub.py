"""One LISTEN connection per API process: on each NOTIFY it reads the outbox's new events once
and hands them to every `/stream` client of this process whose filter lets them through.

Each client has a bounded buffer (STREAM_CLIENT_QUEUE events): a client that falls that far
behind (it stopped reading, so its response is stuck in a send) is dropped, its stream ended,
rather than buffered without bound. When the connection is lost (the database restarted),
the hub connects again, LISTENs, and reads from the outbox everything after the last id it
had: nothing committed in between is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from kasparro.db.errors import DATABASE_DOWN_ERRORS, is_database_down
from kasparro.domain.stream import Event, Gap, StreamFilter
from kasparro.observability.metrics import STREAM_CLIENTS, STREAM_DROPPED
from kasparro.repositories import stream

logger = logging.getLogger("kasparro.stream")

PAGE_EVENTS = 1000  # events read per statement, at most
POLL_SECONDS = 5.0  # without a NOTIFY, read anyway this often: also notices a dead connection
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits between attempts, the last repeated

Item = Event | Gap


class Subscription:
    """One client's place in the stream: events after `after` reach it through `take`; those up
    to `after` (committed before it subscribed) it reads from the outbox itself."""

    def __init__(self, flt: StreamFilter, after: int, limit: int) -> None:
        self.filter = flt
        self.after = after
        self.limit = limit
        self.dropped = asyncio.Event()  # set when it fell `limit` events behind
        self._pending: deque[Item] = deque()
        self._ready = asyncio.Event()

    def push(self, items: Sequence[Item]) -> bool:
        """Buffer `items`; False when that puts it more than `limit` behind."""
        if not items:
            return True
        self._pending.extend(items)
        if len(self._pending) > self.limit:
            return False
        self._ready.set()
        return True

    def drop(self) -> None:
        self._pending.clear()
        self.dropped.set()
        self._ready.set()  # a `take` waiting returns, empty

    async def take(self) -> list[Item]:
        """Everything buffered, once there is something (empty once dropped)."""
        await self._ready.wait()
        self._ready.clear()
        items = list(self._pending)
        self._pending.clear()
        return items


class StreamHub:
    def __init__(
        self, dsn: str, *, client_queue: int, max_clients: int, replay_seconds: int
    ) -> None:
        self.dsn = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.client_queue = client_queue
        self.max_clients = max_clients
        self.replay_seconds = replay_seconds
        # Each read hands out at most half a client's buffer at once, so a client keeping up
        # (its buffer emptied between reads) always has room for a read's worth.
        self.page = max(1, min(PAGE_EVENTS, client_queue // 2))
        self.last_id = 0  # every event up to it has been handed out
        self._subs: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._start = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._next_prune = 0.0

    @property
    def clients(self) -> int:
        return len(self._subs)

    @property
    def full(self) -> bool:
        return len(self._subs) >= self.max_clients

    async def start(self) -> None:
        """Connect, unless connected already (a database unreachable raises, for a 503)."""
        if self._task is None:
            await self._started()

    def subscribe(self, flt: StreamFilter) -> Subscription:
        """A new client's subscription (after `start`): it gets every event after `last_id`."""
        assert self._task is not None, "start the hub first"
        sub = Subscription(flt, self.last_id, self.client_queue)
        self._subs.add(sub)
        STREAM_CLIENTS.set(len(self._subs))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        STREAM_CLIENTS.set(len(self._subs))

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _started(self) -> None:
        async with self._start:
            if self._task is not None:
                return
            conn = await self._connect()
            try:
                self.last_id = await stream.newest_id(conn)
            except BaseException:
                await _close_quietly(conn)
                raise
            # a context of its own: the hub's log lines are not the first client's request's
            self._task = asyncio.create_task(self._run(conn), context=contextvars.Context())
            self._task.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        """A hub that failed (a bug, not a lost database) ends its clients' streams, so they
        reconnect, and starts afresh with the next client."""
        if task.cancelled() or task.exception() is None:
            return
        logger.error("stream hub stopped", exc_info=task.exception())
        for sub in list(self._subs):
            self.unsubscribe(sub)
            sub.drop()
        if self._task is task:
            self._task = None

    async def _connect(self) -> Any:
        """A connection LISTENing on the channel (before anything is read from the outbox, so
        an event committed meanwhile is either read or notified)."""
        conn = await asyncpg.connect(self.dsn, timeout=5, command_timeout=30)
        try:
            await conn.add_listener(stream.CHANNEL, self._notified)
            conn.add_termination_listener(lambda _conn: self._wake.set())
        except BaseException:
            await _close_quietly(conn)
            raise
        return conn

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def _run(self, conn: Any) -> None:
        while True:
            try:
                await self._follow(conn)
            except DATABASE_DOWN_ERRORS as exc:
                if not is_database_down(exc):
                    raise
                logger.warning("stream: database connection lost (%s); reconnecting",
                               type(exc).__name__)  # fmt: skip
            finally:
                await _close_quietly(conn)
            conn = await self._reconnect()

    async def _reconnect(self) -> Any:
        attempt = 0
        while True:
            await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
            attempt += 1
            try:
                conn = await self._connect()
            except DATABASE_DOWN_ERRORS as exc:
                if not is_database_down(exc):
                    raise
                continue
            logger.info("stream: reconnected after %d attempt(s)", attempt)
            return conn

    async def _follow(self, conn: Any) -> None:
        """Hand out new events as they are notified, until the connection fails."""
        while True:
            self._wake.clear()
            await self._catch_up(conn)
            await self._prune(conn)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            if conn.is_closed():
                raise asyncpg.exceptions.ConnectionDoesNotExistError("connection closed")

    async def _catch_up(self, conn: Any) -> None:
        while True:
            page = await stream.page_after(conn, self.last_id, self.page)
            if page.pruned_through > self.last_id:  # lost while disconnected for too long
                oldest = page.events[0].id if page.events else None
                self._fan_out([Gap(self.last_id, oldest, page.pruned_through)])
                self.last_id = page.pruned_through
            if page.events:
                self._fan_out(page.events)
                self.last_id = max(self.last_id, page.events[-1].id)
            if len(page.events) < self.page:
                return

    async def _prune(self, conn: Any) -> None:
        """Events past the replay window go, at most every 30 s (or the window, if shorter)."""
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + min(30.0, self.replay_seconds)
        await stream.prune(conn, self.replay_seconds)

    def _fan_out(self, items: Sequence[Item]) -> None:
        """Each distinct filter is applied once per page, not once per client."""
        passing: dict[StreamFilter, list[Item]] = {}
        for sub in list(self._subs):
            chosen = passing.get(sub.filter)
            if chosen is None:
                chosen = passing[sub.filter] = _through(sub.filter, items)
            if not sub.push(chosen):
                self._drop(sub)

    def _drop(self, sub: Subscription) -> None:
        self.unsubscribe(sub)
        sub.drop()
        STREAM_DROPPED.inc()
        logger.info("stream: dropped a client more than %d events behind", self.client_queue)


def _through(flt: StreamFilter, items: Iterable[Item]) -> list[Item]:
    return [i for i in items if isinstance(i, Gap) or flt.passes(i)]


async def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(*DATABASE_DOWN_ERRORS):
        await asyncio.wait_for(conn.close(), 5)
