"""Access to the asyncpg connection under a SQLAlchemy one, for COPY and array binds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class Reads(Protocol):
    """What a read needs: an asyncpg connection, or a request's `db.reader.Reader`."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...


class Driver(Reads, Protocol):
    """The asyncpg connection methods the repositories use inside a transaction (asyncpg
    ships no type stubs: this names what we rely on, one typed handle instead of `Any`)."""

    async def execute(self, query: str, *args: Any) -> str: ...

    async def copy_records_to_table(self, table_name: str, **options: Any) -> str: ...

    async def copy_to_table(self, table_name: str, **options: Any) -> str: ...

    def transaction(self) -> Any: ...

    def is_in_transaction(self) -> bool: ...


async def driver_connection(conn: AsyncConnection) -> Driver:
    """The asyncpg connection inside `conn`'s open transaction.

    SQLAlchemy begins the transaction lazily, on the first statement; we issue one
    so that COPY and array statements sent straight to asyncpg land inside it.
    """
    await conn.execute(text("SELECT 1"))
    raw = await conn.get_raw_connection()
    driver: Driver | None = raw.driver_connection
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("expected an open transaction on the asyncpg connection")
    return driver


async def plain_driver(conn: AsyncConnection) -> Driver:
    """The asyncpg connection under `conn`, for reads outside a transaction (the CLI's)."""
    driver: Driver | None = (await conn.get_raw_connection()).driver_connection
    if driver is None:
        raise RuntimeError("expected an asyncpg connection")
    return driver


@dataclass(frozen=True, slots=True)
class Tx:
    """One open transaction, seen both ways: SQLAlchemy Core for ORM-built statements and the
    asyncpg connection under it for COPY and array binds (asyncpg ships no type stubs)."""

    conn: AsyncConnection
    driver: Driver


@asynccontextmanager
async def begin(engine: AsyncEngine) -> AsyncIterator[Tx]:
    """A transaction that commits when the block ends and rolls back if it raises."""
    async with engine.begin() as conn:
        yield Tx(conn, await driver_connection(conn))
