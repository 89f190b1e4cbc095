"""SQL counting what `history.observations` / `history.buckets` would page through for a list
of assets (an export's selection), so that its size is known before the first byte."""

from __future__ import annotations

from datetime import datetime

from kasparro.repositories import rollups
from kasparro.repositories.driver import Reads
from kasparro.repositories.history import INTERVALS

# `unnest ... WITH ORDINALITY`: an asset listed twice is exported (and counted) twice.
_RAW_COUNT = """
SELECT count(*)
FROM unnest($1::text[]) WITH ORDINALITY a(asset_id, n)
JOIN asset_mappings m ON m.asset_id = a.asset_id
JOIN quotes q ON q.source = m.source AND q.source_coin_id = m.source_coin_id
WHERE ($2::text[] IS NULL OR m.source = ANY($2::text[]))
  AND q.observed_at >= coalesce($3::timestamptz, '-infinity')
  AND q.observed_at <= coalesce($4::timestamptz, 'infinity')
"""
# The distinct bucket starts `history.buckets` gives: a coin's rollup bucket counts when it
# lies inside the range, or when the range cuts it but holds one of its observations (the
# same rule as that query's `inside`).
_BUCKET_COUNT = f"""
SELECT count(*) FROM (
    SELECT DISTINCT a.n, r.bucket_start
    FROM unnest($1::text[]) WITH ORDINALITY a(asset_id, n)
    JOIN asset_mappings m ON m.asset_id = a.asset_id
    JOIN quote_rollups r ON r.source = m.source AND r.source_coin_id = m.source_coin_id
    WHERE ($4::text[] IS NULL OR m.source = ANY($4::text[]))
      AND r.interval = $2
      AND r.bucket_start >= coalesce(date_bin($3::interval, $5::timestamptz, {rollups.ORIGIN}),
                                     '-infinity')
      AND r.bucket_start <= coalesce($6::timestamptz, 'infinity')
      AND ((r.first_observed_at >= coalesce($5::timestamptz, '-infinity')
            AND r.last_observed_at <= coalesce($6::timestamptz, 'infinity'))
           OR EXISTS (
               SELECT 1 FROM quotes q
               WHERE q.source = r.source AND q.source_coin_id = r.source_coin_id
                 AND q.observed_at >= greatest(r.bucket_start,
                                               coalesce($5::timestamptz, '-infinity'))
                 AND q.observed_at < r.bucket_start + $3::interval
                 AND q.observed_at <= coalesce($6::timestamptz, 'infinity')))
) buckets
"""  # noqa: S608 - built from constants


async def count_observations(
    driver: Reads,
    asset_ids: list[str],
    sources: list[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> int:
    count: int = await driver.fetchval(_RAW_COUNT, asset_ids, sources, start, end)
    return count


async def count_buckets(
    driver: Reads,
    asset_ids: list[str],
    interval: str,
    sources: list[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> int:
    count: int = await driver.fetchval(
        _BUCKET_COUNT, asset_ids, interval, INTERVALS[interval], sources, start, end
    )
    return count
