"""SQL for `assets`, `asset_mappings` and the derived `asset_latest` (asyncpg driver calls)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from kasparro.domain.asset_summary import AssetSummary, LatestQuote
from kasparro.domain.identity import Candidate, Coin
from kasparro.repositories.driver import Driver

# Every writer of the catalog or of `asset_latest` holds this until it commits, so two
# sources never resolve the same coin twice nor refresh one asset from stale snapshots.
_LOCK_CATALOG = "SELECT pg_advisory_xact_lock(hashtext('kasparro.asset_catalog'))"
# The catalog queries walk from the keys they are given through the indexes, one LATERAL
# lookup per key (OFFSET 0 keeps the planner from flattening it into a join): during a
# bulk load the tables grow faster than their statistics, and with stale statistics the
# planner hashed whole tables per batch (seconds for a batch of 500 new coins).
_MAPPED = """
SELECT m.source, m.source_coin_id, m.asset_id, m.method
FROM unnest($1::text[], $2::text[]) AS k(source, coin)
CROSS JOIN LATERAL (
    SELECT * FROM asset_mappings m
    WHERE m.source = k.source AND m.source_coin_id = k.coin OFFSET 0
) m
"""
_CANDIDATES = """
SELECT m.asset_id, m.source, m.source_coin_id, m.ticker, m.name,
       (SELECT n.market_cap_usd FROM normalized_records n
        WHERE n.id = m.source || '_' || m.source_coin_id) AS market_cap_usd
FROM unnest($1::text[]) AS t(ticker)
CROSS JOIN LATERAL (SELECT * FROM asset_mappings m WHERE m.ticker = t.ticker OFFSET 0) m
"""
# clock_timestamp(), not the transaction's start: taken under the catalog lock, it orders
# every new asset after the settle it waited for (repositories/asset_ids.py).
_INSERT_ASSETS = """
INSERT INTO assets (asset_id, ticker, name, created_at)
SELECT *, clock_timestamp() FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT (asset_id) DO NOTHING
"""
_UPSERT_MAPPINGS = """
INSERT INTO asset_mappings AS m (
    source, source_coin_id, asset_id, ticker, name, method, ambiguous, confidence, evidence)
SELECT s, c, a, t, n, me, am, conf, ev::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::bool[], $8::numeric[], $9::text[]) AS r(s, c, a, t, n, me, am, conf, ev)
ON CONFLICT (source, source_coin_id) DO UPDATE SET
    asset_id = EXCLUDED.asset_id, ticker = EXCLUDED.ticker, name = EXCLUDED.name,
    method = EXCLUDED.method, ambiguous = EXCLUDED.ambiguous,
    confidence = EXCLUDED.confidence, evidence = EXCLUDED.evidence, updated_at = now()
WHERE (m.asset_id, m.ticker, m.name, m.method, m.ambiguous, m.confidence, m.evidence)
      IS DISTINCT FROM (EXCLUDED.asset_id, EXCLUDED.ticker, EXCLUDED.name, EXCLUDED.method,
                        EXCLUDED.ambiguous, EXCLUDED.confidence, EXCLUDED.evidence)
"""
# Every API coin with its latest quote, its mapping (if any) and its active contracts.
_LISTINGS = """
SELECT n.source, n.source_coin_id, n.ticker, n.name, n.price_usd, n.market_cap_usd,
       n.created_at, m.asset_id, m.method, m.confidence,
       ARRAY(SELECT c.platform || ' ' || c.address FROM coin_contracts c
             WHERE c.source = n.source AND c.source_coin_id = n.source_coin_id
               AND c.active ORDER BY 1) AS contracts
FROM normalized_records n
LEFT JOIN asset_mappings m ON m.source = n.source AND m.source_coin_id = n.source_coin_id
WHERE n.source = ANY($1::text[])
"""
_INSERT_EVENTS = """
INSERT INTO asset_mapping_events
    (source, source_coin_id, from_asset_id, to_asset_id, method, score, evidence)
