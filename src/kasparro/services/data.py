"""The `/data` read model: freshest quote per canonical asset, paged, with an exact total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kasparro.domain.queries import DataFilter, RankKey
from kasparro.repositories import normalized_read
from kasparro.repositories.driver import Reads
from kasparro.services.paging import exact_total, trim_extra


@dataclass(frozen=True, slots=True)
class DataPage:
    records: list[dict[str, Any]]
    total: int
    next_key: RankKey | None


async def latest_quotes(
    driver: Reads,
    flt: DataFilter,
    limit: int,
    offset: int,
    after: RankKey | None = None,
) -> DataPage:
    records = await normalized_read.page_of_latest(driver, flt, limit + 1, offset, after)
    more = trim_extra(records, limit)
    first = offset == 0 and after is None
    total = await exact_total(
        len(records), first, more, lambda: normalized_read.count_latest(driver, flt)
    )
    ranks = [record.pop("rank_market_cap") for record in records]
    next_key = RankKey(ranks[-1], records[-1]["asset_id"]) if more else None
    return DataPage(records, total, next_key)
