"""The service over all three sources, the upstreams faked over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from tests.helpers import rows


async def test_data_from_every_source_after_a_triggered_run(
    db: AsyncEngine,
    fake_server: RunningFake,
    make_client: Callable[..., Any],
    write_csv: Callable[..., Path],
) -> None:
    # A coin only the CSV knows, and BTC, which every source quotes.
    csv = write_csv("ticker,price_usd,created_at\nKSPX,1.5,2025-01-01\nBTC,90000,2025-01-01\n")
    client = await make_client(
        csv_path=csv,
        etl_sources="csv,coinpaprika,coingecko",
        scheduler_token="t",
        coinpaprika_base_url=fake_server.coinpaprika_base_url,
        coingecko_base_url=fake_server.coingecko_base_url,
        coingecko_max_pages=2,
    )

    triggered = await client.post("/trigger-etl", headers={"X-Scheduler-Token": "t"})
    assert triggered.status_code == 202
    assert {r["source"] for r in triggered.json()["runs"]} == {"csv", "coinpaprika", "coingecko"}
    for _ in range(300):
        statuses = {r["status"] for r in await rows(db, "SELECT status FROM etl_runs")}
        if "running" not in statuses:
            break
        await asyncio.sleep(0.05)
    assert statuses == {"success"}

    everything = (await client.get("/data", params={"limit": 1000})).json()
    only_csv = (await client.get("/data", params={"ticker": "kspx"})).json()
    gecko = (await client.get("/data", params={"source": "coingecko", "limit": 1000})).json()
    btc = (await client.get("/data", params={"ticker": "btc"})).json()

    assert {r["source"] for r in everything["data"]} == {"coinpaprika", "coingecko"}
    assert [(r["id"], r["source"]) for r in only_csv["data"]] == [("csv_kspx", "csv")]
    # one record per asset: CoinGecko's page 1 has tickers shared by different coins (WETH x5)
    assert gecko["pagination"]["total"] == len({r["asset_id"] for r in gecko["data"]}) == 500
    assert len({r["ticker"] for r in gecko["data"]}) < 500
    assert {r["source"] for r in gecko["data"]} == {"coingecko"}
    # one record per asset: the freshest bitcoin quote is CoinPaprika's (2026-07), not
    # CoinGecko's (2025-02) or the CSV's (2025-01); other coins quoted as BTC stay apart
    assert [(r["id"], r["ticker"]) for r in btc["data"]] == [("coinpaprika_btc-bitcoin", "BTC")]
    stats = (await client.get("/stats")).json()
    assert set(stats["records_by_source"]) == {"csv", "coinpaprika", "coingecko"}
