"""What the load step publishes to the stream's outbox, on a real PostgreSQL: a changed latest
quote and the consensus it moved, nothing for data seen before, and ids in commit order."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.exact_json import loads_exact
from kasparro.domain.stream import NewEvent
from kasparro.repositories import stream
from kasparro.repositories.driver import begin
from tests.api.seed import quote, seed

EVENTS = "SELECT id, event, asset_id, source, data::text AS data FROM stream_events ORDER BY id"


async def _events(db: AsyncEngine) -> list[dict[str, Any]]:
    async with begin(db) as tx:
        rows = await tx.driver.fetch(EVENTS)
    return [{**dict(r), "data": loads_exact(r["data"])} for r in rows]


def _btc(price: str, source: str = "coingecko", at: str = "2024-01-15T10:00:00") -> Any:
    coin = {"coingecko": "bitcoin", "coinpaprika": "btc-bitcoin"}[source]
    return quote("BTC", price, source=source, coin=coin, name="Bitcoin", at=at)


async def test_changes_are_published_and_repeats_are_not(db: AsyncEngine) -> None:
    await seed(db, [_btc("100")])
    first = await _events(db)
    await seed(db, [_btc("100")])  # the same observation again
    assert await _events(db) == first
    await seed(db, [_btc("101", source="coinpaprika")])  # a second source, 1% apart: no flag
    await seed(db, [_btc("150", source="coinpaprika", at="2024-01-15T10:05:00")])  # divergent
    events = await _events(db)

    assert [(e["event"], e["source"]) for e in events] == [
        ("quote", "coingecko"), ("consensus", None),
        ("quote", "coinpaprika"), ("consensus", None),
        ("quote", "coinpaprika"), ("consensus", None),
    ]  # fmt: skip
    consensus = [e["data"] for e in events if e["event"] == "consensus"]
    assert [c["flags"] for c in consensus] == [["stale"], ["stale"], ["divergent", "stale"]]
    assert [str(c["price_usd"]) for c in consensus] == ["100.00000000", "100.50000000", "125.00000000"]
    assert events[4]["data"]["observed_at"] == "2024-01-15T10:05:00Z"


async def test_an_outbox_writer_waits_for_the_one_before_it_to_commit(db: AsyncEngine) -> None:
    """Ids follow commit order: a second writer draws its ids only once the first commits."""
    event = NewEvent("run", None, "csv", "{}")
    async with begin(db) as first:
        await stream.append(first.driver, [event])

        async def second() -> None:
            async with begin(db) as tx:
                await stream.append(tx.driver, [event, event])

        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.5)
        assert not waiting.done()
    await asyncio.wait_for(waiting, 10)
    assert [e["id"] for e in await _events(db)] == [1, 2, 3]
