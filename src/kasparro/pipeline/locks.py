"""PostgreSQL advisory locks: one runner per source across processes and machines."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, PendingRollbackError
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

    async def acquire(self, sources: list[str], *, all_or_nothing: bool = True) -> list[str]:
        """Try to lock every source; returns those held elsewhere. Then, if `all_or_nothing`,
        holds none; otherwise keeps the locks it got (listed in `held`)."""
        conn = await self.engine.connect()
        self.conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        busy = []
        for source in sources:
            if await self.conn.scalar(_TRY_LOCK, {"source": source}):
                self.held.append(source)
            else:
                busy.append(source)
        if busy and (all_or_nothing or not self.held):
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
        except PendingRollbackError:
            # a statement on this connection was cancelled mid-flight (the watchdog's ping when
            # the run ends): dropping the session frees its locks just as unlocking would
            await self.conn.invalidate()
        finally:
            self.held = []
            self.conn = None
            self.lost = False


_TRY_LEASE = text("SELECT pg_try_advisory_lock(hashtext('kasparro.scheduler'))")
_UNLEASE = text("SELECT pg_advisory_unlock(hashtext('kasparro.scheduler'))")


class SchedulerLease:
    """Which process schedules: the one holding this lock, on a connection it keeps. Other
    web workers and replicas stand by and take over when that connection goes away."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.conn: AsyncConnection | None = None

    async def hold(self) -> bool:
        """True while this process holds the lease (taking it when it is free)."""
        if self.conn is not None:
            try:
                await self.conn.execute(text("SELECT 1"))  # still ours while the session lives
                return True
            except (DBAPIError, OSError):  # the session died with its lock; try afresh below
                await self.release()
        conn = await self.engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            taken = bool(await conn.scalar(_TRY_LEASE))
        except BaseException:
            await conn.close()
            raise
        if taken:
            self.conn = conn  # kept open: its session is what holds the lease
        else:
            await conn.close()
        return taken

    async def release(self) -> None:
        """Unlock before the connection goes back to the pool (which keeps the session)."""
        if self.conn is None:
            return
        conn, self.conn = self.conn, None
        try:
            await conn.execute(_UNLEASE)
            await conn.close()
        except (DBAPIError, OSError):  # a dead session holds no lock; drop the connection
            with contextlib.suppress(DBAPIError, OSError):
                await conn.invalidate()
