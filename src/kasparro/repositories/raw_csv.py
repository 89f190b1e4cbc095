"""SQL for `raw_csv_records`: every CSV row, loaded or rejected, by its row number."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
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


_REPLAY_BATCH = """
SELECT r.id, r.row_number, r.payload::text AS payload, r.error, e.started_at
FROM raw_csv_records r JOIN etl_runs e ON e.id = r.run_id
WHERE r.id > $1
ORDER BY r.id
LIMIT $2
"""


async def iterate(driver: Any, batch_size: int) -> AsyncIterator[list[Any]]:
    """Every stored row with the start time of the run that read it, oldest first."""
    last_id = 0
    while True:
        rows = await driver.fetch(_REPLAY_BATCH, last_id, batch_size)
        if not rows:
            return
        yield rows
        last_id = rows[-1]["id"]
