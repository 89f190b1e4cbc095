"""SQL for `raw_csv_files` and `raw_csv_records`: every CSV row, loaded or rejected, as read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.models import RawCsvFile
from kasparro.repositories.driver import Driver

# The order of the tuples the CSV reader builds (sources.csv_file.RawRow).
_COLUMNS = ("file_generation", "row_number", "run_id", "payload", "error")
_REGISTER_FILE = """
INSERT INTO raw_csv_files (file_generation, file_path, header, first_run_id)
VALUES ($1, $2, $3::jsonb, $4)
ON CONFLICT (file_generation) DO NOTHING
"""
_REPLAY_BATCH = """
SELECT r.file_generation, r.row_number, r.payload::text AS payload, r.error,
       f.header::text AS header, e.started_at
FROM raw_csv_records r
JOIN raw_csv_files f USING (file_generation)
JOIN etl_runs e ON e.id = r.run_id
WHERE (r.file_generation, r.row_number) > ($1, $2)
ORDER BY r.file_generation, r.row_number
LIMIT $3
"""


async def next_generation(conn: AsyncConnection) -> int:
    """The generation number for a file that starts over."""
    current = await conn.scalar(select(func.max(RawCsvFile.file_generation)))
    return int(current or 0) + 1


async def register_file(
    driver: Driver, generation: int, file_path: str, header: Sequence[str], run_id: int
) -> None:
    """Record a generation's file and header once (replay maps its rows with that header)."""
    await driver.execute(
        _REGISTER_FILE, generation, file_path, orjson.dumps(header).decode(), run_id
    )


async def copy_rows(driver: Driver, rows: Sequence[tuple[int, int, int, str, str | None]]) -> None:
    """Append raw rows with COPY: one round trip per batch."""
    await driver.copy_records_to_table("raw_csv_records", records=rows, columns=_COLUMNS)


async def iterate(driver: Driver, batch_size: int) -> AsyncIterator[list[Any]]:
    """Every stored row with its file's header and its run's start, oldest first."""
    last = (0, 0)
    while True:
        rows = await driver.fetch(_REPLAY_BATCH, *last, batch_size)
        if not rows:
            return
        yield rows
        last = (rows[-1]["file_generation"], rows[-1]["row_number"])
