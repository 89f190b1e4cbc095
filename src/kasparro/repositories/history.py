"""SQL for `quotes`, the observation history: a bulk insert that adds only unseen observations,
and pages of raw observations or OHLC buckets per asset."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from kasparro.domain.queries import HistoryFilter, ObservationKey
from kasparro.domain.quote import Quote
from kasparro.repositories.normalized_write import as_text

# COPY into a per-connection staging table, then one INSERT that skips what is stored:
# COPY alone cannot skip, and a plain INSERT of a 50,000-row batch costs several times more.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS quotes_stage (
    source text, source_coin_id text, observed_at timestamptz, ticker text, name text,
    price_usd text, market_cap_usd text, volume_24h_usd text, percent_change_24h text
) ON COMMIT DELETE ROWS
"""
_COLUMNS = (
    "source", "source_coin_id", "observed_at", "ticker", "name", "price_usd",
    "market_cap_usd", "volume_24h_usd", "percent_change_24h",
)  # fmt: skip
_INSERT = """
INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                    market_cap_usd, volume_24h_usd, percent_change_24h, run_id)
SELECT source, source_coin_id, observed_at, ticker, name, price_usd::numeric,
       market_cap_usd::numeric, volume_24h_usd::numeric, percent_change_24h::numeric, $1
FROM quotes_stage
ON CONFLICT DO NOTHING
"""


def _csv(rows: list[tuple[Any, ...]], run_id: int) -> bytes:
    """Rows as CSV for COPY: None is an unquoted empty field, which COPY reads as NULL."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows((*row, run_id) for row in rows)
    return out.getvalue().encode()


async def add(
    driver: Any, quotes: Iterable[Quote], run_id: int, *, expect_new: bool = False
) -> int:
    """Store each observation not stored yet (same source, coin and time); returns how many.

    `expect_new` (a bulk load of fresh rows) first tries a plain COPY into `quotes`, several
    times cheaper than checking every row; if any row was seen before, that COPY is undone
    (a savepoint) and the rows take the checking path.
    """
    rows = [
        (
            q.source, q.source_coin_id, q.created_at, q.ticker, q.name, str(q.price_usd),
            as_text(q.market_cap_usd), as_text(q.volume_24h_usd), as_text(q.percent_change_24h),
        )
        for q in quotes
    ]  # fmt: skip
    if not rows:
        return 0
    if expect_new:
        try:
            async with driver.transaction():  # a savepoint in the batch's transaction
                await driver.copy_to_table(
                    "quotes", source=io.BytesIO(_csv(rows, run_id)), columns=(*_COLUMNS, "run_id"),
                    format="csv",
                )  # fmt: skip
            return len(rows)
        except asyncpg.UniqueViolationError:
            pass
    await driver.execute(_STAGE)
    await driver.copy_records_to_table("quotes_stage", records=rows, columns=_COLUMNS)
    status: str = await driver.execute(_INSERT, run_id)
    await driver.execute("TRUNCATE quotes_stage")  # the next batch may share this transaction
    return int(status.rsplit(" ", 1)[-1])


# One index range scan per coin of the asset (the primary key leads with source and coin),
# each stopping at the page size: a page costs the same at any depth of the history.
_RAW = """
SELECT h.observed_at, h.source, h.source_coin_id, h.ticker, h.price_usd, h.market_cap_usd,
       h.volume_24h_usd, h.percent_change_24h
FROM asset_mappings m
CROSS JOIN LATERAL (
    SELECT q.*
    FROM quotes q
    WHERE q.source = m.source AND q.source_coin_id = m.source_coin_id
      AND q.observed_at >= coalesce($3::timestamptz, '-infinity')
      AND q.observed_at <= coalesce($4::timestamptz, 'infinity')
      AND q.observed_at >= coalesce($5::timestamptz, '-infinity')
      AND ($5::timestamptz IS NULL
           OR (q.observed_at, q.source, q.source_coin_id) > ($5::timestamptz, $6::text, $7::text))
    ORDER BY q.observed_at
    LIMIT $8::int
) h
WHERE m.asset_id = $1 AND ($2::text IS NULL OR m.source = $2)
ORDER BY h.observed_at, h.source, h.source_coin_id
LIMIT $8
"""
# OHLC per bucket over every observation of the asset in range; buckets start at UTC
# midnight and on the hour whatever the session's time zone (date_bin on an absolute origin).
_BUCKETS = """
SELECT date_bin($2::interval, q.observed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS start,
       (array_agg(q.price_usd ORDER BY q.observed_at, q.source, q.source_coin_id))[1] AS open,
       max(q.price_usd) AS high,
       min(q.price_usd) AS low,
       (array_agg(q.price_usd ORDER BY q.observed_at DESC, q.source DESC,
                  q.source_coin_id DESC))[1] AS close,
       count(*) AS count,
       max(q.observed_at) AS last_at
FROM asset_mappings m
JOIN quotes q ON q.source = m.source AND q.source_coin_id = m.source_coin_id
WHERE m.asset_id = $1 AND ($3::text IS NULL OR m.source = $3)
  AND q.observed_at >= coalesce($4::timestamptz, '-infinity')
  AND q.observed_at <= coalesce($5::timestamptz, 'infinity')
  AND q.observed_at >= coalesce($6::timestamptz, '-infinity')
GROUP BY 1
ORDER BY 1
LIMIT $7
"""
INTERVALS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}


async def observations(
    driver: Any, flt: HistoryFilter, limit: int, after: ObservationKey | None
) -> list[dict[str, Any]]:
    rows = await driver.fetch(
        _RAW, flt.asset_id, flt.source, flt.start, flt.end,
        after and after.observed_at, after and after.source, after and after.source_coin_id,
        limit,
    )  # fmt: skip
    return [dict(row) for row in rows]


async def buckets(
    driver: Any, flt: HistoryFilter, interval: str, limit: int, from_start: datetime | None
) -> list[dict[str, Any]]:
    """OHLC buckets of `interval`, starting with the one at `from_start` (a cursor)."""
    rows = await driver.fetch(
        _BUCKETS, flt.asset_id, INTERVALS[interval], flt.source, flt.start, flt.end,
        from_start, limit,
    )  # fmt: skip
    return [dict(row) for row in rows]


# The observation a bucket page starting at $3 carries on with `fill=previous`: the last one
# before it in range, ordered as a bucket's close is (time, then source and coin, descending).
_CARRIED = """
SELECT h.observed_at, h.price_usd
FROM asset_mappings m
CROSS JOIN LATERAL (
    SELECT q.observed_at, q.price_usd, q.source, q.source_coin_id
    FROM quotes q
    WHERE q.source = m.source AND q.source_coin_id = m.source_coin_id
      AND q.observed_at < $3::timestamptz
      AND q.observed_at >= coalesce($4::timestamptz, '-infinity')
    ORDER BY q.observed_at DESC
    LIMIT 1
) h
WHERE m.asset_id = $1 AND ($2::text IS NULL OR m.source = $2)
ORDER BY h.observed_at DESC, h.source DESC, h.source_coin_id DESC
LIMIT 1
"""


async def last_before(driver: Any, flt: HistoryFilter, before: datetime) -> dict[str, Any] | None:
    """The asset's last observation before `before` (and at or after the filter's start)."""
    row = await driver.fetchrow(_CARRIED, flt.asset_id, flt.source, before, flt.start)
    return None if row is None else dict(row)
