"""SQL settling provisional asset ids (domain/asset_ids.py); asyncpg driver calls.

An asset is provisional while its `created_at` is after the settle mark, kept as the
`catalog_refreshes` row `asset-ids` (no migration needed). New assets are stamped with
`clock_timestamp()` (see `repositories.assets.insert_assets`), taken after the catalog lock,
so an asset made by a transaction that waited for a settle is never mistaken for a settled one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from kasparro.domain.asset_ids import Member, Settled
from kasparro.domain.identity import Coin
from kasparro.repositories.driver import Driver

MARK = "asset-ids"

# The first catalog write on a database marks what exists as settled: ids a version before
# this one published stay; on an empty database everything made from now on is provisional.
_SEED = """
INSERT INTO catalog_refreshes (source, refreshed_at)
SELECT $1, CASE WHEN EXISTS (SELECT 1 FROM assets) THEN clock_timestamp()
                ELSE '-infinity'::timestamptz END
ON CONFLICT (source) DO NOTHING
"""
_MARK = """
INSERT INTO catalog_refreshes (source, refreshed_at) VALUES ($1, clock_timestamp())
ON CONFLICT (source) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at
"""
_PROVISIONAL = """
SELECT a.asset_id, m.source, m.source_coin_id, m.ticker, m.name, m.method,
       m.confidence, m.evidence::text AS evidence
FROM assets a JOIN asset_mappings m ON m.asset_id = a.asset_id
WHERE a.created_at > $1
"""
_INSERT = """
INSERT INTO assets (asset_id, ticker, name, created_at)
SELECT id, t, n, clock_timestamp() FROM unnest($1::text[], $2::text[], $3::text[]) AS r(id, t, n)
ON CONFLICT (asset_id) DO NOTHING
"""
_MOVE = """
UPDATE asset_mappings m SET asset_id = r.new_id, updated_at = now()
FROM unnest($1::text[], $2::text[]) AS r(old_id, new_id)
WHERE m.asset_id = r.old_id AND r.old_id <> r.new_id
"""
_NAME = """
UPDATE assets a SET ticker = r.t, name = r.n
FROM unnest($1::text[], $2::text[], $3::text[]) AS r(id, t, n)
WHERE a.asset_id = r.id AND (a.ticker, a.name) IS DISTINCT FROM (r.t, r.n)
"""
_EVENTS = """
INSERT INTO asset_mapping_events
    (source, source_coin_id, from_asset_id, to_asset_id, method, score, evidence)
SELECT m.source, m.source_coin_id, r.old_id, r.new_id, m.method, m.confidence, m.evidence
FROM unnest($1::text[], $2::text[]) AS r(old_id, new_id)
JOIN asset_mappings m ON m.asset_id = r.old_id
WHERE r.old_id <> r.new_id
"""


async def seed_mark(driver: Driver) -> None:
    await driver.execute(_SEED, MARK)


async def mark(driver: Driver) -> datetime | None:
    value = await driver.fetchval(
        "SELECT refreshed_at FROM catalog_refreshes WHERE source = $1", MARK
    )
    return value if isinstance(value, datetime) else None


async def provisional(driver: Driver, since: datetime) -> dict[str, list[Member]]:
    """Each asset made after `since`, with its coins."""
    groups: dict[str, list[Member]] = {}
    for r in await driver.fetch(_PROVISIONAL, since):
        coin = Coin(r["source"], r["source_coin_id"], r["ticker"], r["name"])
        groups.setdefault(r["asset_id"], []).append(Member(coin, r["method"]))
    return groups


async def published(driver: Driver, since: datetime) -> set[str]:
    rows = await driver.fetch("SELECT asset_id FROM assets WHERE created_at <= $1", since)
    return {r["asset_id"] for r in rows}


async def apply(driver: Driver, settled: Mapping[str, Settled]) -> set[str]:
    """Give each provisional asset its settled id, ticker and name; returns the old ids renamed."""
    if not settled:
        return set()
    old = list(settled)
    new = [s.asset_id for s in settled.values()]
    tickers = [s.ticker for s in settled.values()]
    names = [s.name for s in settled.values()]
    await driver.execute(_INSERT, new, tickers, names)
    await driver.execute(_EVENTS, old, new)  # before the move: the mappings still say `old`
    await driver.execute(_MOVE, old, new)
    await driver.execute(_NAME, new, tickers, names)
    return {o for o, n in zip(old, new, strict=True) if o != n}


async def record_mark(driver: Driver) -> None:
    await driver.execute(_MARK, MARK)
