"""Migration 0008 on a populated database: the rollups it fills equal, bucket by bucket, what
the stored observations give (several sources, ties, NULL amounts), and it reverses."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic import command

from kasparro.db.engine import create_engine
from kasparro.db.migrate import alembic_config
from tests.rollup_check import expected_rollups, stored_rollups

# 2,000 observations of four coins at 7-minute steps (crossing hours and midnights), every
# fifth one also observed by the other source at the same instant, some amounts unknown.
SEED_AT_0007 = """
INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                    market_cap_usd, volume_24h_usd, run_id)
SELECT s, c, TIMESTAMPTZ '2025-03-01 23:00:00+00' + k * INTERVAL '7 minutes'
             + (CASE WHEN k % 5 = 0 THEN 0 ELSE hashtext(s) % 60 END) * INTERVAL '1 second',
       upper(c), c, round((1000 + (hashtext(s || c || k) % 997) / 7.0)::numeric, 8),
       CASE WHEN k % 9 = 0 THEN NULL ELSE k * 1000 END,
       CASE WHEN k % 4 = 0 THEN NULL ELSE k * 10.5 END, 1
FROM unnest(ARRAY['coingecko', 'coinpaprika']) AS s,
     unnest(ARRAY['bitcoin', 'ethereum']) AS c,
     generate_series(0, 499) AS k
"""


async def test_0008_fills_rollups_equal_to_the_raw_aggregation_and_downgrades(
    fresh_url: str,
) -> None:
    config = alembic_config(fresh_url)
    await asyncio.to_thread(command.upgrade, config, "0007")
    conn = await asyncpg.connect(fresh_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(SEED_AT_0007)
    finally:
        await conn.close()

    await asyncio.to_thread(command.upgrade, config, "0008")

    engine = create_engine(fresh_url)
    try:
        stored = await stored_rollups(engine)
        assert stored == await expected_rollups(engine)
        intervals = {row[2] for row in stored}
        assert intervals == {"5m", "1h", "1d"}
        # each coin's 500 observations counted once per interval
        assert sum(int(row[10]) for row in stored) == 3 * 2000
        await asyncio.to_thread(command.downgrade, config, "0007")
        async with engine.connect() as c:
            gone = await c.exec_driver_sql("SELECT to_regclass('quote_rollups') IS NULL")
            assert gone.scalar() is True
        await asyncio.to_thread(command.upgrade, config, "head")
        assert await stored_rollups(engine) == stored
    finally:
        await engine.dispose()
