"""Make the monthly partitions of `quotes` a batch needs before the batch is stored.

One catalog lookup per batch finds which of the batch's months have no partition yet (a round
trip of well under a millisecond, beside a batch of thousands of rows); a process-wide cache
was tried and dropped, because another process's retention, or a schema rebuilt under a
running process, makes it wrong and rows would land in the default partition. A month is made
in its own short transaction, so the parent's lock a new partition takes is not held for the
rest of the batch; if the batch's own transaction already holds a lock on `quotes` (several
batches in one transaction), that wait could never end, so it is made in that transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.quote import Quote
from kasparro.repositories import partitions
from kasparro.repositories.driver import Tx, driver_connection
from kasparro.repositories.partitions import Month

_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '5s'"


def months_of(quotes: Iterable[Quote]) -> dict[datetime, Month]:
    """The month of each distinct instant among `quotes`."""
    return {at: Month.of(at) for at in {q.created_at for q in quotes}}


async def ensure_for(tx: Tx, quotes: Iterable[Quote]) -> None:
    """Make the partition of every month among `quotes` that does not exist yet."""
    wanted = set(months_of(quotes).values())
    if not wanted:
        return
    missing = await partitions.missing(tx.driver, sorted(wanted))
    if not missing:
        return
    own_lock = await partitions.holds_quotes_lock(tx.driver)
    for month in missing:
        await _make(tx.conn.engine, tx, month, own_lock)


async def _make(engine: AsyncEngine, tx: Tx, month: Month, own_lock: bool) -> None:
    if not own_lock:
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
