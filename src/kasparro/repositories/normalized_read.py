"""Read queries over `normalized_records`: the freshest quote per canonical asset, paged.

Plain SQL on the asyncpg connection: these serve every `/data` request, and building
SQLAlchemy statements cost more than running them (bench/api_latency.py). The same filter
combination always yields the same text, so asyncpg reuses its prepared statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.domain.queries import DataFilter, RankKey
from kasparro.models import NormalizedRecord
from kasparro.repositories.driver import Reads

N = NormalizedRecord
_COLUMNS = """n.id, {asset_id} AS asset_id, n.ticker, n.name, n.price_usd, n.market_cap_usd,
n.volume_24h_usd, n.percent_change_24h, n.source, n.created_at, n.ingested_at"""


class Params:
    """Collects bind values and hands out their `$n` placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def after_rank(key: RankKey, p: Params) -> str:
    """Rows of `asset_latest l` strictly after `key` in `RANK_ORDER`."""
    if key.market_cap_usd is None:
        return f"(l.market_cap_usd IS NULL AND l.asset_id > {p(key.asset_id)})"
    c, a = p(key.market_cap_usd), p(key.asset_id)
    return (
        f"(l.market_cap_usd < {c} OR (l.market_cap_usd = {c} AND l.asset_id > {a})"
        " OR l.market_cap_usd IS NULL)"
    )


RANK_ORDER = "ORDER BY l.market_cap_usd DESC NULLS LAST, l.asset_id"


def _freshest_per_asset(flt: DataFilter, p: Params) -> str:
    """One row per asset: the latest `created_at` among the quotes the filter keeps."""
    where = []
    if flt.ticker is not None:
        where.append(f"n.ticker = {p(flt.ticker)}")
    if flt.source is not None:
        where.append(f"n.source = {p(flt.source)}")
    if flt.start is not None:
        where.append(f"n.created_at >= {p(flt.start)}")
    if flt.end is not None:
        where.append(f"n.created_at <= {p(flt.end)}")
    return f"""SELECT DISTINCT ON (m.asset_id) {_COLUMNS.format(asset_id="m.asset_id")}
FROM normalized_records n
JOIN asset_mappings m ON m.source = n.source AND m.source_coin_id = n.source_coin_id
WHERE {" AND ".join(where)}
ORDER BY m.asset_id, n.created_at DESC, n.id"""


async def page_of_latest(
    driver: Reads, flt: DataFilter, limit: int, offset: int, after: RankKey | None = None
) -> list[dict[str, Any]]:
    """A page in the assets' market-cap order, then asset id, so pages never overlap. An
    asset's market cap is its freshest known one, whichever source had it (`rank_market_cap`).
    """
    p = Params()
    if flt.is_empty:  # the common request: the precomputed freshest quote per asset
        sql = f"""SELECT {_COLUMNS.format(asset_id="l.asset_id")},
       l.market_cap_usd AS rank_market_cap
FROM asset_latest l JOIN normalized_records n ON n.id = l.record_id"""
    else:
        sql = f"""SELECT x.*, l.market_cap_usd AS rank_market_cap
FROM ({_freshest_per_asset(flt, p)}) x JOIN asset_latest l ON l.asset_id = x.asset_id"""
    if after is not None:
        sql += f"\nWHERE {after_rank(after, p)}"
    sql += f"\n{RANK_ORDER} LIMIT {p(limit)} OFFSET {p(offset)}"
    return [dict(row) for row in await driver.fetch(sql, *p.values)]


async def count_latest(driver: Reads, flt: DataFilter) -> int:
    if flt.is_empty:
        return int(await driver.fetchval("SELECT count(*) FROM asset_latest"))
    p = Params()
    sql = f"SELECT count(*) FROM ({_freshest_per_asset(flt, p)}) x"
    return int(await driver.fetchval(sql, *p.values))


async def count_all(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(N)) or 0)


async def count_by_source(conn: AsyncConnection) -> dict[str, int]:
    stmt = select(N.source, func.count()).group_by(N.source).order_by(N.source)
    return {source: int(count) for source, count in (await conn.execute(stmt)).all()}
