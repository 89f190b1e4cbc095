"""Rollup candles: kept by every load in its own transaction, equal bucket by bucket to the
aggregation of the raw observations (several sources, ties, out-of-order and repeated loads,
a replay, a failed batch), served by the history route, and repaired by `db rebuild-rollups`."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.quote import Quote
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.faults import FaultPlan
from kasparro.pipeline.load import Batch, store_quotes
from kasparro.pipeline.replay import build_replay_jobs
from kasparro.pipeline.runner import EtlRunner
from kasparro.repositories import history
from kasparro.repositories.driver import begin
from kasparro.services.queries import HistoryFilter
from tests.cli.test_commands import kasparro
from tests.helpers import no_overrides, rows, run_csv, scalar
from tests.rollup_check import assert_rollups_match_quotes, stored_rollups

SEED = 20261202
BASE = datetime(2025, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=3)
ASSETS = {  # asset -> its coin at each source
    "bitcoin": {"coingecko": "bitcoin", "coinpaprika": "btc-bitcoin", "csv": "btc"},
    "ethereum": {"coingecko": "ethereum", "coinpaprika": "eth-ethereum", "csv": "eth"},
}
SOURCES = ("coingecko", "coinpaprika", "csv")
INTERVALS = ("5m", "1h", "1d")


def _amount(rng: random.Random, places: int) -> Decimal | None:
    if rng.random() < 0.15:
        return None
    return Decimal(rng.randint(1, 10**14)).scaleb(-places)


def random_quotes(rng: random.Random, count: int) -> list[Quote]:
    """`count` distinct observations: a third at instants another source shares (ties), a fifth
    on bucket boundaries, the rest anywhere in SPAN to the microsecond."""
    shared = [BASE + timedelta(seconds=rng.randrange(int(SPAN.total_seconds()))) for _ in range(60)]
    seen: dict[tuple[str, str, datetime], Quote] = {}
    while len(seen) < count:
        asset, source = rng.choice(list(ASSETS)), rng.choice(SOURCES)
        roll = rng.random()
        if roll < 0.33:
            at = rng.choice(shared)
        elif roll < 0.53:
            at = BASE + timedelta(minutes=5 * rng.randrange(int(SPAN.total_seconds()) // 300))
        else:
            at = BASE + timedelta(microseconds=rng.randrange(int(SPAN.total_seconds() * 1e6)))
        coin = ASSETS[asset][source]
        seen[source, coin, at] = Quote(
            source=source, source_coin_id=coin, ticker=coin[:3].upper(), name=asset.title(),
            price_usd=Decimal(rng.randint(1, 10**13)).scaleb(-8),
            market_cap_usd=_amount(rng, 2), volume_24h_usd=_amount(rng, 3),
            percent_change_24h=None, created_at=at,
        )  # fmt: skip
    return list(seen.values())


async def load_shuffled(db: AsyncEngine, rng: random.Random, quotes: list[Quote]) -> None:
    """Store in random order and random batches, fresh COPY or checking path at random; some
    batches repeat observations stored before (nothing may count twice)."""
    order = quotes[:]
    rng.shuffle(order)
    stored: list[Quote] = []
    while order:
        size = rng.randint(1, 300)
        chunk, order = order[:size], order[size:]
        repeats = (
            rng.sample(stored, min(len(stored), rng.randint(0, 20))) if rng.random() < 0.3 else []
        )
        async with begin(db) as tx:
            for source in SOURCES:
                mine = [q for q in chunk + repeats if q.source == source]
                if mine:
                    batch = Batch(source, None, mine, fresh=rng.random() < 0.5)
                    await store_quotes(tx, no_overrides(), batch)
        stored += chunk


async def map_assets(db: AsyncEngine) -> None:
    """Put each source's coin on its asset, whatever the identity rules decided."""
    async with db.begin() as conn:
        for asset, coins in ASSETS.items():
            await conn.execute(
                text("INSERT INTO assets (asset_id, ticker, name) VALUES (:a, :t, :n)"
                     " ON CONFLICT DO NOTHING"),
                {"a": asset, "t": asset[:3].upper(), "n": asset.title()},
            )  # fmt: skip
            for source, coin in coins.items():
                await conn.execute(
                    text("UPDATE asset_mappings SET asset_id = :a"
                         " WHERE source = :s AND source_coin_id = :c"),
                    {"a": asset, "s": source, "c": coin},
                )  # fmt: skip


def _stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _reference_candle(row: dict[str, Any], width: timedelta) -> dict[str, Any]:
    return {
        "start": _stamp(row["start"]), "end": _stamp(row["start"] + width),
        **{k: row[k] for k in ("open", "high", "low", "close", "market_cap_usd",
                               "volume_24h_usd")},
        "count": row["count"],
    }  # fmt: skip


