"""The `/data` read model: freshest quote per canonical asset, paged, with an exact total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kasparro.repositories import normalized_read
from kasparro.repositories.normalized_read import DataFilter, RankKey


@dataclass(frozen=True, slots=True)
class DataPage:
    records: list[dict[str, Any]]
    total: int
    next_key: RankKey | None


async def latest_quotes(
    driver: Any,
    flt: DataFilter,
    limit: int,
    offset: int,
    after: RankKey | None = None,
) -> DataPage:
    # one row more than asked says whether a next page exists, without counting
    records = await normalized_read.page_of_latest(driver, flt, limit + 1, offset, after)
    more = len(records) > limit
    del records[limit:]
    if offset == 0 and after is None and not more:
        total = len(records)  # the whole result is on this page: no second query
    else:
        total = await normalized_read.count_latest(driver, flt)
    ranks = [record.pop("rank_market_cap") for record in records]
    next_key = RankKey(ranks[-1], records[-1]["asset_id"]) if more else None
    return DataPage(records, total, next_key)
