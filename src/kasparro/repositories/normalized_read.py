"""Read queries over `normalized_records`: the freshest quote per ticker, paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.models import NormalizedRecord

N = NormalizedRecord
RECORD_COLUMNS = (
    N.id,
    N.ticker,
    N.name,
    N.price_usd,
    N.market_cap_usd,
    N.volume_24h_usd,
    N.percent_change_24h,
    N.source,
    N.created_at,
    N.ingested_at,
)


@dataclass(frozen=True, slots=True)
class DataFilter:
    ticker: str | None = None
    source: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _freshest_per_ticker(flt: DataFilter) -> Select[*tuple[Any, ...]]:
    """One row per ticker: the latest `created_at` among the rows the filter keeps."""
    stmt = select(*RECORD_COLUMNS)
    if flt.ticker is not None:
        stmt = stmt.where(N.ticker == flt.ticker)
    if flt.source is not None:
        stmt = stmt.where(N.source == flt.source)
    if flt.start is not None:
        stmt = stmt.where(N.created_at >= flt.start)
    if flt.end is not None:
        stmt = stmt.where(N.created_at <= flt.end)
    return stmt.ext(distinct_on(N.ticker)).order_by(N.ticker, N.created_at.desc(), N.id)


async def page_of_latest(
    conn: AsyncConnection, flt: DataFilter, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A page ordered by market cap (nulls last), then id, so pages never overlap."""
    latest = _freshest_per_ticker(flt).subquery("latest")
    stmt = (
        select(latest)
        .order_by(latest.c.market_cap_usd.desc().nulls_last(), latest.c.id)
        .limit(limit)
        .offset(offset)
    )
    # str(): column keys may be `quoted_name`, a str subclass that orjson refuses.
    return [
        {str(k): v for k, v in row._mapping.items()} for row in (await conn.execute(stmt)).all()
    ]


async def count_latest(conn: AsyncConnection, flt: DataFilter) -> int:
    latest = _freshest_per_ticker(flt).subquery("latest")
    return int(await conn.scalar(select(func.count()).select_from(latest)) or 0)


async def count_all(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(N)) or 0)


async def count_by_source(conn: AsyncConnection) -> dict[str, int]:
    stmt = select(N.source, func.count()).group_by(N.source).order_by(N.source)
    return {source: int(count) for source, count in (await conn.execute(stmt)).all()}
