"""Make the monthly partitions of `quotes` a batch needs before the batch is stored.

The months known to exist are cached per engine (one database), so a batch of months already
seen costs nothing. A month is made in its own short transaction, so the parent's lock a new
partition takes is not held for the rest of the batch; if the batch's own transaction already
holds a lock on `quotes` (the wait would never end), it is made in that transaction instead.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

import asyncpg
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.quote import Quote
from kasparro.repositories import partitions
from kasparro.repositories.driver import Tx, driver_connection
from kasparro.repositories.partitions import Month

_known: weakref.WeakKeyDictionary[Engine, set[Month]] = weakref.WeakKeyDictionary()
_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '5s'"


def forget(engine: AsyncEngine, dropped: Iterable[Month]) -> None:
    """Drop months from the cache (retention dropped their partitions)."""
    _known.get(engine.sync_engine, set()).difference_update(dropped)


async def ensure_for(tx: Tx, quotes: Iterable[Quote]) -> None:
    """Make the partition of every month among `quotes` that does not exist yet."""
    engine = tx.conn.engine
    known = _known.setdefault(engine.sync_engine, set())
    for month in sorted({Month.of(q.created_at) for q in quotes} - known):
        await _make(engine, tx, month)
        known.add(month)


async def _make(engine: AsyncEngine, tx: Tx, month: Month) -> None:
    try:
        async with engine.begin() as conn:
            await conn.execute(text(_LOCK_TIMEOUT))
            await partitions.ensure(await driver_connection(conn), month)
        return
    except asyncpg.LockNotAvailableError:  # the statements go to asyncpg directly
        pass
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
    async with tx.driver.transaction():  # a savepoint in the batch's transaction
        await partitions.ensure(tx.driver, month)
