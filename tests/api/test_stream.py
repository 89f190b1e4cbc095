"""`GET /stream` in real `kasparro serve` processes, written to by other real processes: events
after commit only, across API processes, none for a rolled-back batch, filters, the 503 cap,
and bad parameters."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.exact_json import loads_exact
from tests.api.stream_client import Listener, etl_run_async, run_finished, wait_metric
from tests.conftest import SAMPLE_CSV
from tests.reliability.serve_process import serve

TOKEN = "stream-test-token-0123456789"


def _sample_coins(rows: slice = slice(None)) -> list[str]:
    with SAMPLE_CSV.open(newline="") as f:
        return [row["ticker"].lower() for row in list(csv.DictReader(f))[rows]]


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def test_a_run_through_one_api_process_is_heard_on_another(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    with (
        serve(database_url, tmp_path / "a", SCHEDULER_TOKEN=TOKEN) as a,
        serve(database_url, tmp_path / "b") as b,
    ):
        async with Listener(b.base) as heard, httpx.AsyncClient(base_url=a.base) as http:
            trigger = await http.post("/trigger-etl", headers={"X-Scheduler-Token": TOKEN})
            assert trigger.status_code == 202
            await heard.wait_for(run_finished())
            runs = loads_exact((await http.get("/runs")).text)["data"]
            bitcoin = loads_exact((await http.get("/assets/bitcoin")).text)["data"]

    kinds = [e.event for e in heard.events]
    assert kinds[0] == "run" and kinds[-1] == "run"
    assert [e.data["status"] for e in heard.of("run")] == ["running", "success"]
    assert heard.of("run")[-1].data == runs[0]  # the very item GET /runs lists
    ids = [e.id for e in heard.events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    quotes = heard.of("quote")
    assert sorted(e.data["source_coin_id"] for e in quotes) == sorted(_sample_coins())
    btc = next(e for e in quotes if e.data["asset_id"] == "bitcoin")
    # exact decimals, rendered as the JSON API renders them
    assert '"price_usd":96114.08481739' in btc.raw
    assert btc.data["price_usd"] == bitcoin["sources"][0]["price_usd"]
    consensus = {e.data["asset_id"]: e.data for e in heard.of("consensus")}
    assert consensus["bitcoin"] == {
        "asset_id": "bitcoin", "price_usd": bitcoin["price_usd"],
        "divergence_pct": bitcoin["divergence_pct"], "flags": bitcoin["flags"],
    }  # fmt: skip
    assert len(consensus) == len(heard.of("consensus")) == 50


async def test_events_come_after_their_batch_commits_and_never_for_one_rolled_back(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """Batches of 10 rows, each held 0.5 s before it commits; the second one fails. Every
    quote announced is already in the database when its event arrives."""
    conn = await asyncpg.connect(_plain(database_url))
    visible: list[bool] = []

    async def check(event: object) -> None:
        data = getattr(event, "data", {})
        if getattr(event, "event", "") == "quote":
            price = await conn.fetchval(
                "SELECT price_usd FROM normalized_records WHERE id = $1",
                f"csv_{data['source_coin_id']}",
            )
            visible.append(price == data["price_usd"])

    try:
        with serve(database_url, tmp_path / "api") as api:
            async with Listener(api.base, on_event=check) as heard:
                done = await etl_run_async(
                    database_url, SAMPLE_CSV, tmp_path,
                    ETL_BATCH_SIZE="10", ETL_FAULTS="db:commit=2,db:delay=500",
                )  # fmt: skip
                await heard.wait_for(run_finished())
        stored = await conn.fetchval("SELECT count(*) FROM stream_events WHERE event = 'quote'")
    finally:
        await conn.close()

    assert done.returncode == 1, done.stderr[-2000:]
    assert [e.data["status"] for e in heard.of("run")] == ["running", "failure"]
    assert "injected fault db:commit=2" in heard.of("run")[-1].data["message"]
    coins = [e.data["source_coin_id"] for e in heard.of("quote")]
    assert sorted(coins) == sorted(_sample_coins(slice(0, 10)))  # the first batch only
    assert visible == [True] * 10
    assert stored == 10


async def test_filters_by_asset_and_by_source(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    wanted = {"bitcoin", "ethereum"}
    with serve(database_url, tmp_path / "api") as api:
        async with (
            Listener(api.base) as everything,
            Listener(api.base, params={"asset_id": sorted(wanted)}) as assets,
            Listener(api.base, params={"source": "csv"}) as csv_only,
            Listener(api.base, params={"source": "coingecko"}) as gecko,
        ):
            await etl_run_async(database_url, SAMPLE_CSV, tmp_path)
            await everything.wait_for(run_finished())
            await csv_only.wait_for(run_finished())
            # the last event for the asset filter is a consensus event: wait until all came
            expected = [e for e in everything.events if e.data.get("asset_id") in wanted]
            await assets.wait_for(lambda got: len(got) >= len(expected))
            await asyncio.sleep(0.5)  # nothing more arrives for them

    assert [e.id for e in assets.events] == [e.id for e in expected]
    assert {e.event for e in expected} == {"quote", "consensus"}
    assert [e.id for e in csv_only.events] == [
        e.id for e in everything.events if e.event in ("quote", "run")
    ]
    assert gecko.events == []


async def test_clients_past_the_cap_get_a_503_until_one_leaves(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    with serve(database_url, tmp_path / "api", STREAM_MAX_CLIENTS="2") as api:
        async with httpx.AsyncClient(base_url=api.base) as http:
            async with Listener(api.base), Listener(api.base):
                refused = await http.get("/stream")
            # both hung up: wait until the server has noticed, then there is room again
            await wait_metric(api.base, "kasparro_stream_clients", 0)
            async with Listener(api.base) as admitted:
                status = admitted.status

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json() == {
        "detail": "At most 2 stream clients on this server (STREAM_MAX_CLIENTS); retry in 5 s"
    }
    assert status == 200


async def test_bad_parameters_are_422s_naming_them(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    with serve(database_url, tmp_path / "api") as api:
        async with httpx.AsyncClient(base_url=api.base) as http:
            source = await http.get("/stream", params={"source": "nope"})
            asset = await http.get("/stream", params={"asset_id": "Not An Id!"})
            resume = await http.get("/stream", headers={"Last-Event-ID": "tomorrow"})
            negative = await http.get("/stream", headers={"Last-Event-ID": "-1"})

    assert [r.status_code for r in (source, asset, resume, negative)] == [422] * 4
    assert source.json()["detail"][0]["loc"] == ["query", "source", 0]
    assert asset.json()["detail"][0]["loc"] == ["query", "asset_id", 0]
    assert resume.json()["detail"][0]["loc"] == ["header", "Last-Event-ID"]
