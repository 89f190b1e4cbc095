"""Benchmark: `Kasparro.history()` (a year of 1h candles; 30 days of raw observations) through
a real `kasparro serve`, beside the ceiling: plain httpx GETs of the same history pages.

Run: .venv/bin/python bench/client_history.py [--repeat 3]

1. Seeds in SQL on a throwaway embedded PostgreSQL `bitcoin` observed every 5 minutes by two
   sources for one year (210,240 quotes) in its month partitions, then its rollups (the
   rebuild path).
2. Serves the API (`kasparro serve`, one worker) and, for each selection, times (best of
   `--repeat`):
   - the ceiling: `httpx.get` of each page of `/assets/bitcoin/history` (limit 5000,
     following `next_cursor`), body bytes only: what any client must at least wait for;
   - the ceiling parsed: the same plus `json.loads(parse_float=Decimal)` of each page;
   - the client `via="pages"` (the same pages, into typed models), `via="export"` (one NDJSON
     `/export/history`) and `via="auto"` (pages; past 10 pages the rest as one export), and
     `.to_pandas()` of the result.
Prints seconds, rows/s and the ratio to the ceiling. Client, server and database share the
machine's cores (see ../shared/PERF_NOTES.md); the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from export import serving
from kasparro.client import Kasparro
from kasparro.client.plans import Via
from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.pipeline.rollups import rebuild_rollups
from kasparro.repositories import partitions
from kasparro.repositories.driver import driver_connection
from kasparro.repositories.partitions import Month

END = datetime(2026, 1, 1, tzinfo=UTC)
START = END - timedelta(days=365)
POINTS = 365 * 288  # every 5 minutes for a year, per source
SELECTIONS = {  # name -> (interval, start)
    "1h, one year": ("1h", START),
    "raw, 30 days": ("raw", END - timedelta(days=30)),
    "raw, one year": ("raw", START),
}
_SEED = [
    "INSERT INTO assets (asset_id, ticker, name) VALUES ('bitcoin', 'BTC', 'Bitcoin')",
    """INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)
       SELECT s, 'bitcoin', 'bitcoin', 'BTC', 'Bitcoin', 'ticker_and_name'
       FROM unnest(ARRAY['coingecko', 'coinpaprika']) AS s""",
    """INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                           market_cap_usd, volume_24h_usd, run_id)
       SELECT s, 'bitcoin', CAST(:start AS timestamptz) + k * interval '5 minutes', 'BTC',
              'Bitcoin', round((60000 + 20000 * sin(k / 5000.0) + (k % 97) / 7.0)::numeric, 8),
              1200000000000 + k, 30000000000.5 + k % 1000, 0
       FROM unnest(ARRAY['coingecko', 'coinpaprika']) AS s, generate_series(0, :points - 1) k""",
]


async def seed(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for sql in _SEED:
                await conn.execute(text(sql), {"start": START, "points": POINTS})
            month = Month.of(START)
            while month.start < END:  # as the load step would, so the rebuild sees every month
                await partitions.ensure(await driver_connection(conn), month)
                month = month.next()
        await rebuild_rollups(engine, [])
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


def pages(base: str, interval: str, start: datetime, parse: bool) -> int:
    """Rows of the selection fetched page by page with plain httpx (parsed, or bytes only)."""
    rows, cursor = 0, None
    with httpx.Client(base_url=base, timeout=60) as http:
        while True:
            params: dict[str, Any] = {"interval": interval, "start": start.isoformat(),
                                      "end": END.isoformat(), "limit": 5000}  # fmt: skip
            if cursor:
                params["cursor"] = cursor
            body = http.get("/assets/bitcoin/history", params=params).content
            page = json.loads(body, parse_float=Decimal) if parse else json.loads(body)
            rows += len(page["data"]) if parse else page["pagination"]["returned"]
            if (cursor := page["pagination"]["next_cursor"]) is None:
                return rows


def best(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def measure(base: str, interval: str, start: datetime, repeat: int) -> list[tuple[str, float, int]]:
    client = Kasparro(base, timeout=120)

    def via(way: Via) -> int:
        return len(client.history("bitcoin", interval, start, END, via=way))

    ways: dict[str, Callable[[], Any]] = {
        "httpx pages, bytes (ceiling)": lambda: pages(base, interval, start, parse=False),
        "httpx pages + json Decimal": lambda: pages(base, interval, start, parse=True),
        'client via="pages"': lambda: via("pages"),
        'client via="export"': lambda: via("export"),
        'client via="auto" (default)': lambda: via("auto"),
    }
    rows = [(name, *best(repeat, work)) for name, work in ways.items()]
    history = client.history("bitcoin", interval, start, END)
    seconds, frame = best(repeat, history.to_pandas)
    rows.append(("  .to_pandas() of that", seconds, len(frame)))
    client.close()
    return rows


def report(name: str, results: list[tuple[str, float, int]]) -> None:
    ceiling = results[0][1]
    print(f"\n{name}: {results[0][2]:,} rows")
    print(f"  {'way':<32}{'s':>8}{'rows/s':>12}{'x ceiling':>11}")
    for way, seconds, count in results:
        assert count == results[0][2], (way, count)
        print(f"  {way:<32}{seconds:>8.3f}{count / seconds:>12,.0f}{seconds / ceiling:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = start_embedded_postgres(work / "pgdata")
        try:
            upgrade_to_head(url)
            started = time.perf_counter()
            asyncio.run(seed(url))
            print(f"seeded {2 * POINTS:,} quotes and their rollups in "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            with serving(dsn, work) as (base, _pid):
                for name, (interval, start) in SELECTIONS.items():
                    report(name, measure(base, interval, start, args.repeat))
        finally:
            stop_embedded_postgres(work / "pgdata")
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
