"""Apply Alembic migrations programmatically (the only way the schema changes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# One key for every Kasparro process on a database: whoever holds it migrates, the rest wait.
_LOCK = text("SELECT pg_advisory_lock(hashtext('kasparro.migrate'))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtext('kasparro.migrate'))")

AfterUpgrade = Callable[[], Awaitable[None]]


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


@asynccontextmanager
async def migration_lock(database_url: str) -> AsyncIterator[None]:
    """Hold the migration lock, a session-level advisory lock on a connection of its own, so
    processes started together (a fresh database, a rolling upgrade) migrate one at a time."""
    from kasparro.config import to_asyncpg_url

    engine = create_async_engine(to_asyncpg_url(database_url), poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(_LOCK)
            try:
                yield
            finally:
                await conn.execute(_UNLOCK)  # closing the session would free it anyway
    finally:
        await engine.dispose()


async def upgrade_locked(database_url: str, after: AfterUpgrade | None = None) -> None:
    """Under the migration lock: upgrade to head, then run `after` (e.g. map stored coins).
    A process that waited finds the schema at head and Alembic does nothing."""
    async with migration_lock(database_url):
        # env.py runs its own event loop: give it a thread.
        await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
        if after is not None:
            await after()


def upgrade_to_head(database_url: str, after: AfterUpgrade | None = None) -> None:
    """Bring the schema up to the newest revision; safe to call on every start, from any
    number of processes at once."""
    asyncio.run(upgrade_locked(database_url, after))


def downgrade_to_base(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "base")
