"""The `/data` read model: freshest quote per ticker, paged, with an exact total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.repositories import normalized_read
from kasparro.repositories.normalized_read import DataFilter


@dataclass(frozen=True, slots=True)
class DataPage:
    records: list[dict[str, Any]]
    total: int


async def latest_quotes(
    conn: AsyncConnection, flt: DataFilter, limit: int, offset: int
) -> DataPage:
    records = await normalized_read.page_of_latest(conn, flt, limit, offset)
    if offset == 0 and len(records) < limit:
        total = len(records)  # the whole result is on this page: no second query
    else:
        total = await normalized_read.count_latest(conn, flt)
    return DataPage(records, total)
