"""Read queries for `/assets`: canonical assets with their consensus, flags and sources.

Plain SQL on the asyncpg connection, as in normalized_read, for the same reason.
"""

from __future__ import annotations

import json
from typing import Any

from kasparro.domain.flags import FlagRules
from kasparro.domain.queries import AssetFilter, RankKey
from kasparro.repositories.driver import Driver, Reads
from kasparro.repositories.normalized_read import RANK_ORDER, Params, after_rank

_AMBIGUOUS = "EXISTS (SELECT 1 FROM asset_mappings m WHERE m.asset_id = l.asset_id AND m.ambiguous)"
_ASSET = f"""SELECT a.asset_id, a.ticker, a.name, l.consensus_price_usd, l.divergence_pct,
       l.source_count, l.market_cap_usd, l.oldest_quote_at, l.newest_quote_at,
       {_AMBIGUOUS} AS ambiguous
FROM asset_latest l JOIN assets a ON a.asset_id = l.asset_id"""
_SOURCE_QUOTES = """
SELECT DISTINCT ON (m.asset_id, n.source)
       m.asset_id, n.source, n.source_coin_id, n.ticker, n.price_usd, n.created_at AS observed_at,
       m.ambiguous
FROM unnest($1::text[]) AS t(asset_id)
CROSS JOIN LATERAL (SELECT * FROM asset_mappings m WHERE m.asset_id = t.asset_id OFFSET 0) m
CROSS JOIN LATERAL (
    SELECT * FROM normalized_records n WHERE n.id = m.source || '_' || m.source_coin_id OFFSET 0
) n
ORDER BY m.asset_id, n.source, n.created_at DESC, n.id
"""
_MAPPINGS = """
SELECT source, source_coin_id, ticker, name, method, ambiguous, confidence, evidence
FROM asset_mappings WHERE asset_id = $1 ORDER BY source, source_coin_id
"""


def _where(flt: AssetFilter, rules: FlagRules, p: Params) -> list[str]:
    where = []
    if flt.ticker is not None:
        where.append(
            "EXISTS (SELECT 1 FROM asset_mappings m WHERE m.asset_id = l.asset_id"
            f" AND m.ticker = {p(flt.ticker)})"
        )
    if flt.search is not None:
        where.append(_search(flt.search, p))
    if flt.flag == "divergent":
        where.append(f"l.divergence_pct > {p(rules.divergence_pct)}")
    elif flt.flag == "stale":
        where.append(f"l.oldest_quote_at < {p(rules.stale_before)}")
    elif flt.flag == "ambiguous_mapping":
        where.append(_AMBIGUOUS)
    return where


def _search(term: str, p: Params) -> str:
    """The asset's own ticker or any mapped coin's equals the term, or a name contains it."""
    like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    tick, pattern = p(term.upper()), p(like)
    return (
        "(EXISTS (SELECT 1 FROM assets s WHERE s.asset_id = l.asset_id"
        f" AND (s.ticker = {tick} OR s.name ILIKE {pattern}))"
        " OR EXISTS (SELECT 1 FROM asset_mappings m WHERE m.asset_id = l.asset_id"
        f" AND (m.ticker = {tick} OR m.name ILIKE {pattern})))"
    )


async def page_of_assets(
    driver: Reads,
    flt: AssetFilter,
    rules: FlagRules,
    limit: int,
    offset: int,
    after: RankKey | None = None,
) -> list[dict[str, Any]]:
    p = Params()
    where = _where(flt, rules, p)
    if after is not None:
        where.append(after_rank(after, p))
    sql = _ASSET + (f"\nWHERE {' AND '.join(where)}" if where else "")
    sql += f"\n{RANK_ORDER} LIMIT {p(limit)} OFFSET {p(offset)}"
    return [dict(row) for row in await driver.fetch(sql, *p.values)]


async def count_assets(driver: Reads, flt: AssetFilter, rules: FlagRules) -> int:
    p = Params()
    where = _where(flt, rules, p)
    sql = "SELECT count(*) FROM asset_latest l" + (f" WHERE {' AND '.join(where)}" if where else "")
    return int(await driver.fetchval(sql, *p.values))


async def one_asset(driver: Reads, asset_id: str) -> dict[str, Any] | None:
    row = await driver.fetchrow(_ASSET + "\nWHERE l.asset_id = $1", asset_id)
    return None if row is None else dict(row)


