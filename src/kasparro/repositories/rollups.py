"""SQL for `quote_rollups`: OHLC buckets per source coin for 5m, 1h and 1d, aligned on UTC.

Kept set-based: a batch's new observations are aggregated into 5-minute partial buckets, those
into hourly ones and those into daily ones, and each level is merged into the stored buckets by
one `INSERT ... ON CONFLICT DO UPDATE` that compares first and last observation instants, so
buckets come out the same whatever order observations are loaded in. Two shortcuts, both exact:
observations known to be one a bucket skip the aggregation, and (`plain_inserts`) the buckets
not stored yet are inserted plainly, only the stored ones going through the merge.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kasparro.repositories import pruned_months
from kasparro.repositories.driver import Driver
from kasparro.repositories.pruned_months import in_pruned_month
from kasparro.repositories.spans import stored_in_span

ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"  # date_bin on an absolute origin: UTC-aligned
WIDTHS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
_SQL_WIDTHS = {"5m": "5 minutes", "1h": "1 hour", "1d": "1 day"}

# Every ordered aggregate sorts the same way (observed_at ascending, the last element taken by
# count), so PostgreSQL sorts each group's input once.
_FROM_OBSERVATIONS = """
SELECT source, source_coin_id,
       date_bin(INTERVAL '{width}', observed_at, {origin}) AS bucket_start,
       (array_agg(price_usd ORDER BY observed_at))[1] AS open,
       max(price_usd) AS high,
       min(price_usd) AS low,
       (array_agg(price_usd ORDER BY observed_at))[count(*)] AS close,
       (array_agg(market_cap_usd ORDER BY observed_at))[count(*)] AS market_cap_usd,
       (array_agg(volume_24h_usd ORDER BY observed_at))[count(*)] AS volume_24h_usd,
       count(*)::int AS count,
       min(observed_at) AS first_observed_at,
       max(observed_at) AS last_observed_at
FROM {rows}
GROUP BY source, source_coin_id, 3
"""
# Coarser partial buckets from finer ones of the same coin (whose first and last instants differ).
_FROM_BUCKETS = """
SELECT source, source_coin_id,
       date_bin(INTERVAL '{width}', bucket_start, {origin}) AS bucket_start,
       (array_agg(open ORDER BY first_observed_at))[1] AS open,
       max(high) AS high,
       min(low) AS low,
       (array_agg(close ORDER BY first_observed_at))[count(*)] AS close,
       (array_agg(market_cap_usd ORDER BY first_observed_at))[count(*)] AS market_cap_usd,
       (array_agg(volume_24h_usd ORDER BY first_observed_at))[count(*)] AS volume_24h_usd,
       sum(count)::int AS count,
       min(first_observed_at) AS first_observed_at,
       max(last_observed_at) AS last_observed_at
FROM {rows}
GROUP BY source, source_coin_id, 3
"""
_COLUMNS = (
    "source, source_coin_id, interval, bucket_start, open, high, low, close, market_cap_usd,"
    " volume_24h_usd, count, first_observed_at, last_observed_at"
)
_SELECTED = (
    "source, source_coin_id, '{interval}', bucket_start, open, high, low, close, market_cap_usd,"
    " volume_24h_usd, count, first_observed_at, last_observed_at"
)
# Merge a batch's partial bucket into the stored one; `r` is the stored row, `excluded` the new.
_MERGE = f"""
INSERT INTO quote_rollups AS r ({_COLUMNS})
SELECT {_SELECTED} FROM {{rows}}
ON CONFLICT (source, source_coin_id, interval, bucket_start) DO UPDATE SET
    open = CASE WHEN excluded.first_observed_at < r.first_observed_at
                THEN excluded.open ELSE r.open END,
    high = greatest(r.high, excluded.high),
    low = least(r.low, excluded.low),
    close = CASE WHEN excluded.last_observed_at > r.last_observed_at
                 THEN excluded.close ELSE r.close END,
    market_cap_usd = CASE WHEN excluded.last_observed_at > r.last_observed_at
                          THEN excluded.market_cap_usd ELSE r.market_cap_usd END,
    volume_24h_usd = CASE WHEN excluded.last_observed_at > r.last_observed_at
                          THEN excluded.volume_24h_usd ELSE r.volume_24h_usd END,
    count = r.count + excluded.count,
    first_observed_at = least(r.first_observed_at, excluded.first_observed_at),
    last_observed_at = greatest(r.last_observed_at, excluded.last_observed_at)
"""


def _level(template: str, interval: str, rows: str) -> str:
    return template.format(width=_SQL_WIDTHS[interval], origin=ORIGIN, rows=rows)


# The same buckets where the observations are known to be one a bucket (a backfill window thinned
# to one point a step): each observation is its bucket, with no sort and no aggregation.
_FROM_ONE_OBSERVATION = """
SELECT source, source_coin_id,
       date_bin(INTERVAL '{width}', observed_at, {origin}) AS bucket_start,
       price_usd AS open, price_usd AS high, price_usd AS low, price_usd AS close,
       market_cap_usd, volume_24h_usd, 1 AS count,
       observed_at AS first_observed_at, observed_at AS last_observed_at
FROM {rows}
"""


# With a level's stored buckets (`spans.stored_in_span`), the absent ones are inserted plainly:
# ON CONFLICT's own check costs an index search per bucket, about a third of the level's insert.
_INSERT_ABSENT = f"""
INSERT INTO quote_rollups ({_COLUMNS})
SELECT {_SELECTED} FROM {{rows}} b
WHERE NOT EXISTS (SELECT FROM {{stored}} s WHERE s.source = b.source
                  AND s.source_coin_id = b.source_coin_id AND s.bucket_start = b.bucket_start)
