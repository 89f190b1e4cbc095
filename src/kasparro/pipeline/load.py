"""The one load step every job shares: raw records, history, latest quotes, asset mappings and
the checkpoint, written in the caller's transaction.

A write that PostgreSQL refuses for a data reason (a value past a column's range, text that is
no number, a check constraint) is split in halves and retried in savepoints until the offending
quotes are isolated; they come back as rejections and the rest of the batch loads, so no data
bug can hold a checkpoint in place (a second line behind the domain's own checks).

Observations of months retention dropped are left out of the history and its rollups (and
counted as skipped): see `outside_pruned`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from kasparro.domain.quote import Quote, keep_newest
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.partitioning import ensure_for, months_of
from kasparro.pipeline.stream_publish import publish_batch
from kasparro.repositories import backfill, checkpoints, drift, history, raw_api, raw_csv, runs
from kasparro.repositories import pruned_months as pruned_months_repo
from kasparro.repositories.driver import Tx
from kasparro.repositories.normalized_write import ChangedLatest, upsert_latest
from kasparro.repositories.partitions import Month
from kasparro.sources.csv_file import RawRow

# Refusals caused by the values themselves (SQLSTATE classes 22 and the value checks of 23),
# never by the connection or the schema: only these are worth isolating record by record.
DATA_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.DataError,
    asyncpg.CheckViolationError,
    asyncpg.NotNullViolationError,
)


@dataclass(frozen=True, slots=True)
class CsvRaw:
    """A CSV batch's rows as read, and the file generation they belong to."""

    generation: int
    file_path: str
    header: Sequence[str]
    rows: Sequence[RawRow]
    copy_text: bytes | None = None  # `rows` as `raw_csv.copy_text` gives them, if built already


@dataclass(frozen=True, slots=True)
class ApiRaw:
    """Upstream entries as (id, payload JSON, hash); only versions not stored yet are kept.

    `page` is the unit the source fetched (a list page, or a history window's number)."""

    page: int
    fetched_at: datetime
    entries: Sequence[tuple[str, str, str]]


@dataclass(frozen=True, slots=True)
class HistoryRaw:
    """A backfill window's history response as served (JSON text), and what it answered."""

    window_id: int
    coin_id: str
    endpoint: str
    params: str  # the query, as JSON
    payload: str
    digest: str
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class Checkpoint:
    last_id: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """What one transaction stores for `source`."""

    source: str
    run_id: int | None  # None only when seeding tests' data without a run
    quotes: Sequence[Quote]  # every observation, for the history
    latest: Sequence[Quote] | None = None  # the newest per record, when the caller has it
    raw: CsvRaw | ApiRaw | HistoryRaw | None = None
    checkpoint: Checkpoint | None = None
    drift: Sequence[dict[str, Any]] = ()
    fresh: bool = False  # observations not seen before: the history tries one plain COPY
    rejected_earlier: int = 0  # records of this batch the source or normalizer refused
    # how many of the finest rollup intervals (5m, 1h, 1d) hold at most one of the quotes in
    # each bucket, known by construction: the rollups then skip aggregating them
    one_per_bucket: int = 0
    # `quotes` as `history.copy_text` gives them, when the caller built that already (off the
    # event loop, as the CSV job does in its reader's thread)
    copy_text: bytes | None = None


@dataclass(slots=True)
class StoreResult:
    raw_stored: int = 0
    written: int = 0  # latest quotes inserted or changed
    changed: list[ChangedLatest] = field(default_factory=list)  # those quotes, for the stream
    history_added: int = 0
    # observations of months retention dropped: not stored, not folded into their rollups
    skipped_pruned: int = 0
    rejected: list[tuple[Quote, str]] = field(default_factory=list)
    accepted: Sequence[Quote] = ()  # what the database took, for the run's coins seen

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)


def rejection_key(quote: Quote) -> str:
    """How a quote the database refused is named in the run's rejection samples."""
    return f"{quote.source_coin_id} at {quote.created_at.isoformat()}"


