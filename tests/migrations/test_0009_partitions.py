"""Migration 0009 on a populated database: `quotes` becomes monthly partitions with every row
as it was, a time-ranged history query reads only its months, and it reverses."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic import command

from kasparro.db.migrate import alembic_config

# 3,000 observations of two coins from two sources, spread over 2019, 2023 and this year.
SEED_AT_0008 = """
INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                    market_cap_usd, volume_24h_usd, percent_change_24h, run_id, ingested_at)
SELECT s, c, base + k * INTERVAL '97 minutes', upper(c), CASE WHEN k % 3 = 0 THEN NULL ELSE c END,
       round((1000 + (hashtext(s || c || k) % 997) / 7.0)::numeric, 8),
       CASE WHEN k % 9 = 0 THEN NULL ELSE k * 1000 END, k * 10.5, k % 7 - 3.25, k,
       TIMESTAMPTZ '2026-01-01 00:00:00+00' + k * INTERVAL '1 second'
FROM unnest(ARRAY['coingecko', 'coinpaprika']) AS s,
     unnest(ARRAY['bitcoin', 'ethereum']) AS c,
     unnest(ARRAY[TIMESTAMPTZ '2019-01-30 12:00:00+00', TIMESTAMPTZ '2023-06-15 00:00:00+00',
                  date_trunc('month', now()) - INTERVAL '20 days']) AS base,
     generate_series(0, 249) AS k
"""
ALL_ROWS = "SELECT * FROM quotes ORDER BY source, source_coin_id, observed_at"
PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'quotes'::regclass ORDER BY 1
"""
HISTORY = """
EXPLAIN (COSTS OFF) SELECT * FROM quotes
WHERE source = 'coingecko' AND source_coin_id = 'bitcoin'
  AND observed_at >= '2019-02-03 00:00:00+00' AND observed_at < '2019-02-10 00:00:00+00'
ORDER BY observed_at
"""


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


async def test_0009_partitions_every_row_by_month_prunes_and_downgrades(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    await asyncio.to_thread(command.upgrade, config, "0008")
    conn = await _connect(fresh_url)
    try:
        await conn.execute(SEED_AT_0008)
        before = [tuple(r) for r in await conn.fetch(ALL_ROWS)]
        months = await conn.fetchval(
            "SELECT count(DISTINCT date_trunc('month', observed_at AT TIME ZONE 'UTC')) FROM quotes"
        )
    finally:
        await conn.close()
    assert len(before) == 3000
    assert months >= 5

    await asyncio.to_thread(command.upgrade, config, "0009")
    conn = await _connect(fresh_url)
    try:
        assert [tuple(r) for r in await conn.fetch(ALL_ROWS)] == before
        kind = await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'quotes'")
        assert kind == "p"
        names = [r[0] for r in await conn.fetch(PARTITIONS)]
        assert "quotes_default" in names
        assert {"quotes_y2019m01", "quotes_y2019m02", "quotes_y2023m06"} <= set(names)
        assert await conn.fetchval("SELECT count(*) FROM quotes_default") == 0
        # every row sits in the partition of its own UTC month
        misplaced = await conn.fetchval(
            "SELECT count(*) FROM quotes WHERE tableoid::regclass::text"
            " <> to_char(observed_at AT TIME ZONE 'UTC', '\"quotes_y\"YYYY\"m\"MM')"
        )
        assert misplaced == 0
        plan = "\n".join(r[0] for r in await conn.fetch(HISTORY))
        assert "quotes_y2019m02" in plan
        assert not any(n in plan for n in names if n != "quotes_y2019m02")
    finally:
        await conn.close()

    await asyncio.to_thread(command.downgrade, config, "0008")
    conn = await _connect(fresh_url)
    try:
        assert (
            await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'quotes'")
            == "r"
        )
        assert [tuple(r) for r in await conn.fetch(ALL_ROWS)] == before
    finally:
        await conn.close()
    await asyncio.to_thread(command.upgrade, config, "head")
    conn = await _connect(fresh_url)
    try:
        assert [tuple(r) for r in await conn.fetch(ALL_ROWS)] == before
    finally:
        await conn.close()
