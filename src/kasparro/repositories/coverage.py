"""SQL for the coverage map: an asset's backfill windows merged into runs, the islands of its
live snapshots, and the observations in given ranges, all aggregated in PostgreSQL.

A quote inside a `done` window of its coin belongs to that window; every other quote is a
live snapshot (a run's, or a CSV load's). Nothing here reads a series row by row into Python:
runs and the edges of live islands come out of window functions, a row or two per run or island.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from kasparro.domain.coverage import LiveIsland, WindowRun
from kasparro.repositories.driver import Reads

Coin = tuple[str, str]  # (source, source_coin_id)

_COINS = """
SELECT source, source_coin_id FROM asset_mappings
WHERE asset_id = $1 AND ($2::text IS NULL OR source = $2)
ORDER BY source, source_coin_id
"""
# Windows of one coin, interval and outcome that touch or overlap become one run: a new run
# starts where a window begins after every earlier window of its kind has ended.
_RUNS = """
WITH w AS (
    SELECT w.source, w.source_coin_id, w.interval, w.window_start, w.window_end,
           CASE WHEN w.state = 'running' THEN 'pending' ELSE w.state END AS state,
           w.reason, w.last_error
    FROM asset_mappings m
    JOIN backfill_windows w ON w.source = m.source AND w.source_coin_id = m.source_coin_id
    WHERE m.asset_id = $1 AND ($2::text IS NULL OR m.source = $2)
      AND w.window_end > coalesce($3::timestamptz, '-infinity')
      AND w.window_start < coalesce($4::timestamptz, 'infinity')
), marked AS (
    SELECT *, CASE WHEN window_start <= max(window_end) OVER (
                  PARTITION BY source, source_coin_id, interval, state, reason, last_error
                  ORDER BY window_start, window_end
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
              THEN 0 ELSE 1 END AS starts_run
    FROM w
), numbered AS (
    SELECT *, sum(starts_run) OVER (
                  PARTITION BY source, source_coin_id, interval, state, reason, last_error
                  ORDER BY window_start, window_end ROWS UNBOUNDED PRECEDING) AS run
    FROM marked
)
SELECT source, source_coin_id, interval, state, reason, last_error,
       min(window_start) AS start, max(window_end) AS "end"
FROM numbered
GROUP BY source, source_coin_id, interval, state, reason, last_error, run
ORDER BY source, source_coin_id, start, "end"
"""
# Live snapshots (outside every done window of their coin) at the edges of their islands: a
# snapshot more than $3 after the one before it starts an island, one more than $3 before the
# next ends one. One pass per coin down the primary key; a row per edge, not per snapshot.
_EDGES = """
WITH m AS (
    SELECT source, source_coin_id FROM asset_mappings
    WHERE asset_id = $1 AND ($2::text IS NULL OR source = $2)
), done AS (
    SELECT w.source, w.source_coin_id, range_agg(tstzrange(w.window_start, w.window_end)) AS spans
    FROM m JOIN backfill_windows w USING (source, source_coin_id)
    WHERE w.state = 'done'
    GROUP BY w.source, w.source_coin_id
)
SELECT m.source, m.source_coin_id, e.observed_at,
       e.previous IS NULL OR e.observed_at - e.previous > $3::interval AS starts,
       e.next IS NULL OR e.next - e.observed_at > $3::interval AS ends
FROM m
LEFT JOIN done d USING (source, source_coin_id)
CROSS JOIN LATERAL (
    SELECT observed_at,
           lag(observed_at) OVER (ORDER BY observed_at) AS previous,
           lead(observed_at) OVER (ORDER BY observed_at) AS next
    FROM quotes q
    WHERE q.source = m.source AND q.source_coin_id = m.source_coin_id
      AND q.observed_at >= coalesce($4::timestamptz, '-infinity')
      AND q.observed_at <= coalesce($5::timestamptz, 'infinity')
      AND (d.spans IS NULL OR NOT d.spans @> q.observed_at)
) e
WHERE e.previous IS NULL OR e.observed_at - e.previous > $3::interval
   OR e.next IS NULL OR e.next - e.observed_at > $3::interval
ORDER BY m.source, m.source_coin_id, e.observed_at
"""
# One index range count per range (the primary key leads with source, coin, observed_at).
_COUNTS = """
SELECT r.n, (SELECT count(*) FROM quotes q
             WHERE q.source = r.source AND q.source_coin_id = r.coin
               AND q.observed_at >= r.start AND q.observed_at < r."end") AS observations
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
     WITH ORDINALITY AS r(source, coin, start, "end", n)
ORDER BY r.n
"""


async def coins_of(driver: Reads, asset_id: str, source: str | None) -> list[Coin]:
    """The asset's coins (one per source, or more for an ambiguous one), by source and id."""
    rows = await driver.fetch(_COINS, asset_id, source)
    return [(r["source"], r["source_coin_id"]) for r in rows]


async def window_runs(
    driver: Reads,
    asset_id: str,
    source: str | None,
    lower: datetime | None = None,
    upper: datetime | None = None,
) -> dict[Coin, list[WindowRun]]:
    """Each coin's backfill windows, touching ones of one interval and outcome merged."""
    out: dict[Coin, list[WindowRun]] = defaultdict(list)
    for r in await driver.fetch(_RUNS, asset_id, source, lower, upper):
        out[(r["source"], r["source_coin_id"])].append(
            WindowRun(r["interval"], r["start"], r["end"], r["state"], r["reason"], r["last_error"])
        )
    return out


async def live_islands(
    driver: Reads,
    asset_id: str,
    source: str | None,
    max_step: timedelta,
    lower: datetime | None = None,
    upper: datetime | None = None,
) -> dict[Coin, list[LiveIsland]]:
    """Each coin's live snapshots grouped into islands no more than `max_step` apart."""
    out: dict[Coin, list[LiveIsland]] = defaultdict(list)
    first: datetime | None = None
    for r in await driver.fetch(_EDGES, asset_id, source, max_step, lower, upper):
        if r["starts"]:
            first = r["observed_at"]
        if r["ends"] and first is not None:
            out[(r["source"], r["source_coin_id"])].append(LiveIsland(first, r["observed_at"]))
            first = None
    return out


async def observations_in(
    driver: Reads, ranges: list[tuple[str, str, datetime, datetime]]
) -> list[int]:
    """How many quotes each (source, coin, [start, end)) holds, in the order given."""
    if not ranges:
        return []
    columns = [list(column) for column in zip(*ranges, strict=True)]
    return [int(r["observations"]) for r in await driver.fetch(_COUNTS, *columns)]
