"""Benchmark: candles from the rollups at 2M and 20M history rows, beside the bare ceiling.

Run: .venv/bin/python bench/history_scale.py [--sizes 2M,20M] [--requests 200] [--seconds 5]

For each size, on a throwaway embedded PostgreSQL:
1. Seeds in SQL: `bitcoin` observed every 5 minutes for 5 years by two sources (coingecko and
   coinpaprika: 1,051,200 rows), plus 20,000 other coins observed hourly (coingecko) to make up
   the size; then the rollups through the rebuild path (`kasparro db rebuild-rollups`'s own
   function), timed.
2. Serves the API (`kasparro serve --workers 2`) and the ceiling (bench/ceiling_app.py: a bare
   ASGI app, 2 uvicorn workers, plain asyncpg, running the statements the API runs for each
   request, captured from its service call), in two alternating rounds, each keeping its better
   figures.
3. For `GET /assets/bitcoin/history?interval=1h` over 30 days (720 candles) and `interval=1d`
   over 5 years (1,826 candles): the median latency of one client and requests/s with 32
   keep-alive clients; beside them, the SQL alone: the rollup statement and the raw aggregation
   the route ran before rollups (median of repeated executions on one connection).
Targets: 1h over 30 days <= 5 ms at 2M rows and at 20M no more than 1.5x its 2M figure; 1d over
5 years <= 10 ms; each at least half the ceiling's requests/s.
Client, servers and database share the machine's cores (see ../shared/PERF_NOTES.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import orjson
from sqlalchemy import text

from api_latency import _RecordingDriver, latency_ms, server, server_commands, throughput
from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.domain.queries import HistoryFilter
from kasparro.pipeline.rollups import rebuild_rollups
from kasparro.repositories import history
from kasparro.services.assets import asset_history

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = REPO_ROOT / ".venv" / "bin"
OTHER_COINS = 20_000
BTC_SOURCES = ("coingecko", "coinpaprika")
BTC_POINTS = 5 * 365 * 288  # every 5 minutes for 5 years, per source
SIZES = {"2M": 2_000_000, "20M": 20_000_000}
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
TARGET_1H_MS = 5.0
TARGET_1D_MS = 10.0
TARGET_GROWTH = 1.5
TARGET_RATIO = 0.5


def _stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


REQUESTS = {  # name -> (interval, start, limit)
    "1h over 30 days": ("1h", NOW - timedelta(days=30), 1000),
    "1d over 5 years": ("1d", NOW - timedelta(days=5 * 365), 2000),
}


def _path(interval: str, start: datetime, limit: int) -> str:
    query = {"interval": interval, "start": _stamp(start), "end": _stamp(NOW), "limit": limit}
    return "/assets/bitcoin/history?" + urlencode(query)


_SEED = [
    """INSERT INTO assets (asset_id, ticker, name)
       SELECT CASE WHEN i = 0 THEN 'bitcoin' ELSE 'asset-' || i END,
              CASE WHEN i = 0 THEN 'BTC' ELSE 'T' || i END,
              CASE WHEN i = 0 THEN 'Bitcoin' ELSE 'Asset ' || i END
       FROM generate_series(0, :coins) AS i""",
    """INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)
       SELECT s, 'bitcoin', 'bitcoin', 'BTC', 'Bitcoin', 'ticker_and_name'
       FROM unnest(CAST(:btc_sources AS text[])) AS s
       UNION ALL
       SELECT 'coingecko', asset_id, asset_id, ticker, name, 'new'
       FROM assets WHERE asset_id <> 'bitcoin'""",
    # in key order, so the primary key grows at its right edge
    """INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                           market_cap_usd, volume_24h_usd, run_id)
       SELECT s, 'bitcoin', CAST(:now AS timestamptz) - k * interval '5 minutes', 'BTC',
              'Bitcoin', round((60000 + 20000 * sin(k / 5000.0) + (hashtext(s) % 100)
                                + (k % 97) / 7.0)::numeric, 8),
              1200000000000 + k, 30000000000 + k % 1000, 0
       FROM unnest(CAST(:btc_sources AS text[])) AS s,
            generate_series(:btc_points - 1, 0, -1) AS k""",
    """INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                           market_cap_usd, volume_24h_usd, run_id)
       SELECT 'coingecko', 'asset-' || i, CAST(:now AS timestamptz) - k * interval '1 hour',
              'T' || i, 'Asset ' || i, round((1 + (i % 4096) + k / 100.0)::numeric, 8),
              i * 1000 + k, 5000 + k, 0
       FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS i,
            generate_series(:per_coin - 1, 0, -1) AS k""",
]
COIN_CHUNK = 1_000  # other coins per statement: each stays well inside the 300 s command timeout


async def seed(url: str, rows: int) -> tuple[int, float, float]:
    """Seed `rows` history rows and their rollups; returns (rows, seed s, rollup rebuild s)."""
    per_coin = max(1, (rows - len(BTC_SOURCES) * BTC_POINTS) // OTHER_COINS)
    params = {"coins": OTHER_COINS, "btc_sources": list(BTC_SOURCES), "now": NOW,
              "btc_points": BTC_POINTS, "per_coin": per_coin}  # fmt: skip
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            for sql in _SEED[:-1]:
                await conn.execute(text(sql), params)
            for first in range(1, OTHER_COINS + 1, COIN_CHUNK):
                last = min(OTHER_COINS, first + COIN_CHUNK - 1)
                await conn.execute(text(_SEED[-1]), params | {"first": first, "last": last})
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        await rebuild_rollups(engine, [])
        rebuilt = time.perf_counter() - started
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
            count = int(await conn.scalar(text("SELECT count(*) FROM quotes")) or 0)
        return count, seeded, rebuilt
    finally:
        await engine.dispose()


def _filter(start: datetime) -> HistoryFilter:
    return HistoryFilter("bitcoin", None, start, NOW)


async def capture(url: str) -> dict[str, list[tuple[str, list[Any]]]]:
    """The statements each measured request runs, through the route's own service call."""
    engine = create_engine(url)
    captured = {}
    try:
        for interval, start, limit in REQUESTS.values():
            log: list[tuple[str, list[Any]]] = []
            async with engine.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                await asset_history(_RecordingDriver(driver, log), _filter(start), interval,
                                    limit, None)  # fmt: skip
            captured[_path(interval, start, limit)] = log
    finally:
        await engine.dispose()
    return captured


