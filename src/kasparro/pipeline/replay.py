"""Replay: rebuild normalized quotes from the stored raw records alone, without refetching."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.exact_json import loads_exact
from kasparro.domain.normalize import InvalidValueError
from kasparro.domain.quote import Quote
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.load import Batch, rejection_key, store_quotes
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters
from kasparro.pipeline.runner import SourceJob
from kasparro.repositories import backfill, raw_api, raw_csv
from kasparro.repositories.driver import Tx, begin
from kasparro.sources import registry
from kasparro.sources.api_source import ApiSourceSpec, to_quote
from kasparro.sources.csv_columns import Columns, map_header
from kasparro.sources.csv_file import SOURCE_NAME, STRUCTURAL_ERRORS, row_to_quote
from kasparro.sources.history import CoinLabel, HistorySpec, to_quotes

REPLAY_BATCH = 5_000


def _csv_quote(record: Any, headers: dict[str, Columns]) -> Quote:
    if record["error"] and record["error"].startswith(STRUCTURAL_ERRORS):
        raise InvalidValueError(record["error"])
    if record["header"] not in headers:
        headers[record["header"]] = map_header(loads_exact(record["header"]))
    cells: list[str] = loads_exact(record["payload"])
    return row_to_quote(headers[record["header"]], cells, record["started_at"])


async def _replay(
    catalog: AssetCatalog,
    tx: Tx,
    source: str,
    batches: AsyncIterator[list[Any]],
    convert: Callable[[Any], Quote],
    key: str,
    run_id: int,
    counters: RunCounters,
) -> None:
    """Normalize stored records batch by batch; a record that no longer passes is counted."""
    counters.details.mode = "replay"
    async for records in batches:
        quotes = []
        for record in records:
            try:
                quotes.append(convert(record))
            except InvalidValueError as exc:
                counters.reject(record[key], str(exc))
        refused = len(records) - len(quotes)
        batch = Batch(source, run_id, quotes, rejected_earlier=refused)
        stored = await store_quotes(tx, catalog, batch)
        for quote, reason in stored.rejected:
            counters.reject(rejection_key(quote), reason)
        counters.processed += len(quotes) - stored.rejected_count
        counters.details.count_skipped(stored.skipped_pruned)


class CsvReplayJob:
    name = SOURCE_NAME

    def __init__(self, engine: AsyncEngine, catalog: AssetCatalog) -> None:
        self.engine = engine
        self.catalog = catalog

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        run_id = run.run_id
        headers: dict[str, Columns] = {}  # header JSON -> column mapping
        async with begin(self.engine) as tx:
            batches = raw_csv.iterate(tx.driver, REPLAY_BATCH)
            convert = functools.partial(_csv_quote, headers=headers)
            await _replay(
                self.catalog, tx, self.name, batches, convert, "row_number", run_id, counters
            )
        await self.catalog.reconcile(self.engine)


async def _replay_history(
    catalog: AssetCatalog, tx: Tx, source: str, spec: HistorySpec, run_id: int,
    counters: RunCounters,
) -> None:  # fmt: skip
    """Backfilled windows again from their stored responses, window by window."""
    async for records in backfill.iterate_history(tx.driver, source, REPLAY_BATCH // 500 or 1):
        for record in records:
            coin_id = record["upstream_id"]
            coin = CoinLabel(source, coin_id, record["ticker"] or coin_id.upper(), record["name"])
            window = (record["interval"], record["window_start"], record["window_end"])
            try:
                quotes, refused = to_quotes(
                    spec, loads_exact(record["payload"]), coin, window, record["fetched_at"]
                )
            except InvalidValueError as exc:
                counters.reject(f"{coin_id} window {record['window_start'].isoformat()}", str(exc))
                continue
            for reason in refused:
                counters.reject(coin_id, reason)
            stored = await store_quotes(tx, catalog, Batch(source, run_id, quotes))
            for quote, reason in stored.rejected:
                counters.reject(rejection_key(quote), reason)
            counters.processed += len(quotes) - stored.rejected_count
            counters.details.count_skipped(stored.skipped_pruned)


class ApiReplayJob:
    def __init__(
        self,
        engine: AsyncEngine,
        catalog: AssetCatalog,
        spec: ApiSourceSpec,
        history: HistorySpec | None = None,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.spec = spec
        self.history = history
        self.name = spec.name

    def _quote(self, record: Any) -> Quote:
        entry: Mapping[str, Any] = loads_exact(record["payload"])
        return to_quote(self.spec, entry, record["fetched_at"])

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        run_id = run.run_id
        async with begin(self.engine) as tx:
            batches = raw_api.iterate(tx.driver, self.name, REPLAY_BATCH)
            await _replay(
                self.catalog, tx, self.name, batches, self._quote, "upstream_id", run_id, counters
            )
            if self.history is not None:
                await _replay_history(self.catalog, tx, self.name, self.history, run_id, counters)
        await self.catalog.reconcile(self.engine)


def build_replay_jobs(engine: AsyncEngine, catalog: AssetCatalog) -> dict[str, SourceJob]:
    return {
        source.name: (
            ApiReplayJob(engine, catalog, source.api()[0], source.history)
            if source.kind == "api"
            else CsvReplayJob(engine, catalog)  # the one file source is the CSV file
        )
        for source in registry.SOURCES
    }
