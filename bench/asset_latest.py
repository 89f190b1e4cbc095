"""Benchmark: rewriting `asset_latest` (consensus, divergence, freshest quote) for 20,000 assets.

Run: .venv/bin/python bench/asset_latest.py [--assets 20000] [--repeat 3]

Seeds a throwaway embedded PostgreSQL in SQL with `--assets` canonical assets, each quoted by
csv, coinpaprika and coingecko (3 latest quotes per asset, some stale, as bench/api_latency.py
does), then times `AssetCatalog`'s summary refresh of every asset, in the 5,000-asset chunks a
full snapshot's batches touch, inside one transaction that is rolled back after each repeat.
Target on the 2-core machine: a full refresh of 20,000 assets under 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.repositories.driver import driver_connection

SOURCES = ("csv", "coinpaprika", "coingecko")
TARGET_SECONDS = 1.5
CHUNK = 5000
NOW = datetime.now(UTC).replace(microsecond=0)

_SEED = [
    """INSERT INTO assets (asset_id, ticker, name)
       SELECT 'asset-' || i, 'T' || (i % 15000), 'Asset ' || i FROM generate_series(1, :n) AS i""",
    """INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)
       SELECT s, a.asset_id, a.asset_id, a.ticker, a.name, 'ticker_and_name'
       FROM assets a CROSS JOIN unnest(CAST(:sources AS text[])) AS s""",
    # prices around a per-asset level (one source in 50 far off), 5% of market caps unknown,
    # observed up to ~2 hours ago (so some quotes are stale at the default 1 hour)
    """INSERT INTO normalized_records (id, source, source_coin_id, ticker, name, price_usd,
           market_cap_usd, volume_24h_usd, percent_change_24h, created_at)
       SELECT m.source || '_' || m.source_coin_id, m.source, m.source_coin_id, m.ticker, m.name,
              round((100000.0 / (1 + (hashtext(m.asset_id) & 65535)))::numeric
                    * (CASE WHEN hashtext(m.source || m.asset_id) % 50 = 0 THEN 1.5 ELSE 1 END)
                    * (1 + (hashtext(m.source) % 100) / 10000.0), 8),
              CASE WHEN hashtext(m.asset_id) % 20 = 0 THEN NULL
                   ELSE (hashtext(m.asset_id) & 1073741823)::numeric * 1000 END,
              12345678.9, -1.25,
              CAST(:now AS timestamptz) - (hashtext(m.source_coin_id || m.source) & 8191)
                                          * interval '1 second'
       FROM asset_mappings m""",
]


async def seed(url: str, n: int) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for sql in _SEED:
                await conn.execute(text(sql), {"n": n, "sources": list(SOURCES), "now": NOW})
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
            rows = await conn.execute(text("SELECT asset_id FROM assets ORDER BY asset_id"))
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


async def measure(url: str, ids: list[str], repeat: int) -> list[float]:
    engine = create_engine(url)
    times = []
    catalog = AssetCatalog(Path("data/asset_overrides.csv"))
    try:
        for _ in range(repeat):
            async with engine.connect() as conn:
                transaction = await conn.begin()
                driver = await driver_connection(conn)
                started = time.perf_counter()
                for start in range(0, len(ids), CHUNK):
                    await catalog.refresh_latest(driver, ids[start : start + CHUNK])
                times.append(time.perf_counter() - started)
                await transaction.rollback()
    finally:
        await engine.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kasparro-bench-") as work:
        url = start_embedded_postgres(Path(work) / "pgdata")
        try:
            upgrade_to_head(url)
            ids = asyncio.run(seed(url, args.assets))
            times = asyncio.run(measure(url, ids, args.repeat))
        finally:
            stop_embedded_postgres(Path(work) / "pgdata")
    median = statistics.median(times)
    verdict = "PASS" if median < TARGET_SECONDS else "FAIL"
    runs = ", ".join(f"{t:.2f}" for t in times)
    print(f"assets refreshed       {len(ids):>10,} ({len(SOURCES)} sources each)")
    print(f"full refresh, median   {median:>10.2f} s   (runs: {runs})")
    print(f"target < {TARGET_SECONDS} s         {verdict:>10}")


if __name__ == "__main__":
    main()
