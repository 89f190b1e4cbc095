"""Benchmark: a multi-million-row `/export/history` through a real `kasparro serve`, its rows/s
beside a ceiling and the server's memory growth beside the file's size.

Run: .venv/bin/python bench/export.py [--rows 2000000] [--assets 4]

1. Seeds `--rows` raw observations in SQL into a throwaway embedded PostgreSQL: `--assets`
   assets, each one coin observed every minute (prices with 8 decimals, market cap and volume).
2. Serves the API (`kasparro serve`, one worker) and streams the whole raw selection of every
   asset as Parquet and as CSV, reading the body as it comes and throwing it away, while a
   thread samples the server's resident memory (VmRSS) every 20 ms.
3. The ceiling: the same rows, in the same order, as `COPY (SELECT ...) TO STDOUT (FORMAT csv)`
   through asyncpg, counted and thrown away: PostgreSQL writing its own text, no Python per
   row. The export pays Python per row (decoding, formatting) on top of that.
Prints rows/s, the ratio to the ceiling, and the server's peak RSS growth over its idle
resident size beside the bytes sent: flat memory means the growth stays about one chunk's
worth (EXPORT_CHUNK_ROWS) whatever the size. Client, server and database share the cores (see
../shared/PERF_NOTES.md); the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from served import fresh_database, rss_kib, serving

START = datetime(2025, 1, 1, tzinfo=UTC)
CEILING_SQL = """
SELECT m.asset_id, q.observed_at, q.source, q.source_coin_id, q.ticker, q.price_usd,
       q.market_cap_usd, q.volume_24h_usd, q.percent_change_24h
FROM asset_mappings m JOIN quotes q USING (source, source_coin_id)
WHERE m.asset_id = '{asset}'
ORDER BY q.observed_at, q.source, q.source_coin_id
"""


async def seed(dsn: str, rows: int, assets: int) -> int:
    per_asset = rows // assets
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO assets (asset_id, ticker, name)
            SELECT 'asset-' || i, 'T' || i, 'Asset ' || i FROM generate_series(1, $1) i""",
            assets,
        )
        await conn.execute("""
            INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)
            SELECT 'coingecko', asset_id, asset_id, ticker, name, 'new' FROM assets""")
        for i in range(1, assets + 1):  # one statement per asset: each inside the timeouts
            await conn.execute(
                """
                INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                                    market_cap_usd, volume_24h_usd, run_id)
                SELECT 'coingecko', 'asset-' || $1, $2::timestamptz + k * interval '1 minute',
                       'T' || $1, 'Asset ' || $1,
                       round((60000 + 20000 * sin(k / 5000.0) + (k % 97) / 7.0)::numeric, 8),
                       1200000000000 + k, 30000000000.5 + k % 1000, 0
                FROM generate_series(0, $3 - 1) k""",
                str(i), START, per_asset, timeout=600,
            )  # fmt: skip
        await conn.execute("VACUUM ANALYZE")
        count: int = await conn.fetchval("SELECT count(*) FROM quotes")
        return count
    finally:
        await conn.close()


async def ceiling(dsn: str, assets: int) -> tuple[int, float]:
    """(bytes, seconds) of COPY TO STDOUT of every asset's rows, in the export's order."""
    conn = await asyncpg.connect(dsn)
    sent = 0

    async def discard(data: bytes) -> None:
        nonlocal sent
        sent += len(data)

    try:
        started = time.perf_counter()
        for i in range(1, assets + 1):
            sql = CEILING_SQL.format(asset=f"asset-{i}")
            await conn.copy_from_query(sql, output=discard, format="csv", timeout=600)
        return sent, time.perf_counter() - started
    finally:
        await conn.close()


class PeakRss:
    """The largest VmRSS of `pid` seen while the block runs, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def export(base: str, assets: int, fmt: str) -> tuple[int, int, float]:
    """(rows the server counted, bytes, seconds) of one export, read as it streams."""
    params = {"asset_id": [f"asset-{i}" for i in range(1, assets + 1)], "format": fmt}
    started = time.perf_counter()
    size = 0
    with httpx.stream("GET", f"{base}/export/history", params=params, timeout=600) as response:
        response.raise_for_status()
        for piece in response.iter_raw(1 << 16):
            size += len(piece)
    return int(response.headers["X-Export-Rows"]), size, time.perf_counter() - started


def measure(dsn: str, work: Path, assets: int) -> list[tuple[str, int, int, float, int, int]]:
    results = []
    with serving(dsn, work, {"EXPORT_MAX_ROWS": "1000000000"}) as (base, _, pid):
        httpx.get(f"{base}/export/history", params={"asset_id": "asset-1", "end": "2025-01-02"})
        for fmt in ("parquet", "csv"):
            idle = rss_kib(pid)
            with PeakRss(pid) as peak:
                rows, size, seconds = export(base, assets, fmt)
            results.append((fmt, rows, size, seconds, idle, peak.peak))
    return results


def report(rows: int, results: list[tuple[str, int, int, float, int, int]],
           bare: tuple[int, float]) -> None:  # fmt: skip
    bare_bytes, bare_seconds = bare
    bare_rps = rows / bare_seconds
    print(f"\n{'export':<9}{'rows':>11}{'MiB sent':>10}{'s':>8}{'rows/s':>10}{'ceiling':>10}"
          f"{'ratio':>7}{'idle RSS':>10}{'peak RSS':>10}{'growth':>9}")  # fmt: skip
    for fmt, counted, size, seconds, idle, peak in results:
        assert counted == rows, (counted, rows)
        print(f"{fmt:<9}{counted:>11,}{size / 2**20:>10.1f}{seconds:>8.1f}{rows / seconds:>10,.0f}"
              f"{bare_rps:>10,.0f}{rows / seconds / bare_rps:>7.2f}{idle / 1024:>9.0f}M"
              f"{peak / 1024:>9.0f}M{(peak - idle) / 1024:>8.0f}M")  # fmt: skip
    print(f"ceiling: COPY (SELECT ...) TO STDOUT (FORMAT csv) of the same rows through asyncpg:"
          f" {bare_bytes / 2**20:.1f} MiB in {bare_seconds:.1f} s.")  # fmt: skip
    print(
        "growth: the server's peak resident memory during the export minus its resident"
        " memory just before; flat means it stays far below the MiB sent."
    )
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=2_000_000, help="observations to seed")
    parser.add_argument("--assets", type=int, default=4, help="assets they are spread over")
    args = parser.parse_args()
    with fresh_database("kasparro-export-bench-") as (_, dsn, work):
        started = time.perf_counter()
        rows = asyncio.run(seed(dsn, args.rows, args.assets))
        print(f"seeded {rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
        bare = asyncio.run(ceiling(dsn, args.assets))
        results = measure(dsn, work, args.assets)
    report(rows, results, bare)


if __name__ == "__main__":
    main()
