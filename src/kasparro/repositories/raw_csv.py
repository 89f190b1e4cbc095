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


_Row = tuple[int, int, int, str, str | None]
# COPY's text format escapes a backslash, tab, newline and carriage return. A payload is JSON,
# whose own escapes leave only the backslash to double.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_BACKSLASH, _ESCAPED, _NULL = "\\", "\\\\", "\\N"


def copy_text(rows: Sequence[_Row]) -> bytes:
    """Raw rows as COPY text, built by the caller where it costs the event loop nothing: a
    binary COPY of the tuples is encoded on the event loop as it streams."""
    return "".join(
        [
            f"{generation}\t{number}\t{run_id}\t{payload.replace(_BACKSLASH, _ESCAPED)}\t"
            f"{_NULL if error is None else error.translate(_ESCAPES)}\n"
            for generation, number, run_id, payload, error in rows
        ]
    ).encode()


async def copy_rows(driver: Driver, rows: Sequence[_Row], data: bytes | None = None) -> None:
    """Append raw rows with COPY: one round trip per batch; `data`: `copy_text(rows)`."""
    if data is None:
        await driver.copy_records_to_table("raw_csv_records", records=rows, columns=_COLUMNS)
        return
    await driver.copy_to_table(
        "raw_csv_records", source=memoryview(data), columns=_COLUMNS, format="text"
    )


async def iterate(driver: Driver, batch_size: int) -> AsyncIterator[list[Any]]:
    """Every stored row with its file's header and its run's start, oldest first."""
    last = (0, 0)
    while True:
        rows = await driver.fetch(_REPLAY_BATCH, *last, batch_size)
        if not rows:
            return
        yield rows
        last = (rows[-1]["file_generation"], rows[-1]["row_number"])
