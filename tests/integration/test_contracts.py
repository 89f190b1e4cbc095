"""Token contracts: fetched from the fake upstream over real HTTP into `coin_contracts`, at most
once per CATALOG_REFRESH_SECONDS, and used as identity evidence (issue 14 item 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import FakeUpstream, RunningFake
from kasparro.devtools.contracts import address
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.contracts import ContractRefresher
from kasparro.pipeline.runner import EtlRunner
from kasparro.pipeline.scheduler import Scheduler
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.http import RetryPolicy, UpstreamClient
from tests.cli.test_commands import kasparro
from tests.helpers import no_overrides, rows, scalar

SEED = FakeUpstream().config.seed
RENDER = address(SEED, "render-token", "ethereum")
USDC_SOL = address(SEED, "usd-coin", "solana")
FAST = RetryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.02)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def requests_for(http: httpx.AsyncClient, fake: RunningFake) -> dict[str, SourceRequest]:
    made = {}
    for name, url, pages in (
        ("coinpaprika", fake.coinpaprika_base_url, 1),
        ("coingecko", fake.coingecko_base_url, 1),
    ):
        client = UpstreamClient(http, source=name, requests_per_minute=1000, policy=FAST)
        made[name] = SourceRequest(client, url, pages)
    return made


def refresher(
    db: AsyncEngine,
    requests: dict[str, SourceRequest],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ContractRefresher:
    catalogs = {
        "coinpaprika": (coinpaprika.CATALOG, requests["coinpaprika"]),
        "coingecko": (coingecko.CATALOG, requests["coingecko"]),
    }
    return ContractRefresher(db, no_overrides(), catalogs, 86400, clock)


async def contracts(db: AsyncEngine, coin: str) -> list[tuple[str, str, bool]]:
    found = await rows(
        db,
        "SELECT platform, address, active FROM coin_contracts WHERE source_coin_id = :coin"
        " ORDER BY platform, address",
        coin=coin,
    )
    return [(r["platform"], r["address"], r["active"]) for r in found]


async def test_a_refresh_stores_contracts_and_another_inside_the_interval_asks_nothing(
    db: AsyncEngine, fake_server: RunningFake, http: httpx.AsyncClient
) -> None:
    outcomes = await refresher(db, requests_for(http, fake_server)).refresh()

    assert {(o.source, o.status) for o in outcomes} == {
        ("coingecko", "refreshed"), ("coinpaprika", "refreshed"),
    }  # fmt: skip
    paths = [r.path for r in fake_server.fake.requests]
    assert paths.count("/coingecko/api/v3/coins/list") == 1
    (listing,) = [r for r in fake_server.fake.requests if r.path.endswith("/coins/list")]
    assert listing.query == {"include_platform": "true"}
    # the platform list, then only the platforms that have a counterpart (not waves-waves)
    assert sorted(p for p in paths if p.startswith("/coinpaprika")) == [
        "/coinpaprika/v1/contracts",
        "/coinpaprika/v1/contracts/bnb-binance-coin",
        "/coinpaprika/v1/contracts/eth-ethereum",
        "/coinpaprika/v1/contracts/sol-solana",
    ]
    # both sources' platform spellings stored as one; EVM hex compared in lower case (the
    # fake serves CoinPaprika's in mixed case), base58 exactly as served
    assert await contracts(db, "render-token") == [("ethereum", RENDER, True)]
    paprika_render = await contracts(db, "rndr-render-token")
    assert ("ethereum", RENDER, True) in paprika_render
    assert [a for _, a, active in paprika_render if not active]  # the retired address, kept
    assert await contracts(db, "usdc-usd-coin") == await contracts(db, "usd-coin")
    assert ("solana", USDC_SOL, True) in await contracts(db, "usd-coin")
    assert USDC_SOL.lower() != USDC_SOL
    assert await contracts(db, "bitcoin") == []  # listed as {"": ""}: no contract

    # inside CATALOG_REFRESH_SECONDS: nothing is fetched, even by another process's refresher
    fake_server.fake.clear_requests()
    again = await refresher(db, requests_for(http, fake_server)).refresh()
    assert {o.status for o in again} == {"fresh"}
    assert fake_server.fake.requests == []


async def _load_quotes(db: AsyncEngine, requests: dict[str, SourceRequest]) -> None:
    catalog = no_overrides()
    jobs = {
        "coinpaprika": ApiJob(db, catalog, coinpaprika.SPEC, requests["coinpaprika"]),
        "coingecko": ApiJob(db, catalog, coingecko.SPEC, requests["coingecko"]),
    }
    (paprika, gecko) = await EtlRunner(db, jobs).run()
    assert paprika.status == gecko.status == "success"


async def _asset(db: AsyncEngine, source: str, coin: str) -> dict[str, object]:
    (row,) = await rows(
        db,
        "SELECT asset_id, method, evidence FROM asset_mappings"
        " WHERE source = :source AND source_coin_id = :coin",
        source=source,
        coin=coin,
    )
    return row


async def test_a_shared_contract_merges_coins_whose_ticker_and_name_differ(
    db: AsyncEngine,
    fake_server: RunningFake,
    http: httpx.AsyncClient,
    make_client: Callable[..., Any],
) -> None:
    requests = requests_for(http, fake_server)
    await _load_quotes(db, requests)
    # RNDR "Render Token" and RENDER "Render": nothing else says they are one coin
    before = await _asset(db, "coinpaprika", "rndr-render-token")
    assert before["asset_id"] != (await _asset(db, "coingecko", "render-token"))["asset_id"]

    await refresher(db, requests).refresh()

    paprika = await _asset(db, "coinpaprika", "rndr-render-token")
    gecko = await _asset(db, "coingecko", "render-token")
    assert paprika["asset_id"] == gecko["asset_id"]
    moved = paprika if paprika["asset_id"] != before["asset_id"] else gecko
    assert moved["method"] == "evidence"
    assert moved["evidence"]["contract"] == f"ethereum:{RENDER}"  # type: ignore[index]
    assert moved["evidence"]["ticker"] is False  # type: ignore[index]
    # and the contract resolves to it, whatever the case of its hex digits
    client = await make_client()
    found = await client.get(
        "/assets/resolve",
        params={
            "platform": "ethereum",
            "contract": RENDER.upper()[:2].lower() + RENDER.upper()[2:],
        },
    )
    assert found.status_code == 200, found.text
    assert found.json()["data"]["asset_id"] == paprika["asset_id"]
    event = await scalar(
        db,
        "SELECT count(*) FROM asset_mapping_events WHERE method = 'evidence'"
        " AND source_coin_id IN ('rndr-render-token', 'render-token')",
    )
    assert event == 1


async def test_a_failed_refresh_is_on_record_and_keeps_the_contracts(
    db: AsyncEngine, fake_server: RunningFake, http: httpx.AsyncClient
) -> None:
    requests = requests_for(http, fake_server)
    await refresher(db, requests).refresh()
    stored = await rows(db, "SELECT * FROM coin_contracts ORDER BY 1, 2, 3, 4")
    refreshed = await rows(db, "SELECT * FROM catalog_refreshes")

    fake_server.fake.fail(times=10, status=503, source="coinpaprika")
    later = datetime.now(UTC) + timedelta(days=2)  # past CATALOG_REFRESH_SECONDS
    outcomes = {o.source: o for o in await refresher(db, requests, lambda: later).refresh()}

    assert outcomes["coinpaprika"].status == "failed"
    assert "HTTP 503" in (outcomes["coinpaprika"].message or "")
    assert outcomes["coingecko"].status == "refreshed"  # one source's failure is its own
    after = await rows(db, "SELECT * FROM coin_contracts ORDER BY 1, 2, 3, 4")
    assert [r for r in after if r["source"] == "coinpaprika"] == [
        r for r in stored if r["source"] == "coinpaprika"
    ]
    on_record = {
        r["source"]: r["refreshed_at"] for r in await rows(db, "SELECT * FROM catalog_refreshes")
    }
    assert on_record["coinpaprika:failed"] == later
    assert (
        on_record["coinpaprika"]
        == {r["source"]: r["refreshed_at"] for r in refreshed}["coinpaprika"]
    )
    assert on_record["coingecko"] == later


def test_the_catalog_refresh_command(
    db: AsyncEngine, database_url: str, tmp_path: Path, fake_server: RunningFake
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "ETL_SOURCES": "coinpaprika,coingecko",
        "COINPAPRIKA_BASE_URL": fake_server.coinpaprika_base_url,
        "COINGECKO_BASE_URL": fake_server.coingecko_base_url,
        "HTTP_MAX_ATTEMPTS": "1",
    }
    fake_server.fake.fail(times=1, status=500, source="coingecko")
    failed = kasparro("catalog", "refresh", cwd=tmp_path, **env)
    assert failed.returncode == 1
    (line,) = failed.stderr.strip().splitlines()[-1:]
    assert line.startswith("Error: catalog refresh failed: coingecko:"), failed.stderr
    assert "Traceback" not in failed.stderr
    assert "coinpaprika: refreshed" in failed.stdout

    done = kasparro("catalog", "refresh", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert "coingecko: refreshed" in done.stdout
    assert "coinpaprika: up to date" in done.stdout


async def test_the_scheduler_refreshes_the_contracts_after_its_run_once_per_interval(
    db: AsyncEngine, fake_server: RunningFake, http: httpx.AsyncClient
) -> None:
    requests = requests_for(http, fake_server)
    catalog = no_overrides()
    runner = EtlRunner(
        db, {"coingecko": ApiJob(db, catalog, coingecko.SPEC, requests["coingecko"])}
    )
    scheduler = Scheduler(runner, 60, refresher=refresher(db, requests))

    (outcome,) = await scheduler.tick()
    assert outcome.status == "success"
    assert await scalar(db, "SELECT count(*) FROM coin_contracts") > 0
    fake_server.fake.clear_requests()

    await scheduler.tick()
    assert [r.path for r in fake_server.fake.requests] == ["/coingecko/api/v3/coins/markets"]
