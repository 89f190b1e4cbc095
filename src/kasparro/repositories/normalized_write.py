"""Bulk upsert of the latest quote per source and coin into `normalized_records`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from kasparro.domain.quote import Quote, keep_newest
from kasparro.repositories.driver import Driver

# Amounts travel as text and PostgreSQL casts them to NUMERIC: the same exact value,
# at a fraction of asyncpg's cost for encoding Decimal.
_UPSERT = """
INSERT INTO normalized_records AS n (
    id, source, source_coin_id, ticker, name, price_usd, market_cap_usd,
    volume_24h_usd, percent_change_24h, created_at, ingested_at, run_id)
SELECT u.id, u.source, u.coin, u.ticker, u.name, u.price::numeric, u.mcap::numeric,
       u.vol::numeric, u.chg::numeric, u.created_at, now(), $11
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::timestamptz[])
     AS u(id, source, coin, ticker, name, price, mcap, vol, chg, created_at)
ON CONFLICT (id) DO UPDATE SET
    ticker = EXCLUDED.ticker, name = EXCLUDED.name, price_usd = EXCLUDED.price_usd,
    market_cap_usd = EXCLUDED.market_cap_usd, volume_24h_usd = EXCLUDED.volume_24h_usd,
    percent_change_24h = EXCLUDED.percent_change_24h, created_at = EXCLUDED.created_at,
    ingested_at = EXCLUDED.ingested_at, run_id = EXCLUDED.run_id
WHERE n.created_at < EXCLUDED.created_at
   OR (n.created_at = EXCLUDED.created_at
       AND (n.ticker, n.name, n.price_usd, n.market_cap_usd, n.volume_24h_usd, n.percent_change_24h)
           IS DISTINCT FROM (EXCLUDED.ticker, EXCLUDED.name, EXCLUDED.price_usd,
                             EXCLUDED.market_cap_usd, EXCLUDED.volume_24h_usd,
                             EXCLUDED.percent_change_24h))
RETURNING n.source, n.source_coin_id, n.ticker, n.price_usd, n.created_at
"""


class ChangedLatest(NamedTuple):
    """A latest quote the upsert inserted or changed (what the live stream announces)."""

    source: str
    source_coin_id: str
    ticker: str
    price_usd: Decimal
    observed_at: datetime


def latest_per_record(quotes: Iterable[Quote]) -> list[Quote]:
    """Keep the newest quote per record id (the later one on a tie), as one upsert needs."""
    latest: dict[str, Quote] = {}
    for quote in quotes:
        keep_newest(latest, quote)
    return list(latest.values())


def as_text(value: object) -> str | None:
    """An amount as the text PostgreSQL casts to NUMERIC (None stays NULL)."""
    return None if value is None else str(value)


async def upsert_latest(
    driver: Driver, quotes: Iterable[Quote], run_id: int | None
) -> list[ChangedLatest]:
    """Upsert the newest quote per record; returns the rows it inserted or changed.

    An older quote never replaces a newer one, and the same observation seen again
    rewrites nothing (a re-run over unchanged data leaves the rows untouched).
    """
    rows = latest_per_record(quotes)
    if not rows:
        return []
    columns: list[list[Any]] = [[] for _ in range(10)]
    for q in rows:
        values = (
            q.record_id,
            q.source,
            q.source_coin_id,
            q.ticker,
            q.name,
            str(q.price_usd),
            as_text(q.market_cap_usd),
            as_text(q.volume_24h_usd),
            as_text(q.percent_change_24h),
            q.created_at,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return [ChangedLatest._make(r) for r in await driver.fetch(_UPSERT, *columns, run_id)]
