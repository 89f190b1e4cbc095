"""The catalog decides by evidence: real names from the recordings, prices as the upstreams
would quote them, a real PostgreSQL, through `attach` (each batch) and `reconcile` (each run)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.pipeline.catalog import AssetCatalog
from tests.fixtures.identity import ARPA, load, mappings, q


async def events(db: AsyncEngine) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        sql = "SELECT * FROM asset_mapping_events ORDER BY id"
        return [dict(r) for r in (await conn.execute(text(sql))).mappings().all()]


async def test_arpa_joins_the_coin_quoted_at_its_price_not_the_namesake(db: AsyncEngine) -> None:
    await load(db, ARPA)

    m = await mappings(db)
    gecko = m[("coingecko", "arpa")]
    assert gecko["asset_id"] == m[("coinpaprika", "arpa-arpa-chain")]["asset_id"]
    assert m[("coinpaprika", "arpa-arpa-token")]["asset_id"] != gecko["asset_id"]
    assert gecko["method"] == "evidence"
    assert Decimal("0.7") <= gecko["confidence"] <= 1
    assert gecko["evidence"]["ticker"] is True
    assert gecko["evidence"]["price_diff_pct"] < 1


def partition(m: dict[tuple[str, str], dict[str, Any]]) -> set[frozenset[tuple[str, str, str]]]:
    """Which coins share an asset, and by which method: the decision, whatever the ids."""
    groups: dict[str, set[tuple[str, str, str]]] = {}
    for (source, coin), row in m.items():
        groups.setdefault(row["asset_id"], set()).add((source, coin, row["method"]))
    return {frozenset(g) for g in groups.values()}


async def test_the_order_of_the_sources_does_not_change_the_mappings(
    db: AsyncEngine,
) -> None:
    await load(db, ARPA)
    first = partition(await mappings(db))
    async with db.begin() as conn:
        await conn.execute(text("TRUNCATE assets, asset_mappings, normalized_records CASCADE"))
    await load(db, list(reversed(ARPA)))  # the same coins, CoinGecko's batch first
    # the ids themselves follow the first coin published (an id is never renamed)
    assert partition(await mappings(db)) == first


async def test_a_changed_ticker_no_longer_hides_a_match(db: AsyncEngine) -> None:
    await load(db, [
        q("coinpaprika", "miota-iota", "MIOTA", "IOTA", "0.25000000", "800000000"),
        q("coingecko", "iota", "IOTA", "IOTA", "0.25020000", "801000000"),
    ])  # fmt: skip
    m = await mappings(db)
    assert m[("coinpaprika", "miota-iota")]["asset_id"] == m[("coingecko", "iota")]["asset_id"]
    assert m[("coingecko", "iota")]["evidence"]["ticker"] is False


async def test_a_wrapped_token_at_the_same_price_stays_apart(db: AsyncEngine) -> None:
    await load(db, [
        q("coinpaprika", "btc-bitcoin", "BTC", "Bitcoin", "43000.00000000", "840000000000"),
        q("coingecko", "wrapped-bitcoin", "WBTC", "Wrapped Bitcoin", "43010.00", "6500000000"),
    ])  # fmt: skip
    m = await mappings(db)
    paprika, gecko = m[("coinpaprika", "btc-bitcoin")], m[("coingecko", "wrapped-bitcoin")]
    assert paprika["asset_id"] != gecko["asset_id"]


async def test_a_suggestion_is_promoted_by_later_evidence_with_its_event(
    db: AsyncEngine,
) -> None:
    # quotes two hours apart are no evidence: ticker and a partial name only
    await load(db, [
        q("coinpaprika", "knc-kyber-network", "KNC", "Kyber Network", "0.70", "120000000", 150),
        q("coingecko", "kyber-network-crystal", "KNC", "Kyber Network Crystal", "0.7", "121000000"),
    ])  # fmt: skip
    m = await mappings(db)
    paprika = ("coinpaprika", "knc-kyber-network")
    gecko = ("coingecko", "kyber-network-crystal")
    assert m[paprika]["asset_id"] != m[gecko]["asset_id"]
    async with db.connect() as conn:
        kept = (await conn.execute(text("SELECT * FROM asset_suggestions"))).mappings().all()
    assert [(r["coin_a"], r["coin_b"]) for r in kept] == [(paprika[1], gecko[1])]
    before = len(await events(db))

    # a fresh CoinPaprika quote at the same price and market cap
    await load(db, [
        q("coinpaprika", "knc-kyber-network", "KNC", "Kyber Network", "0.7001", "120500000"),
    ])  # fmt: skip
    m = await mappings(db)
    assert m[paprika]["asset_id"] == m[gecko]["asset_id"]
    moved = (await events(db))[before:]
    assert len(moved) == 1
    assert moved[0]["method"] == "evidence" and moved[0]["score"] >= Decimal("0.7")
    assert moved[0]["to_asset_id"] == m[paprika]["asset_id"]
    assert moved[0]["from_asset_id"] != moved[0]["to_asset_id"]
    async with db.connect() as conn:
        assert (await conn.scalar(text("SELECT count(*) FROM asset_suggestions"))) == 0


async def test_an_override_beats_the_evidence(db: AsyncEngine, tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("source,source_coin_id,asset_id\ncoingecko,arpa,arpa-gecko\n")
    await load(db, ARPA, AssetCatalog(overrides))
    m = await mappings(db)
    assert m[("coingecko", "arpa")]["asset_id"] == "arpa-gecko"
    assert m[("coingecko", "arpa")]["method"] == "override"
    assert m[("coinpaprika", "arpa-arpa-chain")]["asset_id"] != "arpa-gecko"


async def test_every_first_mapping_and_move_is_an_event(db: AsyncEngine) -> None:
    await load(db, ARPA)
    m = await mappings(db)
    trail: dict[tuple[str, str], str] = {}
    for e in await events(db):
        trail[(e["source"], e["source_coin_id"])] = e["to_asset_id"]
    assert trail == {k: v["asset_id"] for k, v in m.items()}
