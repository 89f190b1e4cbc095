"""Test fixtures: a real PostgreSQL (embedded, or DATABASE_URL's), migrated to head per session.

Isolation: every database test starts from empty tables (TRUNCATE ... RESTART IDENTITY).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.app import create_app
from kasparro.config import Settings, to_asyncpg_url
from kasparro.db.embedded import start_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import downgrade_to_base, upgrade_to_head
from tests.fake_upstream_fixture import *  # noqa: F403
from tests.fixtures.servers import ALL_TABLES, own_server  # noqa: F401  (a fixture)

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = REPO_ROOT / "data" / "sample.csv"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """DATABASE_URL when set (CI's second pass), else a throwaway embedded server."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        url = to_asyncpg_url(configured)
    else:
        url = start_embedded_postgres(tmp_path_factory.mktemp("pg") / "pgdata")
    asyncio.run(_drop_everything(url))  # whatever an earlier run or version left behind
    upgrade_to_head(url)
    downgrade_to_base(url)  # proves every migration reverses cleanly
    upgrade_to_head(url)
    return url


async def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    """The engine, over empty tables."""
    async with engine.begin() as conn:
        tables = await conn.scalar(text(ALL_TABLES))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test: no .env file, the test database, and any overrides."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "kasparro_data_dir": tmp_path / "data",
            "csv_path": SAMPLE_CSV,
            "etl_sources": "csv",
            "etl_interval_seconds": 0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return factory


@pytest.fixture
async def make_client(
    db: AsyncEngine, database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Any]]:
    """Opens an HTTP client on a running app (lifespan included) built from settings overrides."""
    stack: list[tuple[FastAPI, Any, httpx.AsyncClient]] = []

    async def open_client(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(make_settings(**overrides), database_url=database_url)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        stack.append((app, lifespan, client))
        return client

    yield open_client
    for app, lifespan, client in reversed(stack):
        await client.aclose()
        await app.state.kasparro.runner.wait_background()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await make_client()
    return client


@pytest.fixture
def write_csv(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Write CSV text to a file in the test's directory."""

    def write(content: str, name: str = "quotes.csv") -> Path:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return path

    yield write
