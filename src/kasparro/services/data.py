"""The `/data` read model: freshest quote per canonical asset, paged, with an exact total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.repositories import normalized_read
from kasparro.repositories.normalized_read import DataFilter, RankKey


@dataclass(frozen=True, slots=True)
class DataPage:
    records: list[dict[str, Any]]
    total: int
    next_key: RankKey | None


async def latest_quotes(
    conn: AsyncConnection,
    flt: DataFilter,
    limit: int,
    offset: int,
    after: RankKey | None = None,
) -> DataPage:
    # one row more than asked says whether a next page exists, without counting
    records = await normalized_read.page_of_latest(conn, flt, limit + 1, offset, after)
    more = len(records) > limit
    del records[limit:]
    if offset == 0 and after is None and not more:
        total = len(records)  # the whole result is on this page: no second query
    else:
        total = await normalized_read.count_latest(conn, flt)
    last = records[-1] if more else None
    next_key = RankKey(last["market_cap_usd"], last["asset_id"]) if last else None
    return DataPage(records, total, next_key)
