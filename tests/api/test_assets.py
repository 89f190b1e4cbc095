"""Canonical assets over all three sources: the recordings served over real HTTP, a CSV file."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from tests.helpers import rows, scalar

SOURCES = "csv,coinpaprika,coingecko"


async def _run(client: httpx.AsyncClient) -> None:
    triggered = await client.post("/trigger-etl", headers={"X-Scheduler-Token": "t"})
    assert triggered.status_code == 202
    await client._transport.app.state.kasparro.runner.wait_background()  # type: ignore[attr-defined]


async def _open(
    make_client: Callable[..., Any], fake: RunningFake, csv: Path, **overrides: Any
) -> httpx.AsyncClient:
    settings: dict[str, Any] = {
        "csv_path": csv,
        "etl_sources": SOURCES,
        "scheduler_token": "t",
        "coinpaprika_base_url": fake.coinpaprika_base_url,
        "coingecko_base_url": fake.coingecko_base_url,
        "coingecko_max_pages": 1,
    }
    client: httpx.AsyncClient = await make_client(**(settings | overrides))
    return client


async def test_bitcoin_from_three_sources_is_one_asset_with_a_consensus(
    db: AsyncEngine,
    fake_server: RunningFake,
    make_client: Callable[..., Any],
    write_csv: Callable[..., Path],
) -> None:
    csv = write_csv("ticker,name,price_usd,created_at\nBTC,Bitcoin,90000.5,2025-01-01T00:00:00Z\n")
    client = await _open(make_client, fake_server, csv)
    await _run(client)

    data = (await client.get("/data", params={"ticker": "BTC"})).json()
    bitcoin = [r for r in data["data"] if r["asset_id"] == "bitcoin"]
    assert len(bitcoin) == 1
    # other coins quoted as BTC at CoinGecko/CoinPaprika (if any) are separate assets
    assert len({r["asset_id"] for r in data["data"]}) == len(data["data"])

    assets = (await client.get("/assets", params={"ticker": "BTC"})).json()
    (entry,) = [a for a in assets["data"] if a["asset_id"] == "bitcoin"]
    by_source = {q["source"]: q for q in entry["sources"]}
    assert set(by_source) == {"csv", "coinpaprika", "coingecko"}
    assert by_source["csv"]["price_usd"] == Decimal("90000.5")
    prices = sorted(Decimal(str(q["price_usd"])) for q in entry["sources"])
    # the recordings are a year apart: CoinPaprika's 2025 price (64,898) is further from the
    # median of three than 2% and 3 x their median absolute deviation, so it does not vote
    assert [(e["source"], e["reason"]) for e in entry["consensus"]["excluded"]] == [
        ("coinpaprika", "outlier")
    ]
    assert entry["consensus"]["method"] == "mean"
    assert entry["consensus"]["used"] == ["coingecko", "csv"]
    used = [Decimal(str(by_source[s]["price_usd"])) for s in ("coingecko", "csv")]
    assert Decimal(str(entry["price_usd"])) == (sum(used) / 2).quantize(Decimal("0.00000001"))
    spread = (prices[2] - prices[0]) * 100 / prices[1]
    assert Decimal(str(entry["divergence_pct"])) == round(spread, 4)
    assert "divergent" in entry["flags"]  # the CSV's hand-made price is far off
    assert entry["ticker"] == "BTC" and entry["name"] == "Bitcoin"

    one = await client.get("/assets/bitcoin")
    assert one.status_code == 200
    mappings = {
        (m["source"], m["source_coin_id"]): m["method"] for m in one.json()["data"]["mappings"]
    }
    assert set(mappings) == {
        ("csv", "btc"), ("coinpaprika", "btc-bitcoin"), ("coingecko", "bitcoin")
    }  # fmt: skip

    history = (await client.get("/assets/bitcoin/history")).json()
    assert {(p["source"], p["price_usd"]) for p in history["data"]} == {
        (q["source"], q["price_usd"]) for q in entry["sources"]
    }


async def test_coins_sharing_a_symbol_stay_apart_and_the_override_file_wins(
    db: AsyncEngine,
    fake_server: RunningFake,
    make_client: Callable[..., Any],
    write_csv: Callable[..., Path],
    tmp_path: Path,
) -> None:
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(
        "source,source_coin_id,asset_id\n"
        "coinpaprika,hbar-hedera-hashgraph,hedera\ncoingecko,hedera-hashgraph,hedera\n"
        "coingecko,no-such-coin,Not An Id\n"
    )
    csv = write_csv("ticker,price_usd\nTON,5.5\n")
    client = await _open(make_client, fake_server, csv, asset_overrides_path=overrides)
    await _run(client)

    # CoinPaprika's TON is Tokamak Network, CoinGecko's is Toncoin: two assets
    ton = {
        a["asset_id"]: a
        for a in (await client.get("/assets", params={"ticker": "TON"})).json()["data"]
    }
    assert {"tokamak-network", "toncoin"} <= set(ton)
    assert {q["source"] for q in ton["tokamak-network"]["sources"]} >= {"coinpaprika"}
    assert "coingecko" not in {q["source"] for q in ton["tokamak-network"]["sources"]}
    # the CSV says only "TON": the larger of the two by market cap, recorded as ambiguous
    (csv_asset,) = [a for a in ton.values() if "csv" in {q["source"] for q in a["sources"]}]
    assert "ambiguous_mapping" in csv_asset["flags"]
    caps = {a: Decimal(str(ton[a]["market_cap_usd"])) for a in ("tokamak-network", "toncoin")}
    assert csv_asset["asset_id"] == max(caps, key=lambda a: caps[a])
    flagged = (await client.get("/assets", params={"flag": "ambiguous_mapping"})).json()
    assert csv_asset["asset_id"] in {a["asset_id"] for a in flagged["data"]}

    # "Hedera Hashgraph" and "Hedera": the names differ, the override file joins them
    hedera = (await client.get("/assets/hedera")).json()["data"]
    assert {m["method"] for m in hedera["mappings"]} == {"override"}
    assert {q["source"] for q in hedera["sources"]} == {"coinpaprika", "coingecko"}
    assert await scalar(db, "SELECT count(*) FROM assets WHERE name ILIKE 'hedera%'") == 1


async def test_a_ticker_only_csv_coin_joins_the_api_asset_that_arrives_later(
    db: AsyncEngine,
    fake_server: RunningFake,
    make_client: Callable[..., Any],
    write_csv: Callable[..., Path],
) -> None:
    csv = write_csv("ticker,price_usd\nETH,2500\n")
    client = await _open(make_client, fake_server, csv, etl_sources="csv")
    await _run(client)
    assert [a["asset_id"] for a in (await client.get("/assets")).json()["data"]] == ["eth"]

    client = await _open(make_client, fake_server, csv)
    await _run(client)

    eth = (await client.get("/data", params={"ticker": "ETH"})).json()["data"]
    assert [r["asset_id"] for r in eth] == ["ethereum"]
    assert await scalar(db, "SELECT count(*) FROM assets WHERE asset_id = 'eth'") == 0
    method = await scalar(
        db, "SELECT method FROM asset_mappings WHERE source = 'csv' AND source_coin_id = 'eth'"
    )
    assert method == "ticker"


async def test_history_keeps_each_observation_once_across_re_runs(
    db: AsyncEngine,
    fake_server: RunningFake,
    make_client: Callable[..., Any],
    write_csv: Callable[..., Path],
) -> None:
    csv = write_csv("ticker,name,price_usd,created_at\nBTC,Bitcoin,90000,2025-01-01T00:00:00Z\n")
    client = await _open(make_client, fake_server, csv)
    await _run(client)
    first = await scalar(db, "SELECT count(*) FROM quotes")
    await _run(client)  # same upstream, same file: nothing new was observed
    assert await scalar(db, "SELECT count(*) FROM quotes") == first

    fake_server.fake.advance(3600)  # every upstream quote moves on by an hour
    await _run(client)
    second = await rows(
        db, "SELECT source, count(*) AS n FROM quotes GROUP BY source ORDER BY source"
    )
    counts = {r["source"]: r["n"] for r in second}
    assert counts["csv"] == 1
    assert counts["coinpaprika"] + counts["coingecko"] + 1 == 2 * first - 1
    btc = (await client.get("/assets/bitcoin/history", params={"source": "coingecko"})).json()
    assert [p["source"] for p in btc["data"]] == ["coingecko", "coingecko"]
    assert btc["data"][0]["observed_at"] < btc["data"][1]["observed_at"]
    # normalized_records still holds only the latest quote per source and coin
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == first


async def test_unknown_assets_are_404_and_bad_parameters_422(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    for path in ("/assets/nope", "/assets/BTC", "/assets/nope/history", "/assets/a%00b"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Unknown asset_id" in response.json()["detail"]
    for params in (
        {"interval": "15m"},
        {"start": "2025-02-01", "end": "2025-01-01"},
        {"cursor": "not-a-cursor"},
        {"limit": 0},
    ):
        response = await client.get("/assets/bitcoin/history", params=params)
        assert response.status_code == 422, params
    for params in ({"flag": "cheap"}, {"cursor": "e30"}, {"cursor": "WyJ4Il0", "offset": 3}):
        assert (await client.get("/assets", params=params)).status_code == 422, params
