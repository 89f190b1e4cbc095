"""Benchmark: retention drops a month of raw observations in under a second without blocking
reads.

Run: .venv/bin/python bench/retention.py [--rows 10M] [--seconds 3]

On a throwaway embedded PostgreSQL at head: one old month (January 2020) is seeded with
`--rows` observations (1,000 coins every few minutes), and the current month with 50,000 for
the reader. A reader queries the current month's history of one coin in a loop (as the history
route does, one index range scan) the whole time. Then `kasparro db prune`'s own function runs
with HISTORY_RETENTION_DAYS=365, first as a dry run (it counts the month's rows), then for real
(it counts, then drops the partition in its own transaction, which it times).
Target: the drop of the month under 1 s; the reader's latency during the prune beside its
latency before it (not blocked: its worst case stays in milliseconds, not the prune's length).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.pipeline.retention import Retention, prune
from kasparro.repositories import partitions
from kasparro.repositories.partitions import Month

TARGET_DROP_S = 1.0
COINS = 1000
_SEED = """
INSERT INTO quotes (source, source_coin_id, observed_at, ticker, price_usd, run_id)
SELECT 'coingecko', 'c' || (k % {coins}), $1::timestamptz + (k / {coins}) * $2::interval,
       'C', 100 + k % 97, 1
FROM generate_series(0, $3::bigint - 1) AS k
"""
_READ = """
SELECT observed_at, price_usd FROM quotes
WHERE source = 'coingecko' AND source_coin_id = 'c7' AND observed_at >= $1
ORDER BY observed_at LIMIT 200
"""


def _rows(text: str) -> int:
    text = text.upper()
    return int(float(text[:-1]) * 1_000_000) if text.endswith("M") else int(text)


async def _seed(dsn: str, month: Month, rows: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await partitions.ensure(conn, month)
        step = (month.end - month.start) / max(1, rows // COINS + 1)
        await conn.execute(_SEED.format(coins=COINS), month.start, step, rows)
        await conn.execute(f"ANALYZE {month.table}")
    finally:
        await conn.close()


async def _reader(
    dsn: str, since: datetime, stop: asyncio.Event, out: list[tuple[float, float]]
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            began = time.perf_counter()
            await conn.fetch(_READ, since)
            out.append((began, (time.perf_counter() - began) * 1000))
            await asyncio.sleep(0.002)
    finally:
        await conn.close()


def _summary(latencies: list[float]) -> str:
    if not latencies:
        return "no reads"
    return (f"{len(latencies)} reads, median {statistics.median(latencies):.2f} ms,"
            f" max {max(latencies):.2f} ms")  # fmt: skip


async def _measure(url: str, rows: int, seconds: float) -> bool:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    old, current = Month(2020, 1), Month.of(datetime.now(UTC))
    began = time.perf_counter()
    await _seed(dsn, old, rows)
    await _seed(dsn, current, 50_000)
    print(f"seeded {rows:,} rows into {old.table} in {time.perf_counter() - began:.1f} s")

    engine = create_engine(url)
    keep = Retention(history_days=365)
    stop, reads = asyncio.Event(), list[tuple[float, float]]()
    reader = asyncio.create_task(_reader(dsn, current.start, stop, reads))
    try:
        await asyncio.sleep(seconds)
        t0 = time.perf_counter()
        dry = await prune(engine, keep, dry_run=True)
        t1 = time.perf_counter()
        done = await prune(engine, keep)
        t2 = time.perf_counter()
        await asyncio.sleep(seconds)
    finally:
        stop.set()
        await reader
        await engine.dispose()
    for line in done.lines():
        print(line)
    assert [i.what for i in dry.items] == [old.table] == [i.what for i in done.items]
    drop = done.items[0].seconds
    before = [ms for at, ms in reads if at < t1]
    during = [ms for at, ms in reads if t1 <= at <= t2]
    print(f"prune (count + drop): {t2 - t1:.3f} s; dry run (count): {t1 - t0:.3f} s")
    print(f"drop of the month (its transaction): {drop:.3f} s (ceiling {TARGET_DROP_S:.1f} s)")
    print(f"reader before the prune: {_summary(before)}")
    print(f"reader during the prune: {_summary(during)}")
    return drop < TARGET_DROP_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10M", help="rows in the dropped month (e.g. 2M)")
    parser.add_argument("--seconds", type=float, default=3.0, help="reads before and after")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kasparro-retention-bench-") as work:
        pgdata = Path(work) / "pgdata"
        url = start_embedded_postgres(pgdata)
        try:
            upgrade_to_head(url)
            ok = asyncio.run(_measure(url, _rows(args.rows), args.seconds))
        finally:
            stop_embedded_postgres(pgdata)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
