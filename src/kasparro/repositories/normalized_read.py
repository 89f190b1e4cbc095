"""Read queries over `normalized_records`: the freshest quote per canonical asset, paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.models import AssetLatest, AssetMapping, NormalizedRecord

N = NormalizedRecord
L = AssetLatest
M = AssetMapping
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

    @property
    def is_empty(self) -> bool:
        return (
            self.ticker is None
            and self.source is None
            and self.start is None
            and (self.end is None)
        )


@dataclass(frozen=True, slots=True)
class RankKey:
    """A position in the market-cap order (largest first, unknown last, then asset id)."""

    market_cap_usd: Decimal | None
    asset_id: str


def after_rank(market_cap: Any, asset_id: Any, key: RankKey) -> ColumnElement[bool]:
    """Rows strictly after `key` in `market_cap DESC NULLS LAST, asset_id` order."""
    if key.market_cap_usd is None:
        return and_(market_cap.is_(None), asset_id > key.asset_id)
    cap = key.market_cap_usd
    return or_(
        market_cap < cap, and_(market_cap == cap, asset_id > key.asset_id), market_cap.is_(None)
    )


def _freshest_per_asset(flt: DataFilter) -> Select[*tuple[Any, ...]]:
    """One row per asset: the latest `created_at` among the quotes the filter keeps."""
    stmt: Select[*tuple[Any, ...]] = select(*RECORD_COLUMNS, M.asset_id).join(
        M, and_(M.source == N.source, M.source_coin_id == N.source_coin_id)
    )
    if flt.ticker is not None:
        stmt = stmt.where(N.ticker == flt.ticker)
    if flt.source is not None:
        stmt = stmt.where(N.source == flt.source)
    if flt.start is not None:
        stmt = stmt.where(N.created_at >= flt.start)
    if flt.end is not None:
        stmt = stmt.where(N.created_at <= flt.end)
    return stmt.ext(distinct_on(M.asset_id)).order_by(M.asset_id, N.created_at.desc(), N.id)


def _page_statement(flt: DataFilter, after: RankKey | None) -> Select[*tuple[Any, ...]]:
    stmt: Select[*tuple[Any, ...]]
    cap: Any
    asset_id: Any
    if flt.is_empty:  # the common request: read the precomputed freshest quote per asset
        stmt = select(*RECORD_COLUMNS, L.asset_id).join(N, N.id == L.record_id)
        cap, asset_id = L.market_cap_usd, L.asset_id
    else:
        latest = _freshest_per_asset(flt).subquery("latest")
        stmt = select(latest).join(L, L.asset_id == latest.c.asset_id)
        cap, asset_id = L.market_cap_usd, L.asset_id
    if after is not None:
        stmt = stmt.where(after_rank(cap, asset_id, after))
    return stmt.order_by(cap.desc().nulls_last(), asset_id)


async def page_of_latest(
    conn: AsyncConnection, flt: DataFilter, limit: int, offset: int, after: RankKey | None = None
) -> list[dict[str, Any]]:
    """A page in the assets' market-cap order (unknown last), then asset id, so pages never
    overlap. An asset's market cap is its freshest known one, whichever source had it."""
    stmt = _page_statement(flt, after).limit(limit).offset(offset)
    # str(): column keys may be `quoted_name`, a str subclass that orjson refuses.
    return [
        {str(k): v for k, v in row._mapping.items()} for row in (await conn.execute(stmt)).all()
    ]


async def count_latest(conn: AsyncConnection, flt: DataFilter) -> int:
    if flt.is_empty:
        return int(await conn.scalar(select(func.count()).select_from(L)) or 0)
    latest = _freshest_per_asset(flt).subquery("latest")
    return int(await conn.scalar(select(func.count()).select_from(latest)) or 0)


async def count_all(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(N)) or 0)


async def count_by_source(conn: AsyncConnection) -> dict[str, int]:
    stmt = select(N.source, func.count()).group_by(N.source).order_by(N.source)
    return {source: int(count) for source, count in (await conn.execute(stmt)).all()}
