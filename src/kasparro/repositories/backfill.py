"""SQL for the backfill: windows (planned, claimed, finished), the monthly call budget, the
coins a backfill asks for, and the raw history responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

from kasparro.domain.backfill import Window
from kasparro.repositories.driver import Driver, Reads

# Windows are claimed by (this namespace, a process's key): a claimer holds that advisory
# lock for its whole life, so a window left `running` by a killed process is known by its
# lock being free, and taken over.
CLAIM_LOCK_NAMESPACE = 0x6B62  # "kb"

_TOP_ASSETS = """
SELECT asset_id FROM asset_latest
ORDER BY market_cap_usd DESC NULLS LAST, asset_id
LIMIT $1
"""
_KNOWN_ASSETS = "SELECT asset_id FROM assets WHERE asset_id = ANY($1::text[])"
_COINS = """
SELECT DISTINCT ON (asset_id) asset_id, source_coin_id, ticker, name
FROM asset_mappings
WHERE source = $1 AND asset_id = ANY($2::text[]) AND NOT ambiguous
ORDER BY asset_id, source_coin_id
"""
_KEYS = """unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                  $6::bool[]) AS k(source, coin, iv, ws, we, beyond)"""
_PLAN = f"""
INSERT INTO backfill_windows AS w (source, source_coin_id, interval, window_start, window_end,
                                   state, reason)
SELECT k.source, k.coin, k.iv, k.ws, k.we,
       CASE WHEN k.beyond THEN 'gap' ELSE 'pending' END,
       CASE WHEN k.beyond THEN 'plan_limit' END
FROM {_KEYS}
ON CONFLICT (source, source_coin_id, interval, window_start, window_end) DO UPDATE
SET state = 'pending', reason = NULL, claimed_by = NULL, claimed_at = NULL, updated_at = now()
WHERE w.state = 'failed'
"""  # noqa: S608 - built from constants; a failed window is tried again by the next backfill that asks for it
_PLANNED_IDS = f"""
SELECT w.id FROM {_KEYS}
JOIN backfill_windows w ON (w.source, w.source_coin_id, w.interval, w.window_start,
                            w.window_end) = (k.source, k.coin, k.iv, k.ws, k.we)