def data_error_reason(exc: Exception) -> str:
    return f"refused by the database: {str(exc).splitlines()[0]}"


async def store_quotes(tx: Tx, catalog: AssetCatalog, batch: Batch) -> StoreResult:
    """Store `batch` in `tx`; quotes the database refuses are returned, not raised. Its
    live-stream events are added last, so the stream's lock is held only until the commit."""
    pruned = await pruned_months_repo.held(tx.driver)
    result = await _store_part(tx, batch, pruned, deferred=False)
    await _finish(tx, catalog, batch, result)
    return result


class PartsWriter:
    """One batch stored in `tx` part by part, as a file is read: each part's raw rows and
    history as it comes (`add`), then once for the batch (`finish`) the rollups of the parts,
    the newest quote per record, the catalog, the checkpoint and the stream events. Only the
    newest quote per record of the parts is held meanwhile, so a batch of any size takes the
    memory of one part, and per-coin work is done once a batch, not once a part.

    The latest rows are written after the history, by the values the history took: the
    columns have the same types, and no data error is left to isolate there."""

    def __init__(self, tx: Tx, source: str, run_id: int) -> None:
        self.tx = tx
        self.source = source
        self.run_id = run_id
        self.newest: dict[str, Quote] = {}
        self.quotes = 0  # of the parts, for the run's progress
        self.refused = 0  # quotes the database refused
        self.rejected_earlier = 0  # records the source or normalizer refused
        self._pruned: frozenset[Month] | None = None

    async def add(self, part: Batch) -> StoreResult:
        """Store one part's raw rows and history; returns what it took and refused."""
        if self._pruned is None:
            self._pruned = await pruned_months_repo.held(self.tx.driver)
        result = await _store_part(self.tx, part, self._pruned, deferred=True)
        for quote in result.accepted:
            keep_newest(self.newest, quote)
        self.quotes += len(part.quotes)
        self.refused += result.rejected_count
        self.rejected_earlier += part.rejected_earlier
        return result

    async def finish(
        self, catalog: AssetCatalog, checkpoint: Checkpoint, drift: Sequence[dict[str, Any]]
    ) -> StoreResult:
        """The batch's per-record and per-batch writes; returns the latest quotes changed."""
        await history.fold_deferred(self.tx.driver)
        result = StoreResult(accepted=list(self.newest.values()))
        if result.accepted:
            result.changed = await upsert_latest(self.tx.driver, result.accepted, self.run_id)
            result.written = len(result.changed)
        batch = Batch(
            source=self.source, run_id=self.run_id, quotes=(), checkpoint=checkpoint,
            drift=drift, rejected_earlier=self.rejected_earlier + self.refused,
        )  # fmt: skip
        await _finish(self.tx, catalog, batch, result, processed=self.quotes - self.refused)
        return result


async def _store_part(
    tx: Tx, batch: Batch, pruned: frozenset[Month], *, deferred: bool
) -> StoreResult:
    """Raw rows and history (with the latest rows unless `deferred`, which also leaves the
    rollups of a plain COPY to `history.fold_deferred`)."""
    # the months' partitions, before anything is written
    await ensure_for(tx, outside_pruned(batch.quotes, pruned))
    result = StoreResult(raw_stored=await _store_raw(tx, batch))
    refused = await _write_isolating(
        tx, batch.quotes, batch.latest, batch, result, pruned, deferred
    )
    result.accepted = accepted(batch, refused)
    return result


async def _finish(
    tx: Tx, catalog: AssetCatalog, batch: Batch, result: StoreResult, processed: int | None = None
) -> None:
    """The catalog, drift findings, checkpoint, run progress and stream events of `batch`."""
    consensus = await catalog.attach(tx.driver, result.accepted)
    if batch.drift and batch.run_id is not None:
        await drift.add(tx.driver, batch.run_id, batch.source, list(batch.drift))
    if batch.checkpoint is not None and batch.run_id is not None:
        await checkpoints.save(
            tx.conn, batch.source, last_id=batch.checkpoint.last_id,
            state=batch.checkpoint.state, run_id=batch.run_id,
        )  # fmt: skip
    if batch.run_id is not None:  # commits with the data: a killed run's row shows it
        if processed is None:
            processed = len(batch.quotes) - result.rejected_count
        await runs.add_progress(
            tx.conn, batch.run_id, processed=processed,
            failed=result.rejected_count + batch.rejected_earlier,
        )  # fmt: skip
    await publish_batch(tx.driver, result.changed, consensus)


