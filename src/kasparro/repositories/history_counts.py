"""SQL counting what `history.observations` / `history.buckets` would page through for a list
of assets (an export's selection), so that its size is known before the first byte."""

from __future__ import annotations

from datetime import datetime

from kasparro.repositories import rollups
from kasparro.repositories.driver import Reads
from kasparro.repositories.history import CUT_OBSERVATIONS, INTERVALS, WHOLE_BUCKET

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
# The distinct bucket starts `history.buckets` gives: a coin's rollup bucket counts when that
# query takes it whole, or when the range cuts it but holds one of its observations.
_BUCKET_COUNT = f"""
SELECT count(*) FROM (
    SELECT DISTINCT a.n, p.bucket_start
    FROM unnest($1::text[]) WITH ORDINALITY a(asset_id, n)
    JOIN asset_mappings m ON m.asset_id = a.asset_id
    JOIN quote_rollups p ON p.source = m.source AND p.source_coin_id = m.source_coin_id
    WHERE ($4::text[] IS NULL OR m.source = ANY($4::text[]))
      AND p.interval = $2
      AND p.bucket_start >= coalesce(date_bin($3::interval, $5::timestamptz, {rollups.ORIGIN}),
                                     '-infinity')
      AND p.bucket_start <= coalesce($6::timestamptz, 'infinity')
      AND ({WHOLE_BUCKET} OR EXISTS (SELECT 1 FROM {CUT_OBSERVATIONS}))
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