async def sql_medians(dsn: str, repeat: int = 30) -> dict[str, tuple[float, float]]:
    """Per request, the median ms of the rollup statement and of the raw aggregation alone."""
    conn = await asyncpg.connect(dsn)
    out = {}
    try:
        for name, (interval, start, limit) in REQUESTS.items():
            timings: dict[str, list[float]] = {"rollups": [], "raw": []}
            for _ in range(repeat):
                for kind, call in (("rollups", history.buckets), ("raw", None)):
                    began = time.perf_counter()
                    if call is None:
                        await history.buckets_from_quotes(conn, _filter(start), interval, limit)
                    else:
                        await history.buckets(conn, _filter(start), interval, limit + 1, None)
                    timings[kind].append((time.perf_counter() - began) * 1000)
            out[name] = (statistics.median(timings["rollups"]), statistics.median(timings["raw"]))
    finally:
        await conn.close()
    return out


def measure_servers(dsn: str, queries: Path, args: argparse.Namespace) -> dict[str, Any]:
    env, (api, api_port), (ceiling, ceiling_port) = server_commands(dsn, queries)
    best: dict[str, dict[str, list[float]]] = {"api": {}, "ceiling": {}}
    for _ in range(2):
        for name, argv, port in (("api", api, api_port), ("ceiling", ceiling, ceiling_port)):
            with server(argv, port, env):
                for request, (interval, start, limit) in REQUESTS.items():
                    path = _path(interval, start, limit)
                    median = asyncio.run(latency_ms(port, path, args.requests))
                    rps = asyncio.run(throughput(port, path, args.seconds, args.concurrency))
                    old = best[name].get(request, [float("inf"), 0.0])
                    best[name][request] = [min(old[0], median), max(old[1], rps)]
    return best


def run_size(label: str, rows: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kasparro-history-bench-") as work:
        os.chmod(work, 0o755)  # the embedded server may run as another user when we are root
        pgdata = Path(work) / "pgdata"
        url = start_embedded_postgres(pgdata)
        try:
            upgrade_to_head(url)
            count, seeded, rebuilt = asyncio.run(seed(url, rows))
            print(f"[{label}] seeded {count:,} history rows in {seeded:.0f} s; rollups rebuilt"
                  f" from them in {rebuilt:.0f} s", flush=True)  # fmt: skip
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            queries = Path(work) / "queries.json"
            queries.write_bytes(orjson.dumps({"queries": asyncio.run(capture(url))}))
            sql = asyncio.run(sql_medians(dsn))
            figures = measure_servers(dsn, queries, args)
        finally:
            stop_embedded_postgres(pgdata)
    return {"rows": count, "sql": sql, **figures}


def report(results: dict[str, dict[str, Any]], concurrency: int) -> None:
    base_1h = results.get("2M", {}).get("api", {}).get("1h over 30 days", [None])[0]
    print(f"\n{'size':<5}{'request':<18}{'p50 ms':>8}{'ceiling':>9}{'req/s':>8}{'ceiling':>9}"
          f"{'ratio':>7}{'SQL ms':>8}{'raw SQL':>9}  target  verdict")  # fmt: skip
    for label, result in results.items():
        for request in REQUESTS:
            median, rps = result["api"][request]
            bare_median, bare_rps = result["ceiling"][request]
            ratio = rps / bare_rps
            limit, note = _latency_target(label, request, base_1h)
            ok = ratio >= TARGET_RATIO and (limit is None or median <= limit)
            sql, raw = result["sql"][request]
            print(f"{label:<5}{request:<18}{median:>8.2f}{bare_median:>9.2f}{rps:>8.0f}"
                  f"{bare_rps:>9.0f}{ratio:>7.2f}{sql:>8.2f}{raw:>9.2f}  {note};"
                  f" ratio >= {TARGET_RATIO}  {'PASS' if ok else 'FAIL'}")  # fmt: skip
    print(
        f"p50: one client; req/s: {concurrency} keep-alive clients; SQL ms: the rollup"
        " statement alone; raw SQL: the raw aggregation the route ran before (same range)."
        f" 1-min load average now: {os.getloadavg()[0]:.2f} (a busy machine skews figures)."
    )


def _latency_target(label: str, request: str, base_1h: float | None) -> tuple[float | None, str]:
    if request.startswith("1d"):
        return TARGET_1D_MS, f"<= {TARGET_1D_MS:.0f} ms"
    if label == "2M":
        return TARGET_1H_MS, f"<= {TARGET_1H_MS:.0f} ms"
    if base_1h is None:
        return None, "<= 1.5x 2M (2M not run)"
    return base_1h * TARGET_GROWTH, f"<= {base_1h * TARGET_GROWTH:.2f} ms (1.5x 2M)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="2M,20M", help="comma-separated: 2M, 20M")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests timed")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    args = parser.parse_args()
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    if not sizes or any(s not in SIZES for s in sizes):
        parser.error(f"--sizes takes {', '.join(SIZES)}")
    results = {label: run_size(label, SIZES[label], args) for label in sizes}
    report(results, args.concurrency)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