async def source_quotes(driver: Reads, asset_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each asset's latest quote per source, by source name."""
    by_asset: dict[str, list[dict[str, Any]]] = {a: [] for a in asset_ids}
    for row in await driver.fetch(_SOURCE_QUOTES, asset_ids):
        quote = dict(row)
        by_asset[quote.pop("asset_id")].append(quote)
    return by_asset


async def asset_ids_for_ticker(driver: Driver, ticker: str) -> list[str]:
    sql = "SELECT DISTINCT asset_id FROM asset_mappings WHERE ticker = $1 ORDER BY asset_id"
    return [row["asset_id"] for row in await driver.fetch(sql, ticker)]


async def mappings_of(driver: Reads, asset_id: str) -> list[dict[str, Any]]:
    rows = [dict(row) for row in await driver.fetch(_MAPPINGS, asset_id)]
    for row in rows:
        if isinstance(row["evidence"], str):  # a bare driver connection returns JSONB as text
            row["evidence"] = json.loads(row["evidence"])
    return rows


async def asset_exists(driver: Reads, asset_id: str) -> bool:
    return bool(
        await driver.fetchval("SELECT EXISTS (SELECT 1 FROM assets WHERE asset_id = $1)", asset_id)
    )


# Review: the suggested pairs kept apart (most likely first), then the ambiguous mappings.
_REVIEW = """
WITH items AS (
    SELECT 0 AS rank, 'suggestion' AS kind, s.score, s.evidence,
           s.source_a, s.coin_a, ma.ticker AS ticker_a, ma.name AS name_a, ma.asset_id AS asset_a,
           s.source_b, s.coin_b, mb.ticker AS ticker_b, mb.name AS name_b, mb.asset_id AS asset_b
    FROM asset_suggestions s
    JOIN asset_mappings ma ON ma.source = s.source_a AND ma.source_coin_id = s.coin_a
    JOIN asset_mappings mb ON mb.source = s.source_b AND mb.source_coin_id = s.coin_b
    UNION ALL
    SELECT 1, 'ambiguous_mapping', m.confidence, m.evidence,
           m.source, m.source_coin_id, m.ticker, m.name, m.asset_id,
           NULL, NULL, NULL, NULL, NULL
    FROM asset_mappings m WHERE m.ambiguous
)
SELECT *, count(*) OVER () AS total FROM items
ORDER BY rank, score DESC NULLS LAST, source_a, coin_a, source_b, coin_b
LIMIT $1 OFFSET $2
"""
_RESOLVE_COIN = "SELECT asset_id FROM asset_mappings WHERE source = $1 AND source_coin_id = $2"
_RESOLVE_CONTRACT = """
SELECT DISTINCT m.asset_id FROM coin_contracts c
JOIN asset_mappings m ON m.source = c.source AND m.source_coin_id = c.source_coin_id
WHERE c.platform = $1 AND c.address = $2 AND c.active
ORDER BY m.asset_id
"""


def _coin(row: Any, side: str) -> dict[str, Any]:
    return {
        "source": row[f"source_{side}"],
        "source_coin_id": row[f"coin_{side}"],
        "ticker": row[f"ticker_{side}"],
        "name": row[f"name_{side}"],
        "asset_id": row[f"asset_{side}"],
    }


async def review_items(driver: Reads, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of what a human should look at, and how many there are in all."""
    rows = await driver.fetch(_REVIEW, limit, offset)
    items = []
    for r in rows:
        evidence = json.loads(r["evidence"]) if isinstance(r["evidence"], str) else r["evidence"]
        coins = [_coin(r, "a")] + ([_coin(r, "b")] if r["kind"] == "suggestion" else [])
        score = None if r["score"] is None else float(r["score"])
        items.append({"kind": r["kind"], "score": score, "evidence": evidence, "coins": coins})
    total = rows[0]["total"] if rows else 0
    if not rows and offset:
        total = await driver.fetchval(f"SELECT count(*) FROM ({_REVIEW}) q", 1_000_000_000, 0)
    return items, int(total)


async def asset_of_coin(driver: Reads, source: str, coin_id: str) -> str | None:
    value = await driver.fetchval(_RESOLVE_COIN, source, coin_id)
    return None if value is None else str(value)


async def assets_of_contract(driver: Reads, platform: str, address: str) -> list[str]:
    return [r["asset_id"] for r in await driver.fetch(_RESOLVE_CONTRACT, platform, address)]
