"""Access to the asyncpg connection under a SQLAlchemy one, for COPY and array binds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


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