SELECT s, c, f, t, me, sc, ev::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[],
            $7::text[]) AS r(s, c, f, t, me, sc, ev)
"""
_INSERT_SUGGESTIONS = """
INSERT INTO asset_suggestions (source_a, coin_a, source_b, coin_b, score, evidence)
SELECT sa, ca, sb, cb, sc, ev::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[])
    AS r(sa, ca, sb, cb, sc, ev)
"""
_UNMAPPED_COINS = """
SELECT n.source, n.source_coin_id, n.ticker, n.name
FROM normalized_records n
LEFT JOIN asset_mappings m ON m.source = n.source AND m.source_coin_id = n.source_coin_id
WHERE m.asset_id IS NULL
"""
_REVISABLE = """
SELECT m.source, m.source_coin_id, m.ticker, m.name, m.asset_id, m.method
FROM asset_mappings m
WHERE m.source = ANY($1::text[]) OR m.method = 'override'
   OR (m.source, m.source_coin_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))
"""
_DELETE_ORPHANS = """
DELETE FROM assets a
WHERE a.asset_id = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM asset_mappings m WHERE m.asset_id = a.asset_id)
"""
# Per asset, each source's freshest quote (ties by record id, as `/data` breaks them): what
# `domain/asset_summary.py` summarizes into `asset_latest`.
_LATEST_QUOTES = """
SELECT DISTINCT ON (m.asset_id, n.source)
       m.asset_id, n.source, n.id, n.price_usd, n.market_cap_usd, n.created_at, m.ambiguous
FROM unnest($1::text[]) AS t(asset_id)
CROSS JOIN LATERAL (SELECT * FROM asset_mappings m WHERE m.asset_id = t.asset_id OFFSET 0) m
CROSS JOIN LATERAL (
    SELECT * FROM normalized_records n WHERE n.id = m.source || '_' || m.source_coin_id OFFSET 0
) n
ORDER BY m.asset_id, n.source, n.created_at DESC, n.id
"""
_WRITE_LATEST = """
INSERT INTO asset_latest AS l (
    asset_id, record_id, market_cap_usd, consensus_price_usd, divergence_pct,
    source_count, oldest_quote_at, newest_quote_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[],
                     $6::int[], $7::timestamptz[], $8::timestamptz[])
ON CONFLICT (asset_id) DO UPDATE SET
    record_id = EXCLUDED.record_id, market_cap_usd = EXCLUDED.market_cap_usd,
    consensus_price_usd = EXCLUDED.consensus_price_usd,
    divergence_pct = EXCLUDED.divergence_pct, source_count = EXCLUDED.source_count,
    oldest_quote_at = EXCLUDED.oldest_quote_at, newest_quote_at = EXCLUDED.newest_quote_at
