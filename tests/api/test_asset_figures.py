"""Consensus, divergence, flags, OHLC buckets and cursors, on hand-made quotes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.seed import quote, seed
from tests.helpers import rows

NOW = datetime.now(UTC).replace(microsecond=0)


def recent(minutes: int = 0) -> str:
    return (NOW - timedelta(minutes=minutes)).replace(tzinfo=None).isoformat()


def num(value: Any) -> Decimal:
    return Decimal(str(value))


async def stored_consensus(db: AsyncEngine, asset_id: str) -> Decimal:
    """`asset_latest.consensus_price_usd`, as the load step wrote it."""
    sql = "SELECT consensus_price_usd FROM asset_latest WHERE asset_id = :id"
    (row,) = await rows(db, sql, id=asset_id)
    return Decimal(row["consensus_price_usd"])


async def test_consensus_is_the_median_and_divergence_the_spread_over_it(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await seed(db, [
        quote("BTC", "100", source="csv", at=recent(3)),
        quote("BTC", "101", source="coinpaprika", coin="btc-bitcoin", at=recent(2)),
        quote("BTC", "110", source="coingecko", coin="bitcoin", at=recent(1), market_cap="9"),
        quote("ETH", "10.00000001", source="coinpaprika", coin="eth-ethereum", at=recent(1)),
        quote("ETH", "10.00000002", source="coingecko", coin="ethereum", at=recent(2)),
    ])  # fmt: skip

    btc = (await client.get("/assets/btc")).json()["data"]
    eth = (await client.get("/assets/eth")).json()["data"]

    # 110 is 8.9% from the median of three (> DIVERGENCE_THRESHOLD_PCT 2) and more than
    # 3 x their median absolute deviation (1): an outlier, out of the vote; the mean of the rest
    assert num(btc["price_usd"]) == Decimal("100.50000000")
    assert btc["consensus"]["method"] == "mean"
    assert btc["consensus"]["used"] == ["coinpaprika", "csv"]
    assert [(e["source"], e["reason"], num(e["price_usd"])) for e in btc["consensus"]["excluded"]] == [
        ("coingecko", "outlier", Decimal(110)),
    ]  # fmt: skip
    assert num(btc["divergence_pct"]) == Decimal("9.9010")  # (110 - 100) / 101, in percent
    # the stored consensus is the one shown: the same rule, outlier left out
    assert await stored_consensus(db, "btc") == Decimal("100.50000000")
    assert await stored_consensus(db, "eth") == num(eth["price_usd"])
    assert btc["flags"] == ["divergent"]
    assert [(q["source"], num(q["price_usd"])) for q in btc["sources"]] == [
        ("coingecko", Decimal(110)), ("coinpaprika", Decimal(101)), ("csv", Decimal(100)),
    ]  # fmt: skip
    # the median of two is their mean, rounded to 8 places
    assert num(eth["price_usd"]) == Decimal("10.00000002")
    assert num(eth["divergence_pct"]) == Decimal("0.0000") and eth["flags"] == []
    assert eth["consensus"]["method"] == "mean" and eth["consensus"]["excluded"] == []


async def test_a_stale_quote_does_not_vote_beside_fresh_ones(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await seed(db, [
        quote("BTC", "90", source="csv", at=recent(180)),
        quote("BTC", "101", source="coinpaprika", coin="btc-bitcoin", at=recent(2)),
        quote("BTC", "101.4", source="coingecko", coin="bitcoin", at=recent(1)),
    ])  # fmt: skip
    listed = (await client.get("/assets")).json()["data"]
    (btc,) = [a for a in listed if a["ticker"] == "BTC"]
    assert btc["consensus"]["used"] == ["coingecko", "coinpaprika"]
    assert [(e["source"], e["reason"]) for e in btc["consensus"]["excluded"]] == [("csv", "stale")]
    assert num(btc["price_usd"]) == Decimal("101.2") and "stale" in btc["flags"]
    assert await stored_consensus(db, btc["asset_id"]) == Decimal("101.2")  # not 101 (with 90)
    detail = (await client.get(f"/assets/{btc['asset_id']}")).json()["data"]
    by_source = {m["source"]: m for m in detail["mappings"]}
    assert by_source["coingecko"]["method"] == "evidence"
    assert 0.7 <= by_source["coingecko"]["confidence"] <= 1
    assert by_source["coingecko"]["evidence"]["ticker"] is True
    assert by_source["csv"]["confidence"] is None and by_source["csv"]["evidence"] is None


async def test_flags_follow_the_thresholds_and_filter_the_list(
    make_client: Any, db: AsyncEngine
) -> None:
    await seed(db, [
        quote("AAA", "100", source="coinpaprika", coin="aaa-a", at=recent(1)),
        quote("AAA", "103", source="coingecko", coin="a", at=recent(1)),
        quote("OLD", "1", source="coingecko", coin="old", at="2024-01-01T00:00:00"),
    ])  # fmt: skip
    strict = await make_client(divergence_threshold_pct="2.5", stale_after_seconds=3600)
    lenient = await make_client(divergence_threshold_pct="5")

    assert [a["asset_id"] for a in (await strict.get("/assets?flag=divergent")).json()["data"]] == [
        "aaa"
    ]
    assert (await lenient.get("/assets?flag=divergent")).json()["data"] == []
    stale = (await strict.get("/assets?flag=stale")).json()
    assert [a["asset_id"] for a in stale["data"]] == ["old"]
    assert stale["data"][0]["sources"][0]["stale"] is True
    assert stale["pagination"]["total"] == 1


async def test_ohlc_buckets_match_a_hand_computed_example(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    paprika: dict[str, Any] = {"source": "coinpaprika", "coin": "btc-bitcoin"}
    gecko: dict[str, Any] = {"source": "coingecko", "coin": "bitcoin"}
    await seed(db, [
        quote("BTC", "100", at="2025-03-01T10:05:00", **paprika),
        quote("BTC", "105", at="2025-03-01T10:20:00", **gecko),
        quote("BTC", "95", at="2025-03-01T10:50:00", **paprika),
        quote("BTC", "120", at="2025-03-01T11:10:00", **gecko),
        quote("BTC", "118", at="2025-03-01T11:59:59", **paprika),
        quote("BTC", "1", at="2025-03-02T00:00:00", **paprika),  # outside the range asked
    ])  # fmt: skip
    window = {"start": "2025-03-01T00:00:00Z", "end": "2025-03-01T23:59:59Z"}

    hourly = (await client.get("/assets/btc/history", params=window | {"interval": "1h"})).json()
    daily = (await client.get("/assets/btc/history", params=window | {"interval": "1d"})).json()

    def ohlc(body: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (
                b["start"],
                b["end"],
                *(num(b[k]) for k in ("open", "high", "low", "close")),
                b["count"],
            )
            for b in body["data"]
        ]

    assert ohlc(hourly) == [
        ("2025-03-01T10:00:00Z", "2025-03-01T11:00:00Z", 100, 105, 95, 95, 3),
        ("2025-03-01T11:00:00Z", "2025-03-01T12:00:00Z", 120, 120, 118, 118, 2),
    ]
    assert ohlc(daily) == [("2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z", 100, 120, 95, 118, 5)]
    only_gecko = (await client.get(
        "/assets/btc/history", params=window | {"interval": "1h", "source": "coingecko"}
    )).json()  # fmt: skip
    assert [b["count"] for b in only_gecko["data"]] == [1, 1]


async def _walk(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        page = (
            await client.get(path, params=params | ({"cursor": cursor} if cursor else {}))
        ).json()
        items += page["data"]
        cursor = page["pagination"]["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


async def test_cursors_walk_every_row_once_in_order(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    quotes = [
        quote(f"T{i}", str(i + 1), market_cap=None if i % 4 == 0 else str(1000 - i % 7))
        for i in range(23)
    ] + [quote("T5", str(i + 1), at=f"2024-02-0{i + 1}T00:00:00") for i in range(5)]
    await seed(db, quotes)

    everything = (await client.get("/data", params={"limit": 1000})).json()["data"]
    walked = await _walk(client, "/data", {"limit": 4})
    assert [r["id"] for r in walked] == [r["id"] for r in everything]
    assert len(walked) == 23
    # the precomputed page and the filtered query agree on content and order
    filtered = (
        await client.get("/data", params={"limit": 1000, "start_date": "2000-01-01"})
    ).json()
    assert filtered["data"] == everything
    assets = await _walk(client, "/assets", {"limit": 5})
    assert [a["asset_id"] for a in assets] == [r["asset_id"] for r in everything]

    history = (await client.get("/assets/t5/history")).json()["data"]
    assert len(history) == 6
    assert await _walk(client, "/assets/t5/history", {"limit": 4}) == history
    buckets = await _walk(client, "/assets/t5/history", {"limit": 2, "interval": "1d"})
    assert [b["count"] for b in buckets] == [1] * 6
