"""SQL for `etl_run_quotes`: each run's newest quote per coin."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.domain.quote import Quote
from kasparro.models import EtlRunQuote
from kasparro.repositories.driver import Driver

_INSERT = """
INSERT INTO etl_run_quotes (run_id, record_id, ticker, price_usd, market_cap_usd, observed_at)
SELECT $1, u.id, u.ticker, u.price::numeric, u.mcap::numeric, u.at
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
     AS u(id, ticker, price, mcap, at)
"""


# Keep the snapshots of the newest `$2` runs of source `$1` that have one; drop older ones and
# mark their runs, so that a comparison can say why it has no coins for them.
_PRUNE = """
WITH cutoff AS (
    SELECT id FROM etl_runs WHERE source = $1 AND details ? 'coins_seen'
    ORDER BY id DESC OFFSET $2 LIMIT 1
), gone AS (
    DELETE FROM etl_run_quotes
    WHERE run_id IN (
        SELECT id FROM etl_runs
        WHERE source = $1 AND details ? 'coins_seen' AND NOT details ? 'snapshot_pruned'
          AND id <= (SELECT id FROM cutoff))
    RETURNING run_id
)
UPDATE etl_runs SET details = details || '{"snapshot_pruned": true}'::jsonb
WHERE id IN (SELECT DISTINCT run_id FROM gone)
"""


class SeenQuote(NamedTuple):
    ticker: str
    price_usd: Decimal
    market_cap_usd: Decimal | None


async def record(driver: Driver, run_id: int, quotes: Iterable[Quote]) -> None:
    """Store the run's quotes, one per record id (as `RunCounters.seen` holds them)."""
    columns: list[list[Any]] = [[] for _ in range(5)]
    for q in quotes:
        mcap = None if q.market_cap_usd is None else str(q.market_cap_usd)
        values = (q.record_id, q.ticker, str(q.price_usd), mcap, q.created_at)
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if columns[0]:
        await driver.execute(_INSERT, run_id, *columns)


async def prune(driver: Driver, source: str, keep: int) -> None:
    await driver.execute(_PRUNE, source, keep)


async def for_run(conn: AsyncConnection, run_id: int) -> dict[str, SeenQuote]:
    stmt = select(
        EtlRunQuote.record_id, EtlRunQuote.ticker, EtlRunQuote.price_usd, EtlRunQuote.market_cap_usd
    ).where(EtlRunQuote.run_id == run_id)
    return {
        record_id: SeenQuote(ticker, price, mcap)
        for record_id, ticker, price, mcap in (await conn.execute(stmt)).all()
    }
