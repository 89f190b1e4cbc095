"""SQL for the coverage map: an asset's backfill windows merged into runs, the islands of its
live snapshots, the months retention dropped where its rollups remain, and the observations
in given ranges, all aggregated in PostgreSQL.

A quote inside a `done` window of its coin belongs to that window; every other quote is a
live snapshot (a run's, or a CSV load's). In a pruned month the first and last observation
instants of the coin's finest remaining buckets stand in for its snapshots. Nothing here reads
a series row by row into Python: runs and the edges of live islands come out of window
functions, a row or two per run or island.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from kasparro.domain.coverage import LiveIsland, RollupMonth, WindowRun
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
# `{coins}` lists the coins, `{instants}` a coin `m`'s instants, filtered by `{outside}`.
_EDGES_OF = """
WITH m AS ({coins}), done AS (
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
    FROM ({instants}) i
    WHERE i.observed_at >= coalesce($4::timestamptz, '-infinity')
      AND i.observed_at <= coalesce($5::timestamptz, 'infinity')
      AND (d.spans IS NULL OR NOT d.spans @> i.observed_at)
) e
WHERE e.previous IS NULL OR e.observed_at - e.previous > $3::interval
   OR e.next IS NULL OR e.next - e.observed_at > $3::interval
ORDER BY m.source, m.source_coin_id, e.observed_at
"""
_EDGES = _EDGES_OF.format(
    coins="SELECT source, source_coin_id FROM asset_mappings"
    " WHERE asset_id = $1 AND ($2::text IS NULL OR source = $2)",
    instants="SELECT q.observed_at FROM quotes q"
    " WHERE q.source = m.source AND q.source_coin_id = m.source_coin_id"
    " AND q.observed_at >= coalesce($4::timestamptz, '-infinity')"
    " AND q.observed_at <= coalesce($5::timestamptz, 'infinity')",
)
# The pruned months of each coin of the asset in which its rollups remain, with the finest
# interval they hold there (one index probe per interval).
_MONTH_START = "p.month::timestamp AT TIME ZONE 'UTC'"
_MONTH_END = "(p.month + INTERVAL '1 month') AT TIME ZONE 'UTC'"
_ROLLUP_MONTHS = f"""
SELECT m.source, m.source_coin_id, {_MONTH_START} AS start, {_MONTH_END} AS "end", f.interval
FROM asset_mappings m
CROSS JOIN quote_pruned_months p
CROSS JOIN LATERAL (
    SELECT i.interval FROM unnest(ARRAY['5m', '1h', '1d']) WITH ORDINALITY AS i(interval, k)
    WHERE EXISTS (SELECT 1 FROM quote_rollups r
                  WHERE r.source = m.source AND r.source_coin_id = m.source_coin_id
                    AND r.interval = i.interval
                    AND r.bucket_start >= {_MONTH_START} AND r.bucket_start < {_MONTH_END})
    ORDER BY i.k
    LIMIT 1
) f
WHERE m.asset_id = $1 AND ($2::text IS NULL OR m.source = $2)
  AND {_MONTH_END} > coalesce($3::timestamptz, '-infinity')
  AND {_MONTH_START} < coalesce($4::timestamptz, 'infinity')
ORDER BY m.source, m.source_coin_id, start
"""  # noqa: S608 - built from constants
# The rollup months as arrays: $1 sources, $2 coins, $6 starts, $7 ends, $8 intervals.
_MONTHS_GIVEN = """SELECT * FROM unnest($1::text[], $2::text[], $6::timestamptz[],
    $7::timestamptz[], $8::text[]) AS s(source, source_coin_id, start, "end", interval)"""
# The first and last observation instants of the finest buckets of coin `m` in its months.
_ROLLUP_EDGES = _EDGES_OF.format(
    coins=f"SELECT DISTINCT source, source_coin_id FROM ({_MONTHS_GIVEN}) s",  # noqa: S608
    instants=f"""SELECT DISTINCT o.observed_at FROM ({_MONTHS_GIVEN}) s
    JOIN quote_rollups r ON r.source = s.source AND r.source_coin_id = s.source_coin_id
     AND r.interval = s.interval AND r.bucket_start >= s.start AND r.bucket_start < s."end"
    CROSS JOIN LATERAL (VALUES (r.first_observed_at), (r.last_observed_at)) AS o(observed_at)
    WHERE s.source = m.source AND s.source_coin_id = m.source_coin_id""",  # noqa: S608
)
# One index range count per range (the primary key leads with source, coin, observed_at).
_COUNTS = """
SELECT r.n, (SELECT count(*) FROM quotes q
             WHERE q.source = r.source AND q.source_coin_id = r.coin
               AND q.observed_at >= r.start AND q.observed_at < r."end") AS observations
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
     WITH ORDINALITY AS r(source, coin, start, "end", n)
ORDER BY r.n
"""


# The observations the buckets of one interval summarize, per range: those whose first
# observation lies in [start, end) (a bucket starts at most a day before it).
_ROLLUP_COUNTS = """
SELECT r.n, (SELECT coalesce(sum(b.count), 0) FROM quote_rollups b
             WHERE b.source = r.source AND b.source_coin_id = r.coin AND b.interval = r.interval
               AND b.bucket_start >= r.start - INTERVAL '1 day' AND b.bucket_start < r."end"
               AND b.first_observed_at >= r.start AND b.first_observed_at < r."end")
           AS observations
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
     WITH ORDINALITY AS r(source, coin, interval, start, "end", n)
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
    return _islands(await driver.fetch(_EDGES, asset_id, source, max_step, lower, upper))


async def rollup_months(
    driver: Reads,
    asset_id: str,
    source: str | None,
    lower: datetime | None = None,
    upper: datetime | None = None,
) -> dict[Coin, list[RollupMonth]]:
    """Each coin's pruned months in which rollups remain, oldest first."""
    out: dict[Coin, list[RollupMonth]] = defaultdict(list)
    for r in await driver.fetch(_ROLLUP_MONTHS, asset_id, source, lower, upper):
        out[(r["source"], r["source_coin_id"])].append(
            RollupMonth(r["start"], r["end"], r["interval"])
        )
    return out


async def rollup_islands(
    driver: Reads,
    months: dict[Coin, list[RollupMonth]],
    max_step: timedelta,
    lower: datetime | None = None,
    upper: datetime | None = None,
) -> dict[Coin, list[LiveIsland]]:
    """The islands the finest rollups of these pruned months show, as `live_islands` finds
    them in stored snapshots (outside done windows)."""
    given = [(coin, m) for coin, ms in months.items() for m in ms]
    if not given:
        return defaultdict(list)
    columns = (
        [c[0] for c, _ in given], [c[1] for c, _ in given], [m.start for _, m in given],
        [m.end for _, m in given], [m.interval for _, m in given],
    )  # fmt: skip
    sources, coins, *bounds = columns
    rows = await driver.fetch(_ROLLUP_EDGES, sources, coins, max_step, lower, upper, *bounds)
    return _islands(rows)


def _islands(edges: list[Any]) -> dict[Coin, list[LiveIsland]]:
    out: dict[Coin, list[LiveIsland]] = defaultdict(list)
    first: datetime | None = None
    for r in edges:
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


async def rollup_observations_in(
    driver: Reads, ranges: list[tuple[str, str, str, datetime, datetime]]
) -> list[int]:
    """How many observations each (source, coin, interval, [start, end)) of rollups
    summarizes, in the order given."""
    if not ranges:
        return []
    columns = [list(column) for column in zip(*ranges, strict=True)]
    return [int(r["observations"]) for r in await driver.fetch(_ROLLUP_COUNTS, *columns)]
