"""Benchmark: what identity resolution adds to a run of a full snapshot (2,500 + 1,000 coins).

Run: .venv/bin/python bench/identity_resolution.py [--gecko-pages 10] [--paprika 1000] [--repeat 3]

One ETL run of CoinPaprika (1,000 tickers) and CoinGecko (10 pages of 250) against the fake
upstream over loopback HTTP, into a fresh embedded PostgreSQL, the contracts refreshed first.
Timed inside the run, with the database round trips: the catalog's end-of-run step
(`AssetCatalog.finish_run`: the evidence pass over every API coin — listings query, scoring,
one-to-one assignment, mapping writes —, the summaries of the assets it changed, the settle of
the provisional asset ids), which the runner calls once every source of the run is done. The
first run maps every coin anew; the repeats run on a changed upstream (every price moved), so
evidence is scored again over the whole snapshot. Budget (issue 14): at most +0.3 s a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.devtools import FakeUpstream, RunningFake, serve_in_thread
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.catalog import AssetCatalog, Key
from kasparro.pipeline.contracts import ContractRefresher
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.http import UpstreamClient

BUDGET_S = 0.3


class TimedCatalog(AssetCatalog):
    """The catalog, adding up the time of its end-of-run step (evidence pass, summaries of the
    assets it touches, settle of the ids) and, within it, of the evidence passes."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent/asset_overrides.csv"), rescore_at_run_end=True)
        self.evidence = 0.0
        self.settling = 0.0
        self.cpu = 0.0  # this process's CPU time in both: what a busy machine inflates least
        self.calls = 0

    async def _by_evidence(self, driver: Any, focus: set[Key] | None) -> tuple[set[str], bool]:
        started = time.perf_counter()
        try:
            return await super()._by_evidence(driver, focus)
        finally:
            self.evidence += time.perf_counter() - started  # a part of `finish_run`'s time
            self.calls += 1

    async def finish_run(self, engine: AsyncEngine) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            await super().finish_run(engine)
        finally:
            self.settling += time.perf_counter() - started
            self.cpu += time.process_time() - cpu

    def reset(self) -> None:
        self.evidence = self.settling = self.cpu = 0.0
        self.calls = 0


def _requests(http: httpx.AsyncClient, fake: RunningFake, pages: int) -> dict[str, SourceRequest]:
    def client(source: str) -> UpstreamClient:
        return UpstreamClient(http, source=source, requests_per_minute=100_000)

    return {
        "coinpaprika": SourceRequest(client("coinpaprika"), fake.coinpaprika_base_url),
        "coingecko": SourceRequest(client("coingecko"), fake.coingecko_base_url, pages),
    }


async def measure(url: str, fake: RunningFake, pages: int, repeat: int) -> list[dict[str, float]]:
    engine = create_engine(url)
    catalog = TimedCatalog()
    figures: list[dict[str, float]] = []
    try:
        async with httpx.AsyncClient() as http:
            requests = _requests(http, fake, pages)
            specs = {"coinpaprika": coinpaprika, "coingecko": coingecko}
            jobs = {n: ApiJob(engine, catalog, m.SPEC, requests[n]) for n, m in specs.items()}
            catalogs = {n: (m.CATALOG, requests[n]) for n, m in specs.items()}
            await ContractRefresher(engine, catalog, catalogs, 86400).refresh()
            runner = EtlRunner(engine, jobs, settle=catalog.finish_run)
            for index in range(repeat + 1):
                if index:
                    fake.fake.advance(60)
                catalog.reset()
                started = time.perf_counter()
                outcomes = await runner.run()
                total = time.perf_counter() - started
                assert all(o.status == "success" for o in outcomes), outcomes
                figures.append(
                    {"run": total, "evidence": catalog.evidence, "settle": catalog.settling,
                     "calls": catalog.calls, "cpu": catalog.cpu}
                )  # fmt: skip
    finally:
        await engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gecko-pages", type=int, default=10, help="CoinGecko pages of 250")
    parser.add_argument("--paprika", type=int, default=1000, help="CoinPaprika tickers served")
    parser.add_argument("--repeat", type=int, default=3, help="runs on a changed upstream")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kasparro-bench-") as work:
        url = start_embedded_postgres(Path(work) / "pgdata")
        upgrade_to_head(url)
        fake = FakeUpstream(paprika_count=args.paprika, gecko_pages=args.gecko_pages)
        with serve_in_thread(fake) as running:
            figures = asyncio.run(measure(url, running, args.gecko_pages, args.repeat))
        stop_embedded_postgres(Path(work) / "pgdata")

    first, *again = figures
    print(f"snapshot: {args.gecko_pages * 250:,} CoinGecko + {args.paprika:,} CoinPaprika coins")
    for label, f in [("first run (all new)", first)] + [
        (f"re-run {i} (prices moved)", f) for i, f in enumerate(again, 1)
    ]:
        print(
            f"{label:<26} run {f['run']:6.2f} s   resolution {f['settle']:6.3f} s "
            f"(of it the evidence pass {f['evidence']:.3f} s; CPU here {f['cpu']:.3f} s)"
        )
    steady = statistics.median(f["settle"] for f in again) if again else 0.0
    cpu = statistics.median(f["cpu"] for f in again) if again else 0.0
    verdict = "PASS" if steady <= BUDGET_S else "OVER"
    print(
        f"resolution per run (median re-run): {steady:.3f} s wall, {cpu:.3f} s CPU here; "
        f"first run {first['settle']:.3f} s; ceiling +{BUDGET_S} s  {verdict}"
    )
    print(f"load average while measured: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
