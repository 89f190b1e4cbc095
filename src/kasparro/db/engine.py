"""Engine and sessionmaker factories; nothing connects at import time."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    create_async_engine,
)

from kasparro.config import Settings
from kasparro.db.embedded import start_embedded_postgres


def resolve_database_url(settings: Settings) -> str:
    """The configured server's URL, or the embedded server's when none is configured."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded_postgres(settings.pgdata_dir)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine that fails fast when the database is gone."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=5,
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args={"timeout": 5, "command_timeout": 300},
    )
