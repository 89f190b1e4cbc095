"""Benchmark: the coverage map and a `fill=previous` history page over a 5-year series.

Run: .venv/bin/python bench/coverage_map.py [--years 5] [--repeat 5]

1. Starts a throwaway embedded PostgreSQL and seeds, in SQL, one asset with one CoinGecko coin:
   a live snapshot every 5 minutes for `--years` years (525,600 a year) with a 2-hour hole
   every 3 days, and 4 years of daily backfill windows (one a day, done) before them, one
   point each.
2. Times `coverage_map` (windows merged, live islands found with window functions, counted)
   and a page of 1,000 `1h` buckets with `fill=previous` in the middle of the series, the best
   of `--repeat` runs each, beside the floor: one `count(*)` over every quote of the coin (any
   server-side pass over the series costs at least that).
Target: the coverage map under 2 s for 5 years of 5-minute snapshots (one window-function pass
down the primary key: several times the floor, never a row per snapshot into Python). The
holes are not_observed gaps, so the fill page fills nothing across them.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.migrate import upgrade_to_head
from kasparro.domain.queries import HistoryFilter
from kasparro.services.assets import FillPrevious, asset_history
from kasparro.services.coverage import coverage_map

CADENCE = timedelta(minutes=5)
LIVE_FROM = datetime(2021, 1, 1, tzinfo=UTC)
_DAYS = """generate_series($1::timestamptz - interval '4 years',
                          $1::timestamptz - interval '1 day', interval '1 day') d"""
_SEED: list[tuple[str, int]] = [  # statement, how many of (LIVE_FROM, live end) it takes
    ("INSERT INTO assets (asset_id, ticker, name) VALUES ('bitcoin', 'BTC', 'Bitcoin')", 0),
    ("INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)"
     " VALUES ('coingecko', 'bitcoin', 'bitcoin', 'BTC', 'Bitcoin', 'exact')", 0),
    ("INSERT INTO backfill_windows (source, source_coin_id, interval, window_start, window_end,"
     " state) SELECT 'coingecko', 'bitcoin', '1d', d, d + interval '1 day', 'done' FROM " + _DAYS,
     1),
    ("INSERT INTO quotes (source, source_coin_id, observed_at, ticker, price_usd, run_id)"
     " SELECT 'coingecko', 'bitcoin', d, 'BTC', 100, 0 FROM " + _DAYS, 1),
    ("INSERT INTO quotes (source, source_coin_id, observed_at, ticker, price_usd, run_id)"
     " SELECT 'coingecko', 'bitcoin', t, 'BTC', 100 + extract(minute FROM t), 0"
     " FROM generate_series($1::timestamptz, $2::timestamptz, interval '5 minutes') t"
     " WHERE (extract(epoch FROM t - $1::timestamptz)::bigint % (3 * 86400)) >= 7200", 2),
    ("VACUUM ANALYZE quotes", 0),  # as autovacuum would have: index-only scans
    ("VACUUM ANALYZE backfill_windows", 0),
]  # fmt: skip


async def _best(repeat: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        result = await call()
        best = min(best, time.perf_counter() - began)
    return best, result


async def _measure(url: str, years: int, repeat: int) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        live_to = LIVE_FROM + timedelta(days=365 * years)
        for statement, arity in _SEED:
            await conn.execute(statement, *(LIVE_FROM, live_to)[:arity])
        rows = await conn.fetchval("SELECT count(*) FROM quotes")
        floor, _ = await _best(repeat, lambda: conn.fetchval(
            "SELECT count(*) FROM quotes WHERE source = 'coingecko' AND source_coin_id = 'bitcoin'"
        ))  # fmt: skip
        took, sources = await _best(repeat, lambda: coverage_map(conn, "bitcoin", None, CADENCE))
        entry = sources[0]
        middle = LIVE_FROM + timedelta(days=365 * years / 2)
        flt = HistoryFilter("bitcoin", start=middle)
        page_took, page = await _best(
            repeat, lambda: asset_history(conn, flt, "1h", 1000, None, FillPrevious(CADENCE))
        )
    finally:
        await conn.close()
    filled = sum(1 for p in page.points if p["filled"])
    print(f"quotes: {rows:,}; ranges: {len(entry['ranges']):,}; gaps: {len(entry['gaps']):,}")
    print(f"floor, count(*) over the coin:        {floor * 1000:8.1f} ms")
    verdict = "PASS" if took < 2.0 else "FAIL"
    print(f"coverage map:                         {took * 1000:8.1f} ms "
          f"({took / floor:.1f}x the floor; target < 2000 ms: {verdict})")  # fmt: skip
    print(f"1h page of 1,000 with fill=previous:  {page_took * 1000:8.1f} ms ({filled} filled)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kasparro-bench-coverage-"))
    try:
        url = start_embedded_postgres(workdir / "pgdata")
        upgrade_to_head(url)
        asyncio.run(_measure(url, args.years, args.repeat))
    finally:
        stop_embedded_postgres(workdir / "pgdata")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
