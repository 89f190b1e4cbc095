"""Fuzz: random extreme numbers, timestamps and strings through the CSV source and through
CoinPaprika (real HTTP to the fake upstream). Every run succeeds, each bad record is rejected
and every good one is loaded.

Hypothesis draws the examples up front (the database and the fake live on the test's event
loop, which a synchronous `@given` body cannot reach); the count is kept small to stay quick.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as text_sql
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from kasparro.pipeline.runner import EtlRunner
from tests.helpers import paprika_job, rows, run_csv

T = TypeVar("T")
_CLEAR = (
    "TRUNCATE normalized_records, quotes, raw_csv_records, raw_csv_files, etl_checkpoints, "
    "asset_latest, asset_mappings, assets CASCADE"
)
EXAMPLES = 6

HUGE = st.sampled_from(
    [
        "1e30",
        "1e31",
        "1e100",
        "1e400",
        "-1e31",
        "NaN",
        "Infinity",
        "-Infinity",
        "sNaN",
        "999999999999999999999999999999.999999999",
        "1" + "0" * 40,
        "1e-20000",
    ]
)
BAD_TEXT_NUMBER = st.one_of(
    HUGE,
    st.sampled_from(["1_000", "١٢٣", "１２３", "-5", "0x10", "1e", "--1", "1,2,3", "∞"]),
    st.text(min_size=1, max_size=20).filter(lambda s: not s.strip().replace(".", "").isascii()),
)
BAD_TIME = st.one_of(
    st.sampled_from(
        [
            "9999-12-31",
            "0001-01-01",
            "2009-01-02T23:59:59Z",
            "3000-01-01T00:00Z",
            "99999999999",
            "1970-01-01",
            "2100-01-01T00:00:00+14:00",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()).filter(lambda s: s < "2009" or s > "2030"),
)
BAD_TICKER = st.one_of(
    st.sampled_from(["=CMD()", "$BTC", "B C", "X" * 33, "🔶", "USD+", "@SUM", ""]),
    st.text(min_size=1, max_size=40).filter(
        lambda s: any(not (c.isascii() and (c.isalnum() or c in "._/-")) for c in s.strip())
    ),
)
GOOD_PRICE = st.decimals(min_value=0, max_value=10**20, places=8, allow_nan=False).map(str)
GOOD_TIME = st.datetimes(
    min_value=__import__("datetime").datetime(2010, 1, 1),
    max_value=__import__("datetime").datetime(2025, 12, 31),
).map(lambda d: d.isoformat())
NAMES = st.text(st.characters(exclude_characters="\x00\r"), max_size=30)  # structural rejects
# A bad row: which column is poisoned, with what.
BAD_FIELD = st.one_of(
    st.tuples(st.just("price_usd"), BAD_TEXT_NUMBER),
    st.tuples(st.just("market_cap_usd"), BAD_TEXT_NUMBER.filter(lambda v: v.strip() != "")),
    st.tuples(st.just("volume_24h_usd"), BAD_TEXT_NUMBER.filter(lambda v: v.strip() != "")),
    st.tuples(st.just("created_at"), BAD_TIME),
    st.tuples(st.just("ticker"), BAD_TICKER),
)
ROWS = st.lists(
    st.tuples(st.booleans(), BAD_FIELD, GOOD_PRICE, GOOD_TIME, NAMES), min_size=1, max_size=30
)


def draw(strategy: st.SearchStrategy[T], count: int = EXAMPLES) -> list[T]:
    """`count` examples of `strategy`, reproducible run to run."""
    found: list[T] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found[:count]


def csv_text(rows_: list[Any]) -> tuple[str, set[str], int]:
    """The file, the tickers that must load, and how many rows must be rejected."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["ticker", "name", "price_usd", "market_cap_usd", "volume_24h_usd", "created_at"]
    writer.writerow(header)
    good, bad = {"ANCHOR"}, 0
    writer.writerow(["ANCHOR", "Anchor", "1", "", "", "2020-01-01"])
    for index, (is_bad, (field, value), price, moment, name) in enumerate(rows_):
        row = dict(
            ticker=f"T{index}",
            name=name,
            price_usd=price,
            market_cap_usd="1000",
            volume_24h_usd="5",
            created_at=moment,
        )
        if is_bad:
            row[field] = value
            bad += 1
        else:
            good.add(f"T{index}")
        writer.writerow([row[h] for h in header])
    return out.getvalue(), good, bad


async def test_csv_fuzz_rejects_the_bad_and_loads_the_good(db: AsyncEngine, tmp_path: Path) -> None:
    for number, example in enumerate(draw(ROWS)):
        text, good, bad = csv_text(example)
        path = tmp_path / f"fuzz{number}.csv"
        path.write_text(text, "utf-8")

        outcome = await run_csv(db, path, batch_size=7)

        assert outcome.status == "success", (example, outcome.message)
        errors = await rows(
            db, "SELECT row_number, error FROM raw_csv_records WHERE error IS NOT NULL"
        )
        assert (outcome.processed, outcome.failed) == (len(good), bad), (example, errors)
        loaded = {r["ticker"] for r in await rows(db, "SELECT ticker FROM normalized_records")}
        assert loaded == good, example
        async with db.begin() as conn:  # the next example is a new file over an empty store
            await conn.execute(text_sql(_CLEAR))


API_VALUE = st.one_of(
    HUGE.map(lambda text: {"number": text}),
    st.sampled_from([{"number": "-1"}]),
)
API_POISON = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2008),
        st.sampled_from(
            [
                "quotes.USD.price",
                "quotes.USD.market_cap",
                "quotes.USD.volume_24h",
                "last_updated",
                "symbol",
            ]
        ),
        API_VALUE,
        BAD_TIME,
        BAD_TICKER,
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda t: t[0],
)


async def test_api_fuzz_rejects_the_bad_and_loads_the_good(
    db: AsyncEngine, fake_server: RunningFake
) -> None:
    ids = [entry["id"] for entry in fake_server.fake.entries("coinpaprika")]
    async with httpx.AsyncClient() as http:
        for example in draw(API_POISON, 4):
            fake_server.fake.reset()
            for index, path, number, moment, ticker in example:
                value: Any = {"last_updated": moment, "symbol": ticker}.get(path, number)
                if path == "symbol":
                    value = ticker if ticker.strip() else 5  # blank or a wrong type
                fake_server.fake.bad_values("coinpaprika", ids[index], {path: value})
            job = paprika_job(db, http, fake_server.coinpaprika_base_url)
            (outcome,) = await EtlRunner(db, {"coinpaprika": job}).run()
            bad_symbols = [e for e in example if e[1] == "symbol"]
            assert outcome.status == "success", (example, outcome.message)
            expected_bad = len(example) - sum(1 for e in bad_symbols if _api_symbol_ok(e[4]))
            assert (outcome.processed, outcome.failed) == (2009 - expected_bad, expected_bad), (
                example
            )


def _api_symbol_ok(ticker: str) -> bool:
    """API tickers only need to be printable and at most 32 characters (see the README)."""
    text = ticker.strip().upper()
    return bool(text) and text.isprintable() and len(text) <= 32
