"""PostgreSQL advisory locks: one runner per source across processes and machines."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kasparro.db.errors import DATABASE_DOWN_ERRORS, is_database_down

logger = logging.getLogger("kasparro.etl")

_TRY_LOCK = text("SELECT pg_try_advisory_lock(hashtext('kasparro.etl.' || :source))")
_PING = text("SELECT 1")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtext('kasparro.etl.' || :source))")


class SourceLocks:
    """Session-level locks held on one dedicated connection for the length of a run."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.conn: AsyncConnection | None = None
        self.held: list[str] = []
        self.lost = False  # the session ended: nothing left to unlock

    async def acquire(self, sources: list[str]) -> list[str]:
        """Try to lock every source; returns those held elsewhere (and then holds none)."""
        conn = await self.engine.connect()
        self.conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        busy = []
        for source in sources:
            if await self.conn.scalar(_TRY_LOCK, {"source": source}):
                self.held.append(source)
            else:
                busy.append(source)
        if busy:
            await self.release()
        return busy

    async def wait_lost(self, interval: float = 1.0) -> None:
        """Return once the session holding the locks has ended, and the locks with it."""
        assert self.conn is not None
        while True:
            await asyncio.sleep(interval)
            try:
                await self.conn.execute(_PING)
            except DATABASE_DOWN_ERRORS as exc:
                if not is_database_down(exc):
                    raise
                logger.error("the session holding the ETL locks ended: %s", type(exc).__name__)
                self.lost = True
                return

    async def release(self) -> None:
        if self.conn is None:
            return
        try:
            if self.lost:
                await self.conn.invalidate()
                return
            for source in self.held:
                await self.conn.execute(_UNLOCK, {"source": source})
            await self.conn.close()  # closing the session would free the locks anyway
        except DATABASE_DOWN_ERRORS as exc:
            if not is_database_down(exc):
                raise
            # the session died with the database, and its locks with it
            logger.warning("lock connection lost: %s", type(exc).__name__)
            await self.conn.invalidate()
        finally:
            self.held = []
            self.conn = None
            self.lost = False
