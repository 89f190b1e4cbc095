"""SQL for `raw_api_records`: upstream entries exactly as served, each distinct version once.

These are the live list entries; a backfill window's history responses (`window_id` set) are
read and written in `repositories.backfill`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from kasparro.repositories.driver import Driver

_LATEST_HASHES = """
SELECT DISTINCT ON (upstream_id) upstream_id, payload_hash
FROM raw_api_records
WHERE source = $1 AND upstream_id = ANY($2::text[]) AND window_id IS NULL
ORDER BY upstream_id, id DESC
"""
_COLUMNS = ("run_id", "source", "upstream_id", "payload", "payload_hash", "page", "fetched_at")
_REPLAY_BATCH = """
SELECT id, upstream_id, payload::text AS payload, fetched_at
FROM raw_api_records
WHERE source = $1 AND id > $2 AND window_id IS NULL
ORDER BY id
LIMIT $3
"""


async def latest_hashes(driver: Driver, source: str, upstream_ids: Sequence[str]) -> dict[str, str]:
    """The hash of the newest stored entry of each coin."""
    rows = await driver.fetch(_LATEST_HASHES, source, list(upstream_ids))
    return {row["upstream_id"]: row["payload_hash"] for row in rows}


async def append(
    driver: Driver,
    *,
    run_id: int,
    source: str,
    page: int,
    fetched_at: datetime,
    entries: Sequence[tuple[str, str, str]],
) -> None:
    """Store (upstream id, payload JSON text, hash) rows with COPY."""
    records = [
        (run_id, source, upstream_id, payload, digest, page, fetched_at)
        for upstream_id, payload, digest in entries
    ]
    await driver.copy_records_to_table("raw_api_records", records=records, columns=_COLUMNS)


async def iterate(driver: Driver, source: str, batch_size: int) -> AsyncIterator[list[Any]]:
    """Every stored entry of `source`, oldest first, in batches (keyset paging on id)."""
    last_id = 0
    while True:
        rows = await driver.fetch(_REPLAY_BATCH, source, last_id, batch_size)
        if not rows:
            return
        yield rows
        last_id = rows[-1]["id"]
