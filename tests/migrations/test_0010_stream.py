"""Migration 0010 on a populated database: the stream's tables appear empty (the horizon at 0)
beside data left exactly as it was, the next batch publishes its changes, and it reverses."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from alembic import command

from kasparro.db.engine import create_engine
from kasparro.db.migrate import alembic_config
from tests.api.seed import quote, seed

STREAM_TABLES = ("stream_events", "stream_horizon", "stream_consensus_state")
TABLES = """
SELECT tablename FROM pg_tables
WHERE schemaname = 'public' AND tablename NOT LIKE 'stream_%' AND tablename <> 'alembic_version'
ORDER BY 1
"""


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


async def _rows(url: str) -> dict[str, list[Any]]:
    conn = await _connect(url)
    try:
        tables = [r[0] for r in await conn.fetch(TABLES)]
        return {t: sorted(map(str, await conn.fetch(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        await conn.close()


async def _seed(url: str, quotes: list[Any]) -> None:
    engine = create_engine(url)
    try:
        await seed(engine, quotes)
    finally:
        await engine.dispose()


async def test_0010_adds_the_stream_tables_beside_untouched_data_and_downgrades(
    fresh_url: str,
) -> None:
    config = alembic_config(fresh_url)
    # a database with assets from two sources, their latest quotes, history and summaries,
    # written by the load step (at head), then taken back to 0009 as an older release left it
    await asyncio.to_thread(command.upgrade, config, "head")
    await _seed(fresh_url, [
        quote("BTC", "96000.12345678", source=s, coin=c, name="Bitcoin", market_cap="1000")
        for s, c in (("coingecko", "bitcoin"), ("coinpaprika", "btc-bitcoin"))
    ] + [quote("ETH", "2600.5", source="coingecko", coin="ethereum", name="Ethereum")])  # fmt: skip
    await asyncio.to_thread(command.downgrade, config, "0009")
    before = await _rows(fresh_url)
    assert before["asset_latest"] and before["quotes"] and before["normalized_records"]

    await asyncio.to_thread(command.upgrade, config, "0010")
    assert await _rows(fresh_url) == before
    conn = await _connect(fresh_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM stream_events") == 0
        assert await conn.fetchval("SELECT pruned_through FROM stream_horizon") == 0
        assert await conn.fetchval("SELECT count(*) FROM stream_consensus_state") == 0
    finally:
        await conn.close()

    # the next change publishes: a new bitcoin quote, then its asset's consensus (its first);
    # written by head's load step, so at head (0011 adds only quote_pruned_months)
    await asyncio.to_thread(command.upgrade, config, "head")
    await _seed(fresh_url, [quote("BTC", "97000", source="coingecko", coin="bitcoin",
                                  name="Bitcoin", at="2024-01-15T11:00:00")])  # fmt: skip
    conn = await _connect(fresh_url)
    try:
        events = [tuple(r) for r in await conn.fetch(
            "SELECT id, event, asset_id, source, data::text FROM stream_events ORDER BY id"
        )]  # fmt: skip
    finally:
        await conn.close()
    assert events == [
        (1, "quote", "bitcoin", "coingecko",
         '{"asset_id":"bitcoin","source":"coingecko","source_coin_id":"bitcoin","ticker":"BTC",'
         '"price_usd":97000.00000000,"observed_at":"2024-01-15T11:00:00Z"}'),
        (2, "consensus", "bitcoin", None,
         '{"asset_id":"bitcoin","price_usd":96500.06172839,"divergence_pct":1.0361,'
         '"flags":["stale"]}'),
    ]  # fmt: skip

    await asyncio.to_thread(command.downgrade, config, "0009")
    conn = await _connect(fresh_url)
    try:
        for table in STREAM_TABLES:
            assert await conn.fetchval("SELECT to_regclass($1) IS NULL", table)
    finally:
        await conn.close()
    await asyncio.to_thread(command.upgrade, config, "head")