ORDER BY w.id
"""  # noqa: S608 - built from constants
_CLAIM = f"""
WITH picked AS (
    SELECT id FROM backfill_windows
    WHERE id = ANY($1::bigint[]) AND source = $2
      AND (state = 'pending'
           OR (state = 'running' AND claimed_by IS DISTINCT FROM $3
               AND pg_try_advisory_xact_lock({CLAIM_LOCK_NAMESPACE},
                                             split_part(claimed_by, '/', 1)::int)))
    ORDER BY id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE backfill_windows w
SET state = 'running', attempts = w.attempts + 1, claimed_by = $3, claimed_at = now(),
    updated_at = now()
FROM picked WHERE w.id = picked.id
RETURNING w.id, w.source, w.source_coin_id, w.interval, w.window_start, w.window_end
"""  # noqa: S608 - built from constants
_FINISH = """
UPDATE backfill_windows
SET state = $3, reason = $4, last_error = coalesce($5, last_error), points = points + $6,
    requests = requests + $7, updated_at = now()
WHERE id = $1 AND claimed_by = $2 AND state = 'running'
"""
_RELEASE = """
UPDATE backfill_windows
SET state = 'pending', attempts = greatest(attempts - 1, 0), claimed_by = NULL,
    claimed_at = NULL, requests = requests + $3, updated_at = now()
WHERE id = $1 AND claimed_by = $2 AND state = 'running'
"""
_SUMMARY = """
SELECT source, state, reason, count(*) AS windows, sum(points) AS points,
       sum(requests) AS requests
FROM backfill_windows WHERE id = ANY($1::bigint[])
GROUP BY source, state, reason
"""
_STATS = """
SELECT source, state, count(*) AS windows, sum(points) AS points, sum(requests) AS requests
FROM backfill_windows GROUP BY source, state
"""
_SPEND = """
INSERT INTO api_call_budget AS b (source, month, calls) VALUES ($1, $2, 1)
ON CONFLICT (source, month) DO UPDATE SET calls = b.calls + 1, updated_at = now()
WHERE $3::bigint IS NULL OR b.calls < $3::bigint
RETURNING calls
"""
_CALLS = "SELECT source, calls FROM api_call_budget WHERE month = $1"
_RAW_COLUMNS = (
    "window_id", "source", "upstream_id", "payload", "payload_hash", "fetched_at", "endpoint",
    "params",
)  # fmt: skip
_HISTORY_BATCH = """
SELECT r.id, r.upstream_id, r.payload::text AS payload, r.fetched_at, w.interval,
       w.window_start, w.window_end, m.ticker, m.name
FROM raw_api_records r
JOIN backfill_windows w ON w.id = r.window_id
LEFT JOIN asset_mappings m ON m.source = r.source AND m.source_coin_id = r.upstream_id
WHERE r.source = $1 AND r.window_id IS NOT NULL AND r.id > $2
ORDER BY r.id
LIMIT $3
"""


async def top_assets(driver: Driver, count: int) -> list[str]:
    """The `count` assets of largest market cap."""
    return [row["asset_id"] for row in await driver.fetch(_TOP_ASSETS, count)]


async def known_assets(driver: Driver, asset_ids: Sequence[str]) -> set[str]:
    return {row["asset_id"] for row in await driver.fetch(_KNOWN_ASSETS, list(asset_ids))}


async def coins_of(driver: Reads, source: str, asset_ids: Sequence[str]) -> dict[str, Any]:
    """Per asset, its coin at `source` (id, ticker, name); an asset with none is absent."""
    rows = await driver.fetch(_COINS, source, list(asset_ids))
    return {row["asset_id"]: row for row in rows}


def _key_columns(windows: Sequence[Window]) -> list[list[Any]]:
    return [
        [w.source for w in windows], [w.source_coin_id for w in windows],
        [w.interval for w in windows], [w.start for w in windows], [w.end for w in windows],
        [w.plan_limit for w in windows],
    ]  # fmt: skip


async def plan(driver: Driver, windows: Sequence[Window]) -> list[int]:
    """Record the windows not recorded yet (a failed one becomes pending again); their ids."""
    if not windows:
        return []
    columns = _key_columns(windows)
    await driver.execute(_PLAN, *columns)
    return [row["id"] for row in await driver.fetch(_PLANNED_IDS, *columns)]


async def claim(driver: Driver, ids: Sequence[int], source: str, claimer: str) -> Any | None:
    """Take one pending window of `ids` (or one a dead claimer left running); None if none."""
    return await driver.fetchrow(_CLAIM, list(ids), source, claimer)


async def finish(
    driver: Driver,
    window_id: int,
    claimer: str,
    *,
    state: str,
    reason: str | None,
    points: int = 0,
    requests: int = 0,
    error: str | None = None,
) -> bool:
    """Record a claimed window's outcome; False when the claim was lost (nothing written)."""
    status: str = await driver.execute(
        _FINISH, window_id, claimer, state, reason, error, points, requests
    )
    return status.endswith(" 1")


async def release(driver: Driver, window_id: int, claimer: str, requests: int) -> None:
    """Give a claimed window back, pending, as if it had not been claimed."""
    await driver.execute(_RELEASE, window_id, claimer, requests)


async def summary(driver: Driver, ids: Sequence[int]) -> list[Any]:
    """Windows, points and requests of `ids` by source, state and reason."""
    return list(await driver.fetch(_SUMMARY, list(ids)))


async def stats(driver: Driver) -> list[Any]:
    """Every window by source and state, with their points and requests."""
    return list(await driver.fetch(_STATS))


async def spend_call(driver: Driver, source: str, month: date, budget: int | None) -> int | None:
    """Count one call of `source` this month; None (nothing counted) when `budget` is spent."""
    value: int | None = await driver.fetchval(_SPEND, source, month, budget)
    return value


async def calls_in(driver: Driver, month: date) -> dict[str, int]:
    return {row["source"]: row["calls"] for row in await driver.fetch(_CALLS, month)}


async def append_raw(
    driver: Driver,
    *,
    window_id: int,
    source: str,
    coin_id: str,
    endpoint: str,
    params: str,
    payload: str,
    digest: str,
    fetched_at: datetime,
) -> None:
    """Store one history response (JSON text) with the endpoint and query (JSON) it answered."""
    record = (window_id, source, coin_id, payload, digest, fetched_at, endpoint, params)
    await driver.copy_records_to_table("raw_api_records", records=[record], columns=_RAW_COLUMNS)


async def iterate_history(driver: Driver, source: str, batch_size: int) -> AsyncIterator[list[Any]]:
    """Every stored history response of `source` with its window and coin, oldest first."""
    last_id = 0
    while True:
        rows = await driver.fetch(_HISTORY_BATCH, source, last_id, batch_size)
        if not rows:
            return
        yield rows
        last_id = rows[-1]["id"]
