"""Benchmark: a backfill of 100 assets x (365 days daily + 90 days hourly) from the fake upstream.

Run: .venv/bin/python bench/backfill.py [--assets 100] [--workers 2]

Both sources (CoinGecko, and CoinPaprika on a plan that serves 90 days of hourly ticks), at
unlimited rate, over real HTTP on loopback; the fake runs in a process of its own so that it
does not share this one's interpreter. The database is a fresh embedded PostgreSQL. Prints
windows/s, points stored/s end to end (request, raw response, quotes, window state; one
transaction per window) and this process's peak memory. Target on the 2-core machine:
>= 20,000 points/s.

Beside it, the same run's ceiling (`bench/table_ceiling.py`): a binary COPY of every row the
backfill wrote (history, rollups, raw responses, windows...) into empty copies of its tables. The
machine's speed swings from hour to hour; the ratio to that ceiling shows whether a slow figure is
the code's or the machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import text

from kasparro.config import Settings
from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.devtools import FakeConfig, FakeUpstream
from kasparro.pipeline import backfill
from kasparro.pipeline.budget import CallBudget
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.jobs import new_http_client
from kasparro.sources import registry
from table_ceiling import measure

TARGET_POINTS_PER_SECOND = 20_000
CPU_SECONDS: list[float] = []  # of this process, per backfill
_MAPPING = """INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)
VALUES (:s, :c, :a, 'T', :a, 'new')"""


def _serve_fake(port: int, assets: int) -> None:
    import uvicorn

    fake = FakeUpstream(paprika_count=max(assets, 100), gecko_pages=max(1, -(-assets // 250)))
    fake.reset(FakeConfig(paprika_count=max(assets, 100), gecko_pages=max(1, -(-assets // 250)),
                          paprika_hourly_days=365))  # fmt: skip
    uvicorn.run(fake.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the fake upstream did not start")


async def _seed(engine, assets: int) -> None:  # type: ignore[no-untyped-def]
    fake = FakeUpstream(paprika_count=max(assets, 100), gecko_pages=max(1, -(-assets // 250)))
    gecko = [e["id"] for e in fake.entries("coingecko")][:assets]
    paprika = [e["id"] for e in fake.entries("coinpaprika")][:assets]
    async with engine.begin() as conn:
        for rank, (g, p) in enumerate(zip(gecko, paprika, strict=True)):
            asset = f"asset-{rank:04d}"
            await conn.execute(
                text("INSERT INTO assets (asset_id, ticker, name) VALUES (:a, :a, :a)"),
                {"a": asset},
            )
            for source, coin in (("coingecko", g), ("coinpaprika", p)):
                await conn.execute(text(_MAPPING), {"s": source, "c": coin, "a": asset})


async def _backfill(url: str, settings: Settings, assets: int, workers: int, days: int,
                    interval: str) -> tuple[int, int, float]:  # fmt: skip
    engine = create_engine(url, pool_size=4 * workers + 4)
    now = datetime.now(UTC)
    asked = backfill.BackfillRequest(None, assets, now - timedelta(days=days), now, interval,  # type: ignore[arg-type]
                                     workers, now)  # fmt: skip
    try:
        async with engine.begin() as conn:
            ids = [r[0] for r in await conn.execute(text("SELECT asset_id FROM assets ORDER BY 1"))]
        async with new_http_client(settings) as http:
            works = []
            for name in ("coingecko", "coinpaprika"):
                source = registry.capabilities(name)
                assert source.history is not None and source.history_plan is not None
                request = source.api()[1](http, settings)
                CallBudget(engine, name, None).attach(request.client)
                plan = source.history_plan(settings)
                work = backfill.SourceWork(source, source.history, request, asked.interval or "1d")
                await backfill.plan_source(
                    engine, work, ids, asked, backfill.windows_function(plan, asked)
                )
                works.append(work)
            started, cpu = time.perf_counter(), time.process_time()
            catalog = AssetCatalog(Path("/nonexistent"))
            skew = timedelta(seconds=300)
            runner = backfill.Backfill(
                engine, catalog, works, workers=workers, max_future_skew=skew
            )
            await runner.run()
            elapsed = time.perf_counter() - started
            CPU_SECONDS.append(time.process_time() - cpu)
        return runner.progress.total, runner.progress.points, elapsed
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    port = _free_port()
    fake = multiprocessing.get_context("spawn").Process(
        target=_serve_fake, args=(port, args.assets), daemon=True
    )
    fake.start()
    with tempfile.TemporaryDirectory(prefix="kasparro-bench-") as work:
        try:
            url = start_embedded_postgres(Path(work) / "pgdata")
            upgrade_to_head(url)
            _wait_for(port)
            base = f"http://127.0.0.1:{port}"
            settings = Settings(_env_file=None, database_url=url, coingecko_rpm=10_000,  # type: ignore[call-arg]
                                coinpaprika_rpm=10_000, coinpaprika_plan="business",
                                coingecko_base_url=f"{base}/coingecko/api/v3",
                                coinpaprika_base_url=f"{base}/coinpaprika/v1")  # fmt: skip
            engine = create_engine(url)
            asyncio.run(_seed_then_dispose(engine, args.assets))
            daily = asyncio.run(_backfill(url, settings, args.assets, args.workers, 365, "1d"))
            hourly = asyncio.run(_backfill(url, settings, args.assets, args.workers, 90, "1h"))
            ceiling = asyncio.run(_ceiling_seconds(url, Path(work)))
        finally:
            fake.terminate()
            stop_embedded_postgres(Path(work) / "pgdata")
    windows = daily[0] + hourly[0]
    points = daily[1] + hourly[1]
    seconds = daily[2] + hourly[2]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = points / seconds
    print(f"assets x sources        {args.assets} x 2 (365 days daily + 90 days hourly)")
    print(f"windows                 {windows:>10,}  ({daily[0]:,} daily, {hourly[0]:,} hourly)")
    print(f"points stored           {points:>10,}")
    split = f"daily {daily[2]:.2f} s, hourly {hourly[2]:.2f} s"
    print(f"elapsed                 {seconds:>10.2f} s  ({split})")
    print(f"windows/s               {windows / seconds:>10,.1f}")
    print(f"points stored/s         {rate:>10,.0f}   target >= {TARGET_POINTS_PER_SECOND:,}: "
          f"{'PASS' if rate >= TARGET_POINTS_PER_SECOND else 'FAIL'}")  # fmt: skip
    print(f"peak memory (this proc) {peak_mb:>10.0f} MB")
    ceiling_rate = points / ceiling
    print(f"same-table ceiling      {ceiling:>10.2f} s  ({ceiling_rate:,.0f} points/s: binary COPY"
          f" of every row written; ratio {rate / ceiling_rate:.2f})")  # fmt: skip
    cpu = sum(CPU_SECONDS)
    print(f"CPU of this process     {cpu:>10.2f} s  ({points / cpu:,.0f} points per CPU second;"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip


async def _ceiling_seconds(url: str, work: Path) -> float:
    """Seconds a binary COPY of every row the backfill wrote takes, into empty copies of its
    tables with the same indexes and partitions."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        return sum(t.seconds for t in await measure(conn, work))
    finally:
        await conn.close()


async def _seed_then_dispose(engine, assets: int) -> None:  # type: ignore[no-untyped-def]
    try:
        await _seed(engine, assets)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main()