"""


async def lock_catalog(driver: Driver) -> None:
    await driver.execute(_LOCK_CATALOG)


async def mapped(driver: Driver, coins: Sequence[Coin]) -> dict[tuple[str, str], tuple[str, str]]:
    """(source, coin id) -> (asset id, method) for the coins already mapped."""
    rows = await driver.fetch(_MAPPED, [c.source for c in coins], [c.coin_id for c in coins])
    return {(r["source"], r["source_coin_id"]): (r["asset_id"], r["method"]) for r in rows}


async def candidates(driver: Driver, tickers: Iterable[str]) -> list[tuple[str, Candidate]]:
    """Every mapped coin with one of `tickers`, as (its coin id, candidate)."""
    rows = await driver.fetch(_CANDIDATES, sorted(set(tickers)))
    return [
        (
            r["source_coin_id"],
            Candidate(r["asset_id"], r["source"], r["ticker"], r["name"], r["market_cap_usd"]),
        )
        for r in rows
    ]


async def asset_ids(driver: Driver) -> set[str]:
    return {r["asset_id"] for r in await driver.fetch("SELECT asset_id FROM assets")}


async def insert_assets(driver: Driver, assets: Sequence[tuple[str, str, str | None]]) -> None:
    if assets:
        await driver.execute(_INSERT_ASSETS, *map(list, zip(*assets, strict=True)))


# (source, coin id, asset id, ticker, name, method, ambiguous, confidence, evidence as JSON)
MappingRow = tuple[str, str, str, str, str | None, str, bool, Decimal | None, str | None]
# (source, coin id, from asset id, to asset id, method, score, evidence as JSON)
EventRow = tuple[str, str, str | None, str, str, Decimal | None, str | None]
# (source a, coin a, source b, coin b, score, evidence as JSON)
SuggestionRow = tuple[str, str, str, str, Decimal, str]


async def upsert_mappings(driver: Driver, rows: Sequence[MappingRow]) -> None:
    if rows:
        await driver.execute(_UPSERT_MAPPINGS, *map(list, zip(*rows, strict=True)))


async def insert_events(driver: Driver, rows: Sequence[EventRow]) -> None:
    """One row in `asset_mapping_events` per change of a coin's asset."""
    if rows:
        await driver.execute(_INSERT_EVENTS, *map(list, zip(*rows, strict=True)))


async def replace_suggestions(driver: Driver, rows: Sequence[SuggestionRow]) -> None:
    """The suggestions as scored now: the previous set is what older evidence said."""
    await driver.execute("DELETE FROM asset_suggestions")
    if rows:
        await driver.execute(_INSERT_SUGGESTIONS, *map(list, zip(*rows, strict=True)))


async def listings(driver: Driver, sources: Sequence[str]) -> list[Any]:
    """Rows of `_LISTINGS`: each coin of `sources` with its latest quote and mapping."""
    return list(await driver.fetch(_LISTINGS, list(sources)))


async def unmapped_coins(driver: Driver) -> list[Coin]:
    """Coins with a stored quote but no asset (e.g. quotes stored before assets existed)."""
    rows = await driver.fetch(_UNMAPPED_COINS)
    return [Coin(r["source"], r["source_coin_id"], r["ticker"], r["name"]) for r in rows]


async def revisable(
    driver: Driver, sources: Sequence[str], coins: Sequence[tuple[str, str]]
) -> list[tuple[Coin, str, str]]:
    """Mappings to decide again: `sources`' (the ticker-only ones), overridden ones, `coins`."""
    rows = await driver.fetch(
        _REVISABLE, list(sources), [c[0] for c in coins], [c[1] for c in coins]
    )
    return [
        (Coin(r["source"], r["source_coin_id"], r["ticker"], r["name"]), r["asset_id"], r["method"])
        for r in rows
    ]


async def delete_orphans(driver: Driver, asset_ids: Iterable[str]) -> None:
    await driver.execute(_DELETE_ORPHANS, sorted(set(asset_ids)))


async def latest_quotes(driver: Driver, asset_ids: Sequence[str]) -> dict[str, list[LatestQuote]]:
    """Each asset's latest quote per source (assets without any are left out)."""
    by_asset: dict[str, list[LatestQuote]] = {}
    for r in await driver.fetch(_LATEST_QUOTES, list(asset_ids)):
        by_asset.setdefault(r[0], []).append(LatestQuote._make(r[1:]))
    return by_asset


async def write_latest(driver: Driver, summaries: Sequence[AssetSummary]) -> None:
    """Upsert these assets' rows of `asset_latest`."""
    if summaries:
        columns = zip(*summaries, strict=True)  # in the table's column order
        await driver.execute(_WRITE_LATEST, *map(list, columns))


async def delete_latest(driver: Driver, asset_ids: Iterable[str]) -> None:
    """Drop the `asset_latest` rows of assets left without quotes."""
    if ids := sorted(set(asset_ids)):
        await driver.execute("DELETE FROM asset_latest WHERE asset_id = ANY($1::text[])", ids)
