"""One bad value is one rejected record: poisoned upstream entries (real HTTP to the fake) and
CSV rows are rejected one by one with their reason, the rest loads and the next run goes on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.outcome import RunOutcome
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.http import RetryPolicy, UpstreamClient
from tests.helpers import no_overrides, rows, run_csv, scalar

FAST = RetryPolicy(max_attempts=2, backoff_initial=0.01, backoff_max=0.02, timeout=5)
HUGE_ROUNDING_UP = "999999999999999999999999999999.999999999"


def num(text: str) -> dict[str, str]:
    return {"number": text}


# CoinPaprika id -> (poisoned paths, the field its rejection reason names)
PAPRIKA_POISON: dict[str, tuple[dict[str, Any], str]] = {
    "btc-bitcoin": ({"quotes.USD.price": num("1e400")}, "price_usd"),
    "eth-ethereum": ({"quotes.USD.price": num("1e31")}, "price_usd"),
    "usdt-tether": ({"quotes.USD.price": num(HUGE_ROUNDING_UP)}, "price_usd"),
    "bnb-binance-coin": ({"quotes.USD.market_cap": num("1e100")}, "market_cap_usd"),
    "usdc-usd-coin": ({"quotes.USD.volume_24h": num("NaN")}, "volume_24h_usd"),
    "xrp-xrp": ({"quotes.USD.percent_change_24h": num("Infinity")}, "percent_change_24h"),
    "sol-solana": ({"quotes.USD.market_cap": num("1" + "0" * 30)}, "market_cap_usd"),
    "trx-tron": ({"last_updated": "9999-12-31T23:59:59Z"}, "timestamp"),
    "steth-lido-staked-ether": ({"last_updated": "0001-01-01T00:00:00Z"}, "timestamp"),
    "hype-hyperliquid": ({"quotes.USD.volume_24h": num("-5")}, "volume_24h_usd is negative"),
}


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient() as client:
        yield client  # type: ignore[misc]


@pytest.fixture
def api_runner(
    db: AsyncEngine, fake_server: RunningFake, http: httpx.AsyncClient
) -> Callable[[], EtlRunner]:
    def build() -> EtlRunner:
        def request(source: str, base_url: str, pages: int) -> SourceRequest:
            client = UpstreamClient(http, source=source, requests_per_minute=1000, policy=FAST)
            return SourceRequest(client, base_url, max_pages=pages)

        paprika = request("coinpaprika", fake_server.coinpaprika_base_url, 1)
        gecko = request("coingecko", fake_server.coingecko_base_url, 2)
        return EtlRunner(
            db,
            {
                "coinpaprika": ApiJob(db, no_overrides(), coinpaprika.SPEC, paprika),
                "coingecko": ApiJob(db, no_overrides(), coingecko.SPEC, gecko),
            },
        )

    return build


async def run(runner: EtlRunner, source: str) -> RunOutcome:
    (outcome,) = await runner.run([source])
    return outcome


async def reasons_of_last_run(db: AsyncEngine) -> dict[Any, str]:
    details = await scalar(db, "SELECT details FROM etl_runs ORDER BY id DESC LIMIT 1")
    return {s["row"]: s["reason"] for s in details["rejected_samples"]}


async def test_coinpaprika_rejects_each_poisoned_coin_and_loads_the_rest(
    db: AsyncEngine, fake_server: RunningFake, api_runner: Callable[[], EtlRunner]
) -> None:
    for coin, (values, _) in PAPRIKA_POISON.items():
        fake_server.fake.bad_values("coinpaprika", coin, values)
    bad = len(PAPRIKA_POISON)

    first = await run(api_runner(), "coinpaprika")

    assert (first.status, first.processed, first.failed) == ("success", 2009 - bad, bad)
    reasons = await reasons_of_last_run(db)
    for coin, (_, named) in PAPRIKA_POISON.items():
        assert named in reasons[coin], (coin, reasons[coin])
    stored = await scalar(db, "SELECT count(*) FROM normalized_records")
    assert stored == await scalar(db, "SELECT count(*) FROM quotes") == 2009 - bad
    assert await scalar(db, "SELECT count(*) FROM raw_api_records") == 2009  # all kept raw

    fake_server.fake.advance(60)
    second = await run(api_runner(), "coinpaprika")
    assert (second.status, second.processed, second.failed) == ("success", 2009 - bad, bad)


async def test_coingecko_moves_past_a_poisoned_page(
    db: AsyncEngine, fake_server: RunningFake, api_runner: Callable[[], EtlRunner]
) -> None:
    fake = fake_server.fake
    fake.bad_values("coingecko", "bitcoin", {"current_price": num("1e400")})
    fake.bad_values("coingecko", "ethereum", {"market_cap": num("1E+30")})
    fake.bad_values("coingecko", "solmax", {"total_volume": num("1e31")})  # page 2

    first = await run(api_runner(), "coingecko")

    assert (first.status, first.processed, first.failed) == ("success", 497, 3)
    state = await scalar(db, "SELECT state FROM etl_checkpoints WHERE source = 'coingecko'")
    assert state == {"next_page": 1, "last_page": 2, "cycle_complete": True}  # past both
    reasons = await reasons_of_last_run(db)
    assert "price_usd" in reasons["bitcoin"] and "market_cap_usd" in reasons["ethereum"]
    assert "volume_24h_usd" in reasons["solmax"]

    fake.advance(60)
    second = await run(api_runner(), "coingecko")  # a new cycle, the others refresh
    assert (second.status, second.processed, second.failed) == ("success", 497, 3)
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == 497
    assert await scalar(db, "SELECT count(*) FROM quotes") == 2 * 497


CSV_POISON = [
    ("AAA", "1e30", "", "", "2025-01-01"),
    ("BBB", "1e31", "", "", "2025-01-01"),
    ("CCC", "1e100", "", "", "2025-01-01"),
    ("DDD", "1e400", "", "", "2025-01-01"),
    ("EEE", HUGE_ROUNDING_UP, "", "", "2025-01-01"),
    ("FFF", "NaN", "", "", "2025-01-01"),
    ("GGG", "Infinity", "", "", "2025-01-01"),
    ("HHH", "1", "1e31", "", "2025-01-01"),
    ("III", "1", "", "1e400", "2025-01-01"),
    ("JJJ", "1", "1E+30", "", "2025-01-01"),
    ("KKK", "1", "-100", "", "2025-01-01"),
    ("LLL", "1", "", "-1", "2025-01-01"),
    ("MMM", "1_000", "", "", "2025-01-01"),
    ("NNN", "١٢٣", "", "", "2025-01-01"),
    ("OOO", "１２３", "", "", "2025-01-01"),
    ("PPP", "1", "", "", "9999-12-31"),
    ("QQQ", "1", "", "", "0001-01-01"),
    ("RRR", "1", "", "", "2009-01-02T23:59:59Z"),
    ("$SS", "1", "", "", "2025-01-01"),
    ("=CMD()", "1", "", "", "2025-01-01"),
    ("T" * 33, "1", "", "", "2025-01-01"),
]


async def test_csv_rejects_each_poisoned_row_and_keeps_going(
    db: AsyncEngine, tmp_path: Path
) -> None:
    lines = [
        "ticker,name,price_usd,market_cap_usd,volume_24h_usd,created_at",
        "BTC,Bitcoin,1,,,2025-01-01",
    ]
    lines += [f"{t},=HYPERLINK(1),{p},{m},{v},{c}" for t, p, m, v, c in CSV_POISON]
    lines.append("ETH,@SUM(A1),2,,,2025-01-01")
    path = tmp_path / "poison.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")

    first = await run_csv(db, path, batch_size=5)

    assert (first.status, first.processed, first.failed) == ("success", 2, len(CSV_POISON))
    errors = await rows(db, "SELECT row_number, error FROM raw_csv_records ORDER BY row_number")
    assert [e["error"] is None for e in errors] == [True] + [False] * len(CSV_POISON) + [True]
    loaded = await rows(db, "SELECT ticker, name FROM normalized_records ORDER BY ticker")
    assert loaded == [{"ticker": "BTC", "name": "Bitcoin"}, {"ticker": "ETH", "name": "@SUM(A1)"}]

    with path.open("a", encoding="utf-8") as handle:
        handle.write("SOL,Solana,150,,,2025-01-02\n")
    second = await run_csv(db, path)
    assert (second.status, second.processed, second.failed) == ("success", 1, 0)
