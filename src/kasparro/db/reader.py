"""Read-only queries on a plain asyncpg pool: what every `/data` and `/assets` request uses.

No ORM, no liveness ping per checkout and no transaction: for a small query those cost
more than the query (bench/api_latency.py). A connection found dead (the server restarted)
is replaced and the statement repeated once, which is safe because it only reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from kasparro.db.errors import DRIVER_DOWN_ERRORS, is_database_down

_DEAD = (*DRIVER_DOWN_ERRORS, asyncpg.exceptions.InterfaceError)


async def create_read_pool(
    url: str, max_size: int = 10, statement_timeout_ms: int = 5000
) -> asyncpg.Pool:
    """Connects lazily (min_size 0), so the app starts while the database is down.

    The server cancels any statement of these connections running longer than
    `statement_timeout_ms` (0: never), waiting for a lock included; the client-side
    `command_timeout` is only a backstop for a server that stopped answering."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return await asyncpg.create_pool(
        dsn, min_size=0, max_size=max_size, timeout=5,
        command_timeout=max(60.0, statement_timeout_ms / 1000 + 10),
        server_settings={"statement_timeout": str(statement_timeout_ms)},
    )  # fmt: skip


class Reader:
    """One request's reads: `fetch`, `fetchval` and `fetchrow` as on an asyncpg connection.

    With a `fallback` pool (the primary, when `pool` is a replica), a replica found
    unreachable is reported through `on_fallback` and the read repeated on the fallback."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        fallback: asyncpg.Pool | None = None,
        on_fallback: Callable[[], None] | None = None,
    ) -> None:
        self.pool = pool
        self.fallback = fallback
        self.on_fallback = on_fallback
        self.conn: Any = None

    def _fall_back(self) -> bool:
        if self.fallback is None:
            return False
        self.pool, self.fallback = self.fallback, None
        if self.on_fallback is not None:
            self.on_fallback()
        return True

    async def _acquire(self) -> Any:
        try:
            return await self.pool.acquire()
        except (*_DEAD, OSError, TimeoutError) as exc:
            if not is_database_down(exc) or not self._fall_back():
                raise
            return await self.pool.acquire()

    async def _call(self, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        failures = 0
        while True:
            if self.conn is None:
                self.conn = await self._acquire()
            try:
                return await getattr(self.conn, method)(sql, *args)
            except _DEAD as exc:
                if not is_database_down(exc):
                    raise
                await self.close()  # the pool drops a closed connection; take another
                if self._fall_back():
                    continue
                failures += 1
                if failures == 2:
                    raise

    async def connection(self) -> Any:
        """The connection this reader holds, taken first if need be (an export runs its own
        transaction on it, so it gets no repeat on a dead connection)."""
        if self.conn is None:
            self.conn = await self._acquire()
        return self.conn

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        rows: list[Any] = await self._call("fetch", sql, args)
        return rows

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._call("fetchval", sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._call("fetchrow", sql, args)

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await self.pool.release(conn)
