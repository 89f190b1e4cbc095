"""SQL for `raw_csv_records`: every CSV row, loaded or rejected, by its row number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.models import RawCsvRecord

_COLUMNS = ("run_id", "file_path", "file_generation", "row_number", "payload", "error")


async def next_generation(conn: AsyncConnection) -> int:
    """The generation number for a file that starts over."""
    current = await conn.scalar(select(func.max(RawCsvRecord.file_generation)))
    return int(current or 0) + 1


async def copy_rows(
    driver: Any,
    run_id: int,
    file_path: str,
    generation: int,
    rows: Sequence[tuple[int, dict[str, str], str | None]],
) -> None:
    """Append (row number, cells, error) rows with COPY: one round trip per batch."""
    records = [
        (run_id, file_path, generation, number, orjson.dumps(cells).decode(), error)
        for number, cells, error in rows
    ]
    await driver.copy_records_to_table("raw_csv_records", records=records, columns=_COLUMNS)
