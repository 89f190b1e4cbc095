"""SQL for `quotes`, the observation history: a bulk insert that adds only unseen observations,
and pages of raw observations or OHLC buckets per asset."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from kasparro.domain.queries import HistoryFilter, ObservationKey
from kasparro.domain.quote import Quote
from kasparro.repositories import rollups
from kasparro.repositories.driver import Driver, Reads
from kasparro.repositories.pruned_months import in_pruned_month
from kasparro.repositories.spans import stored_in_span

# COPY into a per-connection staging table, then one INSERT that skips what is stored:
# COPY alone cannot skip, and a plain INSERT of a 50,000-row batch costs several times more.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS quotes_stage (
    source text, source_coin_id text, observed_at timestamptz, ticker text, name text,
    price_usd text, market_cap_usd text, volume_24h_usd text, percent_change_24h text,
    run_id bigint
) ON COMMIT DELETE ROWS
"""
# One round trip before a batch's COPY: the staging table, emptied of an earlier batch of the
# same transaction (a DELETE: a TRUNCATE per batch cost ~1.7 ms, a backfill window's is small;
# the commit empties it anyway), and room for the rollups' sorts and staged rows in memory (a
# batch is 50,000 rows) until the commit.
_PREPARE_STAGE = f"""{_STAGE};
DELETE FROM quotes_stage;
SET LOCAL work_mem = '64MB'
"""
# A batch written in parts (`add(..., defer_fold=True)`) keeps its fresh rows here until
# `fold_deferred` folds them all at once: a coin's hourly and daily buckets are then merged once
# a batch, not once a part.
_PENDING = _STAGE.replace("quotes_stage", "quotes_pending")
_COLUMNS = (
    "source", "source_coin_id", "observed_at", "ticker", "name", "price_usd",
    "market_cap_usd", "volume_24h_usd", "percent_change_24h",
)  # fmt: skip
_INSERT_STAGED = """
INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,
                    market_cap_usd, volume_24h_usd, percent_change_24h, run_id)
SELECT source, source_coin_id, observed_at, ticker, name, price_usd::numeric,
       market_cap_usd::numeric, volume_24h_usd::numeric, percent_change_24h::numeric, $1
FROM quotes_stage s
{skip}
RETURNING source, source_coin_id, observed_at, price_usd, market_cap_usd, volume_24h_usd
"""
_INSERT = _INSERT_STAGED.format(skip="ON CONFLICT DO NOTHING")
# With the stored observations among the staged ones (`spans.stored_in_span`), the absent ones
# are inserted plainly: ON CONFLICT's own check costs an index search a row, and a backfill
# window overlapping stored days has thousands of rows.
_STORED = f"stored AS MATERIALIZED ({stored_in_span('quotes_stage', 'quotes', 'observed_at')})"
_INSERT_ABSENT = _INSERT_STAGED.format(
    skip="WHERE NOT EXISTS (SELECT FROM stored x WHERE x.source = s.source"
    " AND x.source_coin_id = s.source_coin_id AND x.observed_at = s.observed_at)"
)
# The rows of a COPY that went straight into `quotes`, as the rollups take them.
_STAGED = """
SELECT source, source_coin_id, observed_at, price_usd::numeric(38, 8) AS price_usd,
       market_cap_usd::numeric AS market_cap_usd, volume_24h_usd::numeric AS volume_24h_usd
FROM quotes_stage
"""
# Each by how many of the finest intervals the batch has one observation a bucket in. The first
# two insert plainly what they found absent: a concurrent writer's row makes that a unique
# violation, and the batch takes the next statement, down to the last, all ON CONFLICT.
_LEVELS = range(len(rollups.WIDTHS) + 1)
_FOLD_STAGED = [rollups.merge_statement(_STAGED, n, plain_inserts=True) for n in _LEVELS]
_PENDING_ROWS = _STAGED.replace("FROM quotes_stage", "FROM quotes_pending")
_FOLD_PENDING = [rollups.merge_statement(_PENDING_ROWS, n, plain_inserts=True) for n in _LEVELS]
_MERGE_PENDING = [rollups.merge_statement(_PENDING_ROWS, n) for n in _LEVELS]
_INSERT_ABSENT_AND_FOLD = [
    rollups.merge_statement(_INSERT_ABSENT, n, plain_inserts=True, before=_STORED) for n in _LEVELS
]
_INSERT_AND_FOLD = [rollups.merge_statement(_INSERT, n) for n in _LEVELS]


