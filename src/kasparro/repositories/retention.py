"""SQL for pruning the raw records: rows older than a horizon, deleted in bounded batches."""

from __future__ import annotations

from datetime import datetime

from kasparro.repositories.driver import Driver

# Each table with the column that dates its rows.
RAW_TABLES = {"raw_api_records": "fetched_at", "raw_csv_records": "ingested_at"}
BATCH_ROWS = 10_000


async def count_older(driver: Driver, table: str, before: datetime) -> int:
    column = RAW_TABLES[table]
    count: int = await driver.fetchval(f"SELECT count(*) FROM {table} WHERE {column} < $1", before)
    return count


async def delete_older_batch(driver: Driver, table: str, before: datetime) -> int:
    """Delete up to BATCH_ROWS rows older than `before`; returns how many went."""
    column = RAW_TABLES[table]
    status: str = await driver.execute(
        f"WITH doomed AS (SELECT ctid FROM {table} WHERE {column} < $1 LIMIT {BATCH_ROWS})"
        f" DELETE FROM {table} t USING doomed d WHERE t.ctid = d.ctid",
        before,
    )
    return int(status.rsplit(" ", 1)[-1])