async def _store_raw(tx: Tx, batch: Batch) -> int:
    raw, run_id = batch.raw, batch.run_id
    if isinstance(raw, HistoryRaw):  # a backfill's: it belongs to its window, not to a run
        await backfill.append_raw(
            tx.driver, window_id=raw.window_id, source=batch.source, coin_id=raw.coin_id,
            endpoint=raw.endpoint, params=raw.params, payload=raw.payload, digest=raw.digest,
            fetched_at=raw.fetched_at,
        )  # fmt: skip
        return 1
    if raw is None or run_id is None:
        return 0
    if isinstance(raw, CsvRaw):
        await raw_csv.register_file(tx.driver, raw.generation, raw.file_path, raw.header, run_id)
        await raw_csv.copy_rows(tx.driver, raw.rows, raw.copy_text)
        return len(raw.rows)
    known = await raw_api.latest_hashes(tx.driver, batch.source, [e[0] for e in raw.entries])
    changed = [e for e in raw.entries if known.get(e[0]) != e[2]]
    await raw_api.append(
        tx.driver, run_id=run_id, source=batch.source, page=raw.page,
        fetched_at=raw.fetched_at, entries=changed,
    )  # fmt: skip
    return len(changed)


async def _write_isolating(
    tx: Tx,
    quotes: Sequence[Quote],
    latest: Sequence[Quote] | None,
    batch: Batch,
    result: StoreResult,
    pruned: frozenset[Month],
    deferred: bool = False,
) -> set[int]:
    """Write latest (unless `deferred`) and history in a savepoint; on a data error, bisect.
    Returns the ids (`id()`) of the quotes refused."""
    if not quotes:
        return set()
    kept = outside_pruned(quotes, pruned)
    try:
        async with tx.driver.transaction():  # a savepoint in the caller's transaction
            newest = latest if latest is not None else quotes
            changed = [] if deferred else await upsert_latest(tx.driver, newest, batch.run_id)
            added = await history.add(
                tx.driver, kept, batch.run_id or 0, expect_new=batch.fresh,
                one_per_bucket=batch.one_per_bucket, defer_fold=deferred,
                data=batch.copy_text if kept is batch.quotes else None,
            )  # fmt: skip
    except DATA_ERRORS as exc:
        if len(quotes) == 1:
            result.rejected.append((quotes[0], data_error_reason(exc)))
            return {id(quotes[0])}
        middle = len(quotes) // 2
        halves = [quotes[:middle], quotes[middle:]]
        refused = [
            await _write_isolating(tx, half, None, batch, result, pruned, deferred)
            for half in halves
        ]
        return refused[0] | refused[1]
    result.written += len(changed)
    result.changed += changed
    result.history_added += added
    result.skipped_pruned += len(quotes) - len(kept)
    return set()


def outside_pruned(quotes: Sequence[Quote], pruned: frozenset[Month]) -> Sequence[Quote]:
    """The quotes of months retention has not dropped: a pruned month's rollups cannot tell
    an observation they already count from a new one, so it is left out of the history."""
    if not pruned:
        return quotes
    months = months_of(quotes)
    return [q for q in quotes if months[q.created_at] not in pruned]


def accepted(batch: Batch, refused: set[int]) -> Sequence[Quote]:
    """The batch's quotes the database took (the newest per record when nothing was refused)."""
    if not refused:
        return batch.latest if batch.latest is not None else batch.quotes
    return [q for q in batch.quotes if id(q) not in refused]
