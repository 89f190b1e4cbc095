"""What the rollups must hold, computed independently from `quotes`: per coin, interval and
UTC bucket, the open and close are the observations at the first and last instants."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import rows

_COLUMNS = (
    "source, source_coin_id, interval, bucket_start, open, high, low, close, market_cap_usd,"
    " volume_24h_usd, count, first_observed_at, last_observed_at"
)
_EXPECTED = """
WITH b AS (
    SELECT q.*, i.name AS interval,
           date_bin(i.width, q.observed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket_start
    FROM quotes q
    CROSS JOIN (VALUES ('5m', INTERVAL '5 minutes'), ('1h', INTERVAL '1 hour'),
                       ('1d', INTERVAL '1 day')) AS i(name, width)
), g AS (
    SELECT source, source_coin_id, interval, bucket_start, max(price_usd) AS high,
           min(price_usd) AS low, count(*) AS count, min(observed_at) AS first_observed_at,
           max(observed_at) AS last_observed_at
    FROM b GROUP BY 1, 2, 3, 4
)
SELECT g.source, g.source_coin_id, g.interval, g.bucket_start, o.price_usd AS open, g.high, g.low,
       c.price_usd AS close, c.market_cap_usd, c.volume_24h_usd, g.count, g.first_observed_at,
       g.last_observed_at
FROM g
JOIN quotes o ON (o.source, o.source_coin_id, o.observed_at)
               = (g.source, g.source_coin_id, g.first_observed_at)
JOIN quotes c ON (c.source, c.source_coin_id, c.observed_at)
               = (g.source, g.source_coin_id, g.last_observed_at)
"""


# The buckets of months retention left alone (a pruned month's have no observations left).
OUTSIDE_PRUNED = (
    "date_trunc('month', bucket_start AT TIME ZONE 'UTC')::date"
    " NOT IN (SELECT month FROM quote_pruned_months)"
)


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(str(v) for v in row.values())


async def stored_rollups(db: AsyncEngine, where: str = "true") -> list[tuple[Any, ...]]:
    sql = f"SELECT {_COLUMNS} FROM quote_rollups WHERE {where}"
    return sorted(_key(r) for r in await rows(db, sql))


async def expected_rollups(db: AsyncEngine, where: str = "true") -> list[tuple[Any, ...]]:
    return sorted(_key(r) for r in await rows(db, f"SELECT * FROM ({_EXPECTED}) e WHERE {where}"))


async def assert_rollups_match_quotes(db: AsyncEngine, *, outside_pruned: bool = False) -> int:
    """Every bucket (of the months not pruned, with `outside_pruned`) equals the one the
    stored observations give; returns how many there are."""
    where = OUTSIDE_PRUNED if outside_pruned else "true"
    stored, expected = await stored_rollups(db, where), await expected_rollups(db, where)
    assert stored == expected
    return len(stored)