# COPY's text format: fields split by tabs, `\N` for NULL, and only a backslash, tab, newline or
# carriage return escaped. Numbers and instants never need escaping, and a batch repeats its
# coins' names and (in bulk files) its instants, so each distinct text is escaped or formatted
# once a batch: 1.7-1.8 us a row against 3.0-4.6 for `csv.writer` (a 90-day hourly page).
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_NULL = "\\N"  # a Decimal formats as its str(): the exact digits, inline (no call a value)


class _Escaped(dict[str | None, str]):
    def __missing__(self, text: str | None) -> str:
        escaped = self[text] = _NULL if text is None else text.translate(_ESCAPES)
        return escaped


class _Instants(dict[datetime, str]):
    def __missing__(self, moment: datetime) -> str:
        shown = self[moment] = moment.isoformat()
        return shown


def copy_text(quotes: Iterable[Quote], run_id: int) -> bytes:
    """The quotes as COPY text rows of `_COLUMNS` and `run_id`."""
    text, at, tail = _Escaped(), _Instants(), f"\t{run_id}\n"
    return "".join(
        [
            f"{text[q.source]}\t{text[q.source_coin_id]}\t{at[q.created_at]}\t{text[q.ticker]}"
            f"\t{text[q.name]}\t{q.price_usd!s}"
            f"\t{_NULL if q.market_cap_usd is None else q.market_cap_usd}"
            f"\t{_NULL if q.volume_24h_usd is None else q.volume_24h_usd}"
            f"\t{_NULL if q.percent_change_24h is None else q.percent_change_24h}{tail}"
            for q in quotes
        ]
    ).encode()


async def add(
    driver: Driver,
    quotes: Sequence[Quote],
    run_id: int,
    *,
    expect_new: bool = False,
    one_per_bucket: int = 0,
    defer_fold: bool = False,
    data: bytes | None = None,
) -> int:
    """Store each observation not stored yet (same source, coin and time) and fold the ones
    added into `quote_rollups`, in the caller's transaction; returns how many were added.

    `expect_new` (a bulk load of fresh rows) first tries a plain COPY into `quotes`, several
    times cheaper than checking every row; if any row was seen before, that COPY is undone
    (a savepoint) and the rows are staged, the stored ones found and the others inserted; only
    when a concurrent writer adds the same rows or buckets meanwhile does every row take ON
    CONFLICT's check. `one_per_bucket`: in how many of the finest rollup intervals the quotes
    are known to be one a bucket (`rollups.merge_statement`). `defer_fold`: the rows of a plain
    COPY are folded by `fold_deferred`, which the caller runs before its transaction commits.
    `data`: `copy_text(quotes, run_id)`, when the caller built it already.
    """
    if not quotes:
        return 0
    if data is None:
        data = copy_text(quotes, run_id)
    await driver.execute(_PREPARE_STAGE)
    if expect_new and defer_fold and await _copied_pending(driver, data):
        return len(quotes)
    if expect_new and not defer_fold and await _copied_fresh(driver, data, one_per_bucket):
        return len(quotes)
    await _copy(driver, "quotes_stage", data)
    try:
        async with driver.transaction():  # a savepoint in the batch's transaction
            added: int = await driver.fetchval(_INSERT_ABSENT_AND_FOLD[one_per_bucket], run_id)
        return added
    except asyncpg.UniqueViolationError:
        pass
    added = await driver.fetchval(_INSERT_AND_FOLD[one_per_bucket], run_id)
    return added


