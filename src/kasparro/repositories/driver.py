"""Access to the asyncpg connection under a SQLAlchemy one, for COPY and array binds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection inside `conn`'s open transaction.

    SQLAlchemy begins the transaction lazily, on the first statement; we issue one
    so that COPY and array statements sent straight to asyncpg land inside it.
    """
    await conn.execute(text("SELECT 1"))
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("expected an open transaction on the asyncpg connection")
    return driver


@dataclass(frozen=True, slots=True)
class Tx:
    """One open transaction, seen both ways: SQLAlchemy Core for ORM-built statements and the
    asyncpg connection under it for COPY and array binds (asyncpg ships no type stubs)."""

    conn: AsyncConnection
    driver: Any


@asynccontextmanager
async def begin(engine: AsyncEngine) -> AsyncIterator[Tx]:
    """A transaction that commits when the block ends and rolls back if it raises."""
    async with engine.begin() as conn:
        yield Tx(conn, await driver_connection(conn))
