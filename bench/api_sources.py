"""Benchmark: one full ETL run of CoinPaprika and CoinGecko against the fake upstream.

Run: .venv/bin/python bench/api_sources.py [--paprika 2500] [--pages 4] [--repeat 3]

The fake upstream serves recorded responses over real HTTP on loopback (2,500 CoinPaprika
tickers, 4 CoinGecko pages of 250); the database is a fresh embedded PostgreSQL. The client's
rate limits are lifted, so the figure excludes deliberate rate-limit waits. Each repeat runs
on a changed upstream (every price and `last_updated` moved), so every run stores and
normalizes every entry; one more run on unchanged data shows the incremental path.
Target on the 2-core machine: a full run under 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.devtools import FakeUpstream, RunningFake, serve_in_thread
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.http import UpstreamClient

TARGET_SECONDS = 3.0


def build_runner(engine, http: httpx.AsyncClient, fake: RunningFake, pages: int) -> EtlRunner:  # type: ignore[no-untyped-def]
    def client(source: str) -> UpstreamClient:
        return UpstreamClient(http, source=source, requests_per_minute=100_000)

    catalog = AssetCatalog(Path("data/asset_overrides.csv"))
    jobs = {
        "coinpaprika": ApiJob(
            engine,
            catalog,
            coinpaprika.SPEC,
            SourceRequest(client("coinpaprika"), fake.coinpaprika_base_url),
        ),
        "coingecko": ApiJob(
            engine,
            catalog,
            coingecko.SPEC,
            SourceRequest(client("coingecko"), fake.coingecko_base_url, max_pages=pages),
        ),
    }
    return EtlRunner(engine, jobs)


async def measure(
    url: str, fake: RunningFake, pages: int, repeat: int
) -> tuple[list[float], float, int]:
    engine = create_engine(url)
    try:
        async with httpx.AsyncClient() as http:
            runner = build_runner(engine, http, fake, pages)
            full: list[float] = []
            for _ in range(repeat):
                fake.fake.advance(60)
                started = time.perf_counter()
                outcomes = await runner.run()
                full.append(time.perf_counter() - started)
                assert all(o.status == "success" for o in outcomes), outcomes
            processed = sum(o.processed for o in outcomes)
            started = time.perf_counter()
            await runner.run()
            unchanged = time.perf_counter() - started
    finally:
        await engine.dispose()
    return full, unchanged, processed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paprika", type=int, default=2500, help="CoinPaprika tickers served")
    parser.add_argument("--pages", type=int, default=4, help="CoinGecko pages of 250")
    parser.add_argument("--repeat", type=int, default=3, help="full runs to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kasparro-bench-") as work:
        url = start_embedded_postgres(Path(work) / "pgdata")
        upgrade_to_head(url)
        fake = FakeUpstream(paprika_count=args.paprika, gecko_pages=args.pages)
        with serve_in_thread(fake) as running:
            full, unchanged, processed = asyncio.run(measure(url, running, args.pages, args.repeat))
        stop_embedded_postgres(Path(work) / "pgdata")

    median = statistics.median(full)
    served = f"{args.paprika:,} CoinPaprika + {args.pages * 250:,} CoinGecko"
    runs = ", ".join(f"{t:.2f}" for t in full)
    verdict = "PASS" if median < TARGET_SECONDS else "FAIL"
    print(f"entries per run        {processed:>10,} ({served})")
    print(f"full run, median       {median:>10.2f} s   (runs: {runs})")
    print(f"entries/s              {processed / median:>10,.0f}")
    print(f"unchanged re-run       {unchanged:>10.2f} s")
    print(f"target < {TARGET_SECONDS:.0f} s           {verdict:>10}")


if __name__ == "__main__":
    main()