async def _copied_fresh(driver: Driver, data: bytes, one_per_bucket: int) -> bool:
    """COPY straight into `quotes` and fold; False (undone) if any row or bucket was there."""
    try:
        async with driver.transaction():  # a savepoint in the batch's transaction
            await _copy(driver, "quotes", data)  # first: a stored row fails it before staging
            await _copy(driver, "quotes_stage", data)
            await driver.fetchval(_FOLD_STAGED[one_per_bucket])
    except asyncpg.UniqueViolationError:
        return False
    return True


async def _copied_pending(driver: Driver, data: bytes) -> bool:
    """COPY straight into `quotes`, and into the rows `fold_deferred` folds; False (undone) if
    any row was there."""
    try:
        async with driver.transaction():  # a savepoint in the batch's transaction
            await _copy(driver, "quotes", data)
            await driver.execute(_PENDING)
            await _copy(driver, "quotes_pending", data)
    except asyncpg.UniqueViolationError:
        return False
    return True


async def fold_deferred(driver: Driver, one_per_bucket: int = 0) -> None:
    """Fold into `quote_rollups` the rows `add(..., defer_fold=True)` copied in this
    transaction; the buckets a concurrent writer added meanwhile take the merge."""
    await driver.execute(_PENDING)
    try:
        async with driver.transaction():  # a savepoint in the batch's transaction
            await driver.execute(f"{_FOLD_PENDING[one_per_bucket]}; DELETE FROM quotes_pending")
        return
    except asyncpg.UniqueViolationError:
        pass
    await driver.execute(f"{_MERGE_PENDING[one_per_bucket]}; DELETE FROM quotes_pending")


async def _copy(driver: Driver, table: str, data: bytes) -> None:
    # A buffer goes out in one write; a file object would be read 512 kB at a time in a worker
    # thread, each read waiting for the interpreter lock the CSV reader's thread holds.
    await driver.copy_to_table(
        table, source=memoryview(data), columns=(*_COLUMNS, "run_id"), format="text"
    )


# One index range scan per coin of the asset (the primary key leads with source and coin),
# each stopping at the page size: a page costs the same at any depth of the history.
_RAW = """
SELECT h.observed_at, h.source, h.source_coin_id, h.ticker, h.price_usd, h.market_cap_usd,
       h.volume_24h_usd, h.percent_change_24h
FROM asset_mappings m
CROSS JOIN LATERAL (
    SELECT q.*
    FROM quotes q
    WHERE q.source = m.source AND q.source_coin_id = m.source_coin_id
      AND q.observed_at >= coalesce($3::timestamptz, '-infinity')
      AND q.observed_at <= coalesce($4::timestamptz, 'infinity')
      AND q.observed_at >= coalesce($5::timestamptz, '-infinity')
      AND ($5::timestamptz IS NULL
           OR (q.observed_at, q.source, q.source_coin_id) > ($5::timestamptz, $6::text, $7::text))
    ORDER BY q.observed_at
    LIMIT $8::int
) h
WHERE m.asset_id = $1 AND ($2::text[] IS NULL OR m.source = ANY($2::text[]))
ORDER BY h.observed_at, h.source, h.source_coin_id
LIMIT $8
"""
# The reference candles, straight from every observation of the asset in range (ties at one
# instant ordered by source name, then coin): what `buckets` must equal, kept for the checks.
_RAW_BUCKETS = """
SELECT date_bin($2::interval, q.observed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS start,
       (array_agg(q.price_usd ORDER BY q.observed_at, q.source, q.source_coin_id))[1] AS open,
       max(q.price_usd) AS high,
       min(q.price_usd) AS low,
       (array_agg(q.price_usd ORDER BY q.observed_at, q.source, q.source_coin_id))[count(*)]
           AS close,
       (array_agg(q.market_cap_usd ORDER BY q.observed_at, q.source, q.source_coin_id))[count(*)]
           AS market_cap_usd,
       (array_agg(q.volume_24h_usd ORDER BY q.observed_at, q.source, q.source_coin_id))[count(*)]
           AS volume_24h_usd,
       count(*) AS count,
       max(q.observed_at) AS last_at
FROM asset_mappings m
JOIN quotes q ON q.source = m.source AND q.source_coin_id = m.source_coin_id
WHERE m.asset_id = $1 AND ($3::text[] IS NULL OR m.source = ANY($3::text[]))
  AND q.observed_at >= coalesce($4::timestamptz, '-infinity')
  AND q.observed_at <= coalesce($5::timestamptz, 'infinity')
GROUP BY 1
ORDER BY 1
LIMIT $6
"""
# Which stored buckets a candle page takes whole, as `_BUCKETS` and the export's count
# (`history_counts`) both decide it for bucket `p` ($3 the width, $5 and $6 the range): one
# that lies inside the range, or one of a month retention dropped whose observations overlap
# the range (they are gone, so the stored bucket is all there is where the range cuts it).
WHOLE_BUCKET = f"""((p.first_observed_at >= coalesce($5::timestamptz, '-infinity')
  AND p.last_observed_at <= coalesce($6::timestamptz, 'infinity'))
 OR (p.last_observed_at >= coalesce($5::timestamptz, '-infinity')
     AND p.first_observed_at <= coalesce($6::timestamptz, 'infinity')
     AND {in_pruned_month("p.bucket_start")}))"""
