"""`kasparro db upgrade` on a database written before the asset catalog (revision 0002)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.app import create_app
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.db.migrate import alembic_config
from tests.fixtures.cli import kasparro

_OLD_ROWS = """
INSERT INTO normalized_records (id, source, source_coin_id, ticker, name, price_usd,
                                market_cap_usd, created_at)
VALUES ('csv_btc', 'csv', 'btc', 'BTC', 'Bitcoin', 96114.08481739, 1903746811536, now()),
       ('coinpaprika_eth-ethereum', 'coinpaprika', 'eth-ethereum', 'ETH', 'Ethereum',
        2642.24216354, 318350857183, now())
"""


@pytest.fixture
async def old_database(engine: AsyncEngine) -> AsyncIterator[str]:
    """A fresh database on the test server, migrated to 0002 and holding two quotes."""
    name = f"upgrade_{uuid.uuid4().hex[:12]}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(engine.url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0002")  # env.py runs a loop
    old = create_engine(url, pool_size=1)
    async with old.begin() as conn:
        await conn.execute(text(_OLD_ROWS))
    await old.dispose()
    yield url
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def test_db_upgrade_maps_stored_coins_so_data_serves_at_once(
    old_database: str, tmp_path: Path
) -> None:
    result = kasparro("db", "upgrade", cwd=tmp_path, DATABASE_URL=old_database)
    assert result.returncode == 0, result.stderr

    settings = Settings(_env_file=None, database_url=old_database)  # type: ignore[call-arg]
    app = create_app(settings, database_url=old_database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = (await client.get("/data")).json()
    assert {row["ticker"] for row in body["data"]} == {"BTC", "ETH"}
    assert body["pagination"]["total"] == 2
