"""A batch or page whose write PostgreSQL refuses for a data reason loads around the refused
records (issue 10, item 2): the values here pass every Python check and only the database says no."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.quote import Quote
from kasparro.pipeline.load import ApiRaw, Batch, Checkpoint, store_quotes
from kasparro.repositories import checkpoints, runs
from kasparro.repositories.driver import begin
from tests.helpers import no_overrides, rows, run_csv, scalar

HEADER = "symbol,name,price,market_cap,volume_24h,change_24h,timestamp\n"
POISON = "666.00000000"  # a price only the test database's CHECK refuses


@pytest.fixture
async def refusing_db(db: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The database with a constraint Python knows nothing of, on the history table."""
    async with db.begin() as conn:
        await conn.execute(
            text("ALTER TABLE quotes ADD CONSTRAINT test_refuse CHECK (price_usd <> 666)")
        )
    yield db
    async with db.begin() as conn:
        await conn.execute(text("ALTER TABLE quotes DROP CONSTRAINT test_refuse"))


def _csv(tmp_path: Path, prices: list[str]) -> Path:
    lines = [
        f"C{i},Coin {i},{price},,,,2024-01-15T10:{i:02d}:00Z\n" for i, price in enumerate(prices)
    ]
    path = tmp_path / "quotes.csv"
    path.write_text(HEADER + "".join(lines))
    return path


async def test_csv_batch_loads_around_a_row_the_database_refuses(
    refusing_db: AsyncEngine, tmp_path: Path
) -> None:
    prices = ["1", "2", "3", POISON, "5", "6", "7"]
    outcome = await run_csv(refusing_db, _csv(tmp_path, prices), batch_size=1000)

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 6, 1)
    loaded = await rows(refusing_db, "SELECT ticker FROM quotes ORDER BY ticker")
    assert [r["ticker"] for r in loaded] == ["C0", "C1", "C2", "C4", "C5", "C6"]
    assert await scalar(refusing_db, "SELECT count(*) FROM normalized_records") == 6
    assert await scalar(refusing_db, "SELECT count(*) FROM raw_csv_records") == 7
    (run,) = await rows(refusing_db, "SELECT details FROM etl_runs")
    (sample,) = run["details"]["rejected_samples"]
    assert sample["row"].startswith("c3 at 2024-01-15T10:03:00")
    assert "refused by the database" in sample["reason"] and "test_refuse" in sample["reason"]
    async with refusing_db.connect() as conn:
        state = await checkpoints.get_state(conn, "csv")
    assert state is not None and state["row_number"] == 7  # the batch's checkpoint moved on


async def test_the_next_run_goes_on_after_the_refused_row(
    refusing_db: AsyncEngine, tmp_path: Path
) -> None:
    path = _csv(tmp_path, ["1", POISON])
    await run_csv(refusing_db, path)
    with path.open("a") as handle:
        handle.write("C9,Coin 9,9,,,,2024-01-15T11:00:00Z\n")

    outcome = await run_csv(refusing_db, path)

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 1, 0)
    assert await scalar(refusing_db, "SELECT count(*) FROM quotes") == 2


def _quote(coin: str, price: str) -> Quote:
    return Quote(
        source="coingecko", source_coin_id=coin, ticker=coin.upper(), name=coin.title(),
        price_usd=Decimal(price), market_cap_usd=None, volume_24h_usd=None,
        percent_change_24h=None, created_at=datetime(2024, 1, 15, tzinfo=UTC),
    )  # fmt: skip


async def test_an_api_page_isolates_every_refused_entry_and_moves_the_checkpoint(
    refusing_db: AsyncEngine,
) -> None:
    coins = [f"coin{i}" for i in range(16)]
    poisoned = {"coin0", "coin7", "coin8", "coin15"}
    quotes = [_quote(c, POISON if c in poisoned else "1.5") for c in coins]
    async with refusing_db.begin() as conn:
        ids = await runs.create_runs(conn, uuid.uuid4(), ["coingecko"], datetime.now(UTC))
    run_id = ids["coingecko"]
    page = ApiRaw(1, datetime(2024, 1, 15, tzinfo=UTC), [(c, "{}", c) for c in coins])
    batch = Batch(
        "coingecko", run_id, quotes, raw=page, checkpoint=Checkpoint("1", {"next_page": 2})
    )

    async with begin(refusing_db) as tx:
        result = await store_quotes(tx, no_overrides(), batch)

    assert sorted(q.source_coin_id for q, _ in result.rejected) == sorted(poisoned)
    assert (result.written, result.history_added, result.raw_stored) == (12, 12, 16)
    assert await scalar(refusing_db, "SELECT count(*) FROM normalized_records") == 12
    assert await scalar(refusing_db, "SELECT count(*) FROM asset_mappings") == 12
    async with refusing_db.connect() as conn:
        assert await checkpoints.get_state(conn, "coingecko") == {"next_page": 2}