# Any other bucket the range cuts through is computed from these observations: the ones of
# bucket `p`'s coin inside both the bucket and the range.
CUT_OBSERVATIONS = """quotes q
WHERE q.source = p.source AND q.source_coin_id = p.source_coin_id
  AND q.observed_at >= greatest(p.bucket_start, coalesce($5::timestamptz, '-infinity'))
  AND q.observed_at < p.bucket_start + $3::interval
  AND q.observed_at <= coalesce($6::timestamptz, 'infinity')"""
# Candles from `quote_rollups`: each coin's buckets in range (one index range scan per coin,
# stopping at the page size), combined per bucket start: the open of the earliest first
# observation, the close of the latest last one (ties by source name, then coin), max high,
# min low, summed count. A bucket is taken whole or computed from its observations in range
# (WHOLE_BUCKET, CUT_OBSERVATIONS), so a candle is what the raw observations in range give
# wherever they are still stored.
_BUCKETS = f"""
WITH parts AS (
    SELECT r.*
    FROM asset_mappings m
    CROSS JOIN LATERAL (
        SELECT r.source, r.source_coin_id, r.bucket_start, r.open, r.high, r.low, r.close,
               r.market_cap_usd, r.volume_24h_usd, r.count, r.first_observed_at,
               r.last_observed_at
        FROM quote_rollups r
        WHERE r.source = m.source AND r.source_coin_id = m.source_coin_id AND r.interval = $2
          AND r.bucket_start >= coalesce(date_bin($3::interval, $5::timestamptz, {rollups.ORIGIN}),
                                         '-infinity')
          AND r.bucket_start <= coalesce($6::timestamptz, 'infinity')
        ORDER BY r.bucket_start
        LIMIT $7::int + 1  -- one more: a cut bucket outside the range may drop out
    ) r
    WHERE m.asset_id = $1 AND ($4::text[] IS NULL OR m.source = ANY($4::text[]))
), inside AS (
    SELECT * FROM parts p WHERE {WHOLE_BUCKET}
    UNION ALL
    SELECT e.* FROM parts p
    CROSS JOIN LATERAL (
        SELECT p.source, p.source_coin_id, p.bucket_start,
               (array_agg(q.price_usd ORDER BY q.observed_at))[1] AS open,
               max(q.price_usd) AS high, min(q.price_usd) AS low,
               (array_agg(q.price_usd ORDER BY q.observed_at))[count(*)] AS close,
               (array_agg(q.market_cap_usd ORDER BY q.observed_at))[count(*)] AS market_cap_usd,
               (array_agg(q.volume_24h_usd ORDER BY q.observed_at))[count(*)] AS volume_24h_usd,
               count(*)::int AS count, min(q.observed_at) AS first_observed_at,
               max(q.observed_at) AS last_observed_at
        FROM {CUT_OBSERVATIONS}
    ) e
    WHERE NOT {WHOLE_BUCKET} AND e.count > 0
)
SELECT bucket_start AS start,
       (array_agg(open ORDER BY first_observed_at, source, source_coin_id))[1] AS open,
       max(high) AS high,
       min(low) AS low,
       (array_agg(close ORDER BY last_observed_at, source, source_coin_id))[count(*)] AS close,
       (array_agg(market_cap_usd ORDER BY last_observed_at, source, source_coin_id))[count(*)]
           AS market_cap_usd,
       (array_agg(volume_24h_usd ORDER BY last_observed_at, source, source_coin_id))[count(*)]
           AS volume_24h_usd,
       sum(count) AS count,
       max(last_observed_at) AS last_at
FROM inside
GROUP BY bucket_start
ORDER BY bucket_start
LIMIT $7
"""
INTERVALS = rollups.WIDTHS