"""
_PRESENT = "(SELECT b.* FROM {rows} b JOIN {stored} USING (source, source_coin_id, bucket_start))"


def merge_statement(
    new_rows: str, one_per_bucket: int = 0, *, plain_inserts: bool = False, before: str = ""
) -> str:
    """One statement folding the observations of CTE body `new_rows` (columns source,
    source_coin_id, observed_at, price_usd, market_cap_usd, volume_24h_usd; a data-modifying
    `INSERT ... RETURNING` may be it) into every interval; it returns how many rows `new_rows`
    yielded.

    The `one_per_bucket` finest intervals take each observation as its own bucket: a caller
    that says so wrongly gets an error (a bucket merged twice in one statement), never a wrong
    candle. With `plain_inserts`, buckets absent when the statement starts are inserted without
    ON CONFLICT: one that a concurrent writer adds meanwhile fails the statement with a unique
    violation, which the caller must be ready to retry. `before`: CTEs `new_rows` reads."""
    parts, finer = [*([before] if before else []), f"new AS ({new_rows})"], "new"
    for level, interval in enumerate(WIDTHS):
        if level < one_per_bucket:
            body = _level(_FROM_ONE_OBSERVATION, interval, "new")
        else:
            template = _FROM_OBSERVATIONS if finer == "new" else _FROM_BUCKETS
            body = _level(template, interval, finer)
        finer = f"b{interval}"
        parts.append(f"{finer} AS ({body})")
        parts += _merges(interval, finer, plain_inserts)
    return f"WITH {', '.join(parts)}\nSELECT count(*) FROM new"


def _merges(interval: str, rows: str, plain_inserts: bool) -> list[str]:
    """The CTEs merging level `rows` into the stored buckets of `interval`."""
    if not plain_inserts:
        return [f"m{interval} AS ({_MERGE.format(interval=interval, rows=rows)})"]
    stored = f"s{interval}"
    present = _PRESENT.format(rows=rows, stored=stored)
    of_interval = f" AND x.interval = '{interval}'"
    return [
        f"{stored} AS MATERIALIZED "
        f"({stored_in_span(rows, 'quote_rollups', 'bucket_start', of_interval)})",
        f"a{interval} AS ({_INSERT_ABSENT.format(interval=interval, rows=rows, stored=stored)})",
        f"m{interval} AS ({_MERGE.format(interval=interval, rows=f'{present} AS p')})",
    ]


def _rebuild_statement(where: str) -> str:
    """Every interval's buckets recomputed from `quotes` (rows matching `where`)."""
    rows = (
        "(SELECT source, source_coin_id, observed_at, price_usd, market_cap_usd, volume_24h_usd"
        f" FROM quotes q WHERE {where}) AS q"
    )
    levels = [
        f"INSERT INTO quote_rollups ({_COLUMNS}) SELECT {_SELECTED.format(interval=i)} FROM"
        f" ({_level(_FROM_OBSERVATIONS, i, rows)}) AS b"
        for i in WIDTHS
    ]
    return ";\n".join(levels)


_LOCK = "LOCK TABLE quote_rollups IN SHARE ROW EXCLUSIVE MODE"
_COINS_OF_ASSETS = """
SELECT source, source_coin_id FROM asset_mappings WHERE asset_id = ANY($1::text[])
"""
_IN_COINS = "(q.source, q.source_coin_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
# Buckets of months retention dropped have no observations left to be rebuilt from: they stay
# as they are, and observations of those months (none, unless written around the writers) are
# left out, as the writers leave them out.
_KEPT_BUCKETS = f"NOT {in_pruned_month('q.bucket_start')}"
_KEPT_QUOTES = f"NOT {in_pruned_month('q.observed_at')}"


async def rebuild(driver: Driver, asset_ids: list[str] | None) -> tuple[int, int, int]:
    """Recompute the buckets of these assets' coins (every coin when None) from `quotes`, in the
    caller's transaction, keeping those of pruned months; returns (coins, buckets,
    observations).

    Locks out writers of the rollups meanwhile (reads go on): a batch that wrote its quotes but
    not yet its buckets waits, then adds only its own observations on top."""
    await driver.execute(_LOCK)
    # a month dropped between the DELETE and the INSERTs below would lose its buckets
    await pruned_months.hold(driver)
    if asset_ids is None:
        await driver.execute(f"DELETE FROM quote_rollups q WHERE {_KEPT_BUCKETS}")
        for statement in _rebuild_statement(_KEPT_QUOTES).split(";\n"):
            await driver.execute(statement)
        return await _totals(driver, "true", ())
    coins = await driver.fetch(_COINS_OF_ASSETS, asset_ids)
    args = ([c["source"] for c in coins], [c["source_coin_id"] for c in coins])
    await driver.execute(
        f"DELETE FROM quote_rollups q WHERE {_IN_COINS} AND {_KEPT_BUCKETS}", *args
    )
    for statement in _rebuild_statement(f"{_IN_COINS} AND {_KEPT_QUOTES}").split(";\n"):
        await driver.execute(statement, *args)
    return await _totals(driver, _IN_COINS, args)


async def _totals(driver: Driver, where: str, args: tuple[Any, ...]) -> tuple[int, int, int]:
    row = await driver.fetchrow(
        f"SELECT count(DISTINCT (q.source, q.source_coin_id)) AS coins, count(*) AS buckets,"
        f" coalesce(sum(q.count) FILTER (WHERE q.interval = '1d'), 0) AS observations"
        f" FROM quote_rollups q WHERE {where}",
        *args,
    )
    return int(row["coins"]), int(row["buckets"]), int(row["observations"])
