"""Where reads go: a streaming replica (`DATABASE_READ_URL`) while it answers, else the primary.

A request that finds the replica unreachable marks it down and repeats its read on the
primary; while it is down every read goes to the primary, and a watcher re-probes it every
few seconds (so no request waits on a dead replica twice). `/health` probes it itself.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.observability.metrics import READ_REPLICA_FALLBACKS, READ_REPLICA_UP

REPROBE_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 2.0
_UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class ReadRoute:
    """The read pool and engine a request uses, and the replica's last known state."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        engine: AsyncEngine,
        replica_pool: asyncpg.Pool | None = None,
        replica_engine: AsyncEngine | None = None,
    ) -> None:
        self.primary_pool, self.primary_engine = pool, engine
        self.replica_pool, self.replica_engine = replica_pool, replica_engine
        self.connected = False
        if replica_pool is not None:
            self._set(True)  # optimistic: the first read finds out

    @property
    def configured(self) -> bool:
        return self.replica_pool is not None

    def pools(self) -> tuple[asyncpg.Pool, asyncpg.Pool | None]:
        """The pool to read from, and the one to fall back to (None: no fallback)."""
        if self.replica_pool is not None and self.connected:
            return self.replica_pool, self.primary_pool
        return self.primary_pool, None

    def engine(self) -> AsyncEngine:
        if self.replica_engine is not None and self.connected:
            return self.replica_engine
        return self.primary_engine

    def mark_down(self) -> None:
        """A read found the replica unreachable; the primary serves reads until a probe succeeds."""
        if self.connected:
            READ_REPLICA_FALLBACKS.inc()
        self._set(False)

    def _set(self, connected: bool) -> None:
        self.connected = connected
        READ_REPLICA_UP.set(1 if connected else 0)

    async def probe(self) -> bool:
        """`SELECT 1` on the replica within 2 s (a stale pooled connection gets one retry)."""
        if self.replica_pool is None:
            return False
        ok = False
        for _ in (1, 2):
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                    async with self.replica_pool.acquire() as conn:
                        await conn.fetchval("SELECT 1")
                ok = True
                break
            except _UNREACHABLE:  # pooled connections may predate a restart: replace them all
                await self.replica_pool.expire_connections()
        self._set(ok)
        return ok

    async def watch(self) -> None:
        """Re-probe a replica marked down, every few seconds, until cancelled."""
        while True:
            await asyncio.sleep(REPROBE_SECONDS)
            if not self.connected:
                await self.probe()

    async def close(self) -> None:
        if self.replica_pool is not None:
            with contextlib.suppress(*_UNREACHABLE):
                await asyncio.wait_for(self.replica_pool.close(), 5)
        if self.replica_engine is not None:
            await self.replica_engine.dispose()
