"""Asset ids follow the data, not the order of batches (issue 14 item 7): the same recordings,
loaded over real HTTP in either source order or through a crash and a resume, give the same
`assets` and `asset_mappings`, row for row; an id settled by an ended run is never renamed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import FakeConfig, RunningFake
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.http import RetryPolicy, UpstreamClient
from tests.fixtures.servers import ALL_TABLES
from tests.helpers import no_overrides, rows
from tests.table_snapshot import snapshot

FAST = RetryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.02)
TABLES = ("assets", "asset_mappings")
# Enough of both recordings to hold the cases below (MimbleWimbleCoin is CoinGecko's 194th and
# CoinPaprika's 283rd coin), small enough to load five times in seconds.
GECKO_PAGES = 2
PAPRIKA_COUNT = 800


@pytest.fixture
def fake(fake_server: RunningFake) -> RunningFake:
    fake_server.fake.reset(FakeConfig(paprika_count=PAPRIKA_COUNT))
    return fake_server


class After:
    """A source's job that starts only once `first` is set, and sets `done` when it ends."""

    def __init__(self, job: ApiJob, first: asyncio.Event | None, done: asyncio.Event) -> None:
        self.job, self.first, self.done, self.name = job, first, done, job.name

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        if self.first is not None:
            await self.first.wait()
        try:
            await self.job.run(run, counters, progress)
        finally:
            self.done.set()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def jobs(http: httpx.AsyncClient, fake: RunningFake, catalog: AssetCatalog) -> dict[str, ApiJob]:
    made = {}
    for spec, url, pages in (
        (coinpaprika.SPEC, fake.coinpaprika_base_url, 1),
        (coingecko.SPEC, fake.coingecko_base_url, GECKO_PAGES),
    ):
        client = UpstreamClient(http, source=spec.name, requests_per_minute=1000, policy=FAST)
        made[spec.name] = ApiJob(db_of(catalog), catalog, spec, SourceRequest(client, url, pages))
    return made


_ENGINES: dict[int, AsyncEngine] = {}


def db_of(catalog: AssetCatalog) -> AsyncEngine:
    return _ENGINES[id(catalog)]


async def one_run(
    db: AsyncEngine, http: httpx.AsyncClient, fake: RunningFake, first: str, *, settle: bool = True
) -> None:
    """Both sources in one run, `first`'s job done before the other's begins."""
    catalog = no_overrides()
    _ENGINES[id(catalog)] = db
    made = jobs(http, fake, catalog)
    other = next(s for s in made if s != first)
    first_done, other_done = asyncio.Event(), asyncio.Event()
    ordered = {
        first: After(made[first], None, first_done),
        other: After(made[other], first_done, other_done),
    }
    runner = EtlRunner(db, ordered, settle=catalog.settle if settle else None)
    await runner.run()


async def tables(db: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    taken = await snapshot(db)
    return {t: taken[t] for t in TABLES}


async def clean(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        everything = await conn.scalar(text(ALL_TABLES))
        await conn.execute(text(f"TRUNCATE {everything} RESTART IDENTITY CASCADE"))


async def asset_of(db: AsyncEngine, source: str, coin: str) -> str:
    (row,) = await rows(
        db,
        "SELECT asset_id FROM asset_mappings WHERE source = :s AND source_coin_id = :c",
        s=source,
        c=coin,
    )
    return str(row["asset_id"])


async def test_either_source_order_and_a_crash_give_the_same_assets_row_for_row(
    db: AsyncEngine, fake: RunningFake, http: httpx.AsyncClient
) -> None:
    await one_run(db, http, fake, "coinpaprika")
    expected = await tables(db)
    # the ids follow the naming precedence (CoinGecko's coin first), whoever came first:
    # "MimbleWimbleCoin" (CoinGecko) over "Mimble Wimble Coin" (CoinPaprika) ...
    assert await asset_of(db, "coinpaprika", "mwc-mimblewimblecoin") == "mimblewimblecoin"
    # ... and of two different coins named "IOTA", CoinGecko's gets the plain slug
    assert await asset_of(db, "coingecko", "iota") == "iota"
    assert await asset_of(db, "coinpaprika", "miota-iota") == "iota-miota"

    await clean(db)
    await one_run(db, http, fake, "coingecko")
    assert await tables(db) == expected

    # a run that died after CoinPaprika's page and CoinGecko's first (it never ended, so
    # never settled), then a run that resumes it
    await clean(db)
    fake.fake.fail(times=2, status=500, source="coingecko", page=2)
    await one_run(db, http, fake, "coinpaprika", settle=False)
    pages = await rows(db, "SELECT DISTINCT page FROM raw_api_records WHERE source = 'coingecko'")
    assert pages == [{"page": 1}]
    assert await asset_of(db, "coinpaprika", "mwc-mimblewimblecoin") == "mimble-wimble-coin"
    await one_run(db, http, fake, "coingecko")
    assert await tables(db) == expected


async def test_an_id_settled_by_an_ended_run_is_never_renamed(
    db: AsyncEngine, fake: RunningFake, http: httpx.AsyncClient
) -> None:
    catalog = no_overrides()
    _ENGINES[id(catalog)] = db
    made = jobs(http, fake, catalog)
    await EtlRunner(db, {"coinpaprika": made["coinpaprika"]}, settle=catalog.settle).run()
    assert await asset_of(db, "coinpaprika", "mwc-mimblewimblecoin") == "mimble-wimble-coin"

    await EtlRunner(db, {"coingecko": made["coingecko"]}, settle=catalog.settle).run()

    # CoinGecko's coin joins the published asset; its better name does not rename it
    assert await asset_of(db, "coingecko", "mimblewimblecoin") == "mimble-wimble-coin"
    assert await asset_of(db, "coinpaprika", "miota-iota") == "iota"
    assert await asset_of(db, "coingecko", "iota") != "iota"