async def reference(db: AsyncEngine, flt: HistoryFilter, interval: str) -> list[dict[str, Any]]:
    """The candles as the raw aggregation gives them (what the route served before rollups)."""
    async with db.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        found = await history.buckets_from_quotes(driver, flt, interval, 100_000)
    return [_reference_candle(r, history.INTERVALS[interval]) for r in found]


async def served(client: httpx.AsyncClient, asset: str, params: dict[str, Any]) -> list[Any]:
    """Every candle the route serves for `params`, following the cursor."""
    candles: list[Any] = []
    cursor = None
    while True:
        page_params = params | ({"cursor": cursor} if cursor else {})
        response = await client.get(f"/assets/{asset}/history", params=page_params)
        assert response.status_code == 200, response.text
        body = json.loads(response.text, parse_float=Decimal)
        candles += body["data"]
        cursor = body["pagination"]["next_cursor"]
        if cursor is None:
            return candles


def _bounds(window: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    if not window:
        return None, None
    return datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])


async def test_rollups_equal_the_raw_aggregation_bucket_by_bucket(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    rng = random.Random(SEED)
    await load_shuffled(db, rng, random_quotes(rng, 3000))
    await map_assets(db)

    assert await assert_rollups_match_quotes(db) > 2000  # buckets of every interval
    ties = await scalar(db, "SELECT count(*) FROM (SELECT observed_at FROM quotes"
                            " GROUP BY source_coin_id IN ('bitcoin', 'btc-bitcoin', 'btc'),"
                            " observed_at HAVING count(*) > 1) t")  # fmt: skip
    assert ties > 20  # sources did observe one asset at the same instant
    cut = {"start": _stamp(BASE + timedelta(hours=7, seconds=1234.5)),
           "end": _stamp(BASE + timedelta(days=2, hours=3, minutes=7))}  # fmt: skip
    for asset in ASSETS:
        for source in (None, *SOURCES):
            for window in ({}, cut):
                for interval in INTERVALS:
                    params = {"interval": interval, "limit": 5000} | window
                    flt = HistoryFilter(asset, source, *_bounds(window))
                    got = await served(
                        client, asset, params | ({"source": source} if source else {})
                    )
                    assert got == await reference(db, flt, interval), (
                        asset,
                        source,
                        window,
                        interval,
                    )
    # pages of a few candles give the same candles as one page
    params = {"interval": "1h", "limit": 7} | cut
    whole = await reference(db, HistoryFilter("bitcoin", None, *_bounds(cut)), "1h")
    assert await served(client, "bitcoin", params) == whole


async def test_a_batch_that_fails_after_writing_its_quotes_leaves_no_bucket_behind(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    lines = ["ticker,name,price_usd,market_cap_usd,volume_24h_usd,percent_change_24h,created_at"]
    rng = random.Random(SEED)
    for i in range(300):
        at = BASE + timedelta(minutes=(i * 37) % 3000)  # distinct, out of time order
        lines.append(f"C{i % 7},Coin {i % 7},{rng.randint(1, 10**9)}.5,{i},{i * 3},1,{_stamp(at)}")
    path = write_csv("\n".join(lines) + "\n")

    failing = CsvJob(db, no_overrides(), path, 50, faults=FaultPlan(db_commit=3))
    (outcome,) = await EtlRunner(db, {"csv": failing}).run()

    assert outcome.status == "failure"  # the third batch wrote its quotes and buckets, then failed
    assert await scalar(db, "SELECT count(*) FROM quotes") == 100
    await assert_rollups_match_quotes(db)
    assert (await run_csv(db, path, batch_size=50)).status == "success"
    assert await scalar(db, "SELECT count(*) FROM quotes") == 300
    await assert_rollups_match_quotes(db)


async def test_a_replay_restores_the_buckets_with_the_history(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    lines = ["ticker,name,price_usd,created_at"]
    rng = random.Random(SEED + 1)
    for _ in range(400):  # out of time order, as appended files may be
        at = BASE + timedelta(seconds=rng.randrange(2 * 86400))
        lines.append(f"C{rng.randrange(5)},Coin,{rng.randint(1, 10**6)},{_stamp(at)}")
    path = write_csv("\n".join(lines) + "\n")
    assert (await run_csv(db, path, batch_size=64)).status == "success"
    before = await stored_rollups(db)
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM quotes"))
        await conn.execute(text("DELETE FROM quote_rollups"))

    (outcome,) = await EtlRunner(db, build_replay_jobs(db, no_overrides())).run(["csv"])

    assert outcome.status == "success"
    assert await stored_rollups(db) == before
    await assert_rollups_match_quotes(db)
    # a second replay finds every observation stored: nothing counts twice
    await EtlRunner(db, build_replay_jobs(db, no_overrides())).run(["csv"])
    assert await stored_rollups(db) == before


async def test_rebuild_rollups_repairs_a_corrupted_bucket(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED + 2)
    await load_shuffled(db, rng, random_quotes(rng, 400))
    await map_assets(db)
    good = await stored_rollups(db)
    async with db.begin() as conn:
        await conn.execute(text(
            "UPDATE quote_rollups SET close = 1, count = 99 WHERE (source, source_coin_id,"
            " interval) = ('coingecko', 'bitcoin', '1h')"
            " AND bucket_start = (SELECT min(bucket_start) FROM quote_rollups)"
        ))  # fmt: skip
        await conn.execute(text("DELETE FROM quote_rollups WHERE source_coin_id = 'btc'"
                                " AND interval = '1d'"))  # fmt: skip
        await conn.execute(text("UPDATE quote_rollups SET high = 0 WHERE source_coin_id = 'eth'"))
    assert await stored_rollups(db) != good

    result = kasparro("db", "rebuild-rollups", "--asset", "bitcoin", cwd=tmp_path,
                      DATABASE_URL=database_url)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Rebuilt rollups of asset(s) bitcoin: 3 coin(s), ")
    assert len(result.stdout.strip().splitlines()) == 1
    eth = await rows(db, "SELECT DISTINCT high FROM quote_rollups WHERE source_coin_id = 'eth'")
    assert eth == [{"high": 0}]  # another asset's coins are left alone
    everything = kasparro("db", "rebuild-rollups", cwd=tmp_path, DATABASE_URL=database_url)
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.startswith("Rebuilt rollups of every coin: 6 coin(s), ")
    assert await stored_rollups(db) == good
    unknown = kasparro("db", "rebuild-rollups", "--asset", "nope", cwd=tmp_path,
                       DATABASE_URL=database_url)  # fmt: skip
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1] == (
        "Error: Unknown asset_id 'nope'; nothing rebuilt"
    )


async def test_a_batch_wrongly_said_to_be_one_a_bucket_fails_instead_of_storing_wrong_candles(
    db: AsyncEngine,
) -> None:
    at = BASE + timedelta(minutes=1)
    quotes = [
        Quote("csv", "btc", "BTC", None, Decimal(p), None, None, None, at + timedelta(seconds=s))
        for p, s in (("1", 0), ("2", 30))
    ]  # two observations in one 5-minute bucket
    with pytest.raises(asyncpg.CardinalityViolationError):
        async with begin(db) as tx:
            await store_quotes(tx, no_overrides(), Batch("csv", None, quotes, one_per_bucket=1))

    assert await scalar(db, "SELECT count(*) FROM quote_rollups") == 0
    async with begin(db) as tx:  # said rightly (nothing), the same batch folds into one bucket
        await store_quotes(tx, no_overrides(), Batch("csv", None, quotes))
    assert await assert_rollups_match_quotes(db) == 3


@pytest.mark.parametrize("fresh", [True, False])
async def test_a_batch_racing_a_writer_for_its_bucket_falls_back_and_counts_both(
    db: AsyncEngine, fresh: bool
) -> None:
    """A batch inserts the buckets it found absent without ON CONFLICT (after a plain COPY when
    fresh, or after skipping the stored observations); a writer that adds one meanwhile makes
    that a unique violation, and the batch folds again by merging."""

    def quote(seconds: int, price: str) -> Quote:
        at = BASE + timedelta(seconds=seconds)
        return Quote("csv", "btc", "BTC", None, Decimal(price), None, None, None, at)

    other_coin = replace(quote(0, "9"), source_coin_id="eth")
    async with begin(db) as tx:  # the month's partition exists: no lock on making it
        await store_quotes(tx, no_overrides(), Batch("csv", None, [other_coin]))
    writer_ready, writer_may_commit = asyncio.Event(), asyncio.Event()

    async def write_first() -> None:
        async with begin(db) as tx:  # open until told: its bucket is not visible before that
            await store_quotes(tx, no_overrides(), Batch("csv", None, [quote(10, "1")], latest=()))
            writer_ready.set()
            await writer_may_commit.wait()

    async def fresh_batch() -> None:
        await writer_ready.wait()
        async with begin(db) as tx:
            # history only (as a backfill's): no latest-quote row to wait on first
            batch = Batch("csv", None, [quote(70, "2")], latest=(), fresh=fresh)
            await store_quotes(tx, no_overrides(), batch)

    writing = asyncio.create_task(write_first())
    loading = asyncio.create_task(fresh_batch())
    await asyncio.sleep(0.5)  # the batch is now waiting on the writer's bucket
    assert not loading.done()
    writer_may_commit.set()
    await asyncio.gather(writing, loading)

    assert await assert_rollups_match_quotes(db) == 6
    counts = await rows(db, "SELECT DISTINCT count FROM quote_rollups WHERE source_coin_id = 'btc'")
    assert counts == [{"count": 2}]  # each interval's bucket holds both observations