async def observations(
    driver: Reads, flt: HistoryFilter, limit: int, after: ObservationKey | None
) -> list[dict[str, Any]]:
    rows = await driver.fetch(
        _RAW, flt.asset_id, source_names(flt), flt.start, flt.end,
        after and after.observed_at, after and after.source, after and after.source_coin_id,
        limit,
    )  # fmt: skip
    return [dict(row) for row in rows]


async def buckets(
    driver: Reads, flt: HistoryFilter, interval: str, limit: int, from_start: datetime | None
) -> list[dict[str, Any]]:
    """OHLC candles of `interval` from the rollups, starting with the one at `from_start` (a
    cursor), each with its close's market cap and 24-hour volume."""
    rows = await driver.fetch(
        _BUCKETS, flt.asset_id, interval, INTERVALS[interval], source_names(flt),
        _later(flt.start, from_start), flt.end, limit,
    )  # fmt: skip
    return [dict(row) for row in rows]


# The observation a bucket page starting at $3 carries on with `fill=previous`: the last one
# before it in range, ordered as a bucket's close is (time, then source and coin, descending).
_CARRIED = """
SELECT h.observed_at, h.price_usd
FROM asset_mappings m
CROSS JOIN LATERAL (
    SELECT q.observed_at, q.price_usd, q.source, q.source_coin_id
    FROM quotes q
    WHERE q.source = m.source AND q.source_coin_id = m.source_coin_id
      AND q.observed_at < $3::timestamptz
      AND q.observed_at >= coalesce($4::timestamptz, '-infinity')
    ORDER BY q.observed_at DESC
    LIMIT 1
) h
WHERE m.asset_id = $1 AND ($2::text[] IS NULL OR m.source = ANY($2::text[]))
ORDER BY h.observed_at DESC, h.source DESC, h.source_coin_id DESC
LIMIT 1
"""


async def last_before(driver: Reads, flt: HistoryFilter, before: datetime) -> dict[str, Any] | None:
    """The asset's last observation before `before` (and at or after the filter's start)."""
    row = await driver.fetchrow(_CARRIED, flt.asset_id, source_names(flt), before, flt.start)
    return None if row is None else dict(row)


async def buckets_from_quotes(
    driver: Driver, flt: HistoryFilter, interval: str, limit: int
) -> list[dict[str, Any]]:
    """The same candles aggregated from every raw observation in range (the reference)."""
    rows = await driver.fetch(
        _RAW_BUCKETS,
        flt.asset_id,
        INTERVALS[interval],
        source_names(flt),
        flt.start,
        flt.end,
        limit,
    )
    return [dict(row) for row in rows]


def source_names(flt: HistoryFilter) -> list[str] | None:
    """The sources a filter keeps, as the `text[]` the queries take (None: every source)."""
    if flt.sources is not None:
        return list(flt.sources)
    return None if flt.source is None else [flt.source]


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)
