"""The CSV source's job: stream the file, store raw rows, upsert quotes, checkpoint per batch."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.schema_drift import DriftSummary
from kasparro.errors import TerminalSourceError
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.faults import NO_FAULTS, FaultPlan
from kasparro.pipeline.gc_tuning import relaxed_gc
from kasparro.pipeline.load import (
    Batch,
    Checkpoint,
    CsvRaw,
    StoreResult,
    rejection_key,
    store_quotes,
)
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters
from kasparro.pipeline.prefetch import prefetched
from kasparro.repositories import drift, raw_csv
from kasparro.repositories.driver import begin
from kasparro.sources.csv_file import (
    SOURCE_NAME,
    CsvBatch,
    CsvFileReader,
    CsvLimits,
    CsvPosition,
)

logger = logging.getLogger("kasparro.etl")


class CsvJob:
    """Loads `path` incrementally; rows missing a timestamp are observed at the run's start."""

    name = SOURCE_NAME

    def __init__(
        self,
        engine: AsyncEngine,
        catalog: AssetCatalog,
        path: Path,
        batch_size: int,
        faults: FaultPlan = NO_FAULTS,
        limits: CsvLimits = CsvLimits(),  # noqa: B008 - frozen, shared safely
    ) -> None:
        self.limits = limits
        self.engine = engine
        self.catalog = catalog
        self.path = path.expanduser().resolve()
        self.batch_size = batch_size
        self.faults = faults

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        run_id, state, observed_default = run.run_id, run.checkpoint_state, run.started_at
        async with self.engine.connect() as conn:
            generation = await raw_csv.next_generation(conn)
        previous = CsvPosition.from_state(state) if state else None
        reader = CsvFileReader(
            self.path, previous, generation, observed_default, run_id, self.limits
        )
        drift_saved: list[bool] = [False]  # set once the first batch committed the header drift
        try:
            with relaxed_gc():
                await self._load_all(reader, run_id, counters, progress, drift_saved)
        except TerminalSourceError:
            if not drift_saved[0]:
                await self._record_header_drift(reader, run_id, counters)
            raise
        # a new file: its header is news, an unchanged one is not
        if reader.started_over and not drift_saved[0]:
            await self._record_header_drift(reader, run_id, counters)
        await self.catalog.reconcile(self.engine)
        counters.details.file = str(self.path)
        counters.details.started_over = reader.started_over

    async def _load_all(
        self,
        reader: CsvFileReader,
        run_id: int,
        counters: RunCounters,
        progress: ProgressFn,
        drift_saved: list[bool],
    ) -> None:
        rows_read = 0
        async for batch in prefetched(reader.batches(self.batch_size)):
            rows_read += batch.loaded + len(batch.rejected)
            # A new file's header drift commits with its first batch: a kill can't lose it.
            findings = None
            if reader.started_over and not drift_saved[0]:
                findings = self._header_findings(reader, run_id, counters)
            stored = await self._load(batch, reader, run_id, rows_read, findings)
            drift_saved[0] = drift_saved[0] or findings is not None
            counters.processed += batch.loaded - stored.rejected_count
            counters.saw(stored.accepted)
            counters.details.count_skipped(stored.skipped_pruned)
            for row_number, reason in batch.rejected:
                counters.reject(row_number, reason)
            for quote, reason in stored.rejected:
                counters.reject(rejection_key(quote), reason)
            assert batch.position is not None
            progress(self.name, batch.position.offset, reader.file_size())

    async def _record_header_drift(
        self, reader: CsvFileReader, run_id: int, counters: RunCounters
    ) -> None:
        if findings := self._header_findings(reader, run_id, counters):
            async with begin(self.engine) as tx:
                await drift.add(tx.driver, run_id, self.name, findings)

    def _header_findings(
        self, reader: CsvFileReader, run_id: int, counters: RunCounters
    ) -> list[dict[str, Any]]:
        """The header's drift findings, logged and noted in the run's details."""
        if not reader.header_drift:
            return []
        summary = DriftSummary()
        summary.add(reader.header_drift)
        findings = summary.as_dicts()
        counters.details.drift = findings
        for f in findings:
            logger.warning(
                "CSV header drift: %s %s (expected %s, got %s, confidence %s)",
                f["kind"], f["field"], f["expected"], f["actual"], f["confidence"],
                extra={"source": self.name, "run_id": run_id},
            )  # fmt: skip
        return findings

    async def _load(
        self,
        batch: CsvBatch,
        reader: CsvFileReader,
        run_id: int,
        rows_read: int,
        findings: list[dict[str, Any]] | None,
    ) -> StoreResult:
        """Raw rows, normalized quotes and the checkpoint commit together or not at all."""
        position = batch.position
        assert position is not None
        async with begin(self.engine) as tx:
            stored = await store_quotes(
                tx,
                self.catalog,
                Batch(
                    source=self.name,
                    run_id=run_id,
                    quotes=batch.quotes,
                    latest=list(batch.latest.values()),
                    raw=CsvRaw(position.generation, position.file_path, reader.header, batch.raw),
                    checkpoint=Checkpoint(str(position.row_number), position.to_state()),
                    drift=findings or (),
                    fresh=True,
                    rejected_earlier=len(batch.rejected),
                ),
            )
            self.faults.check_rows(rows_read)
            await self.faults.before_commit(self.name, run_id)
        return stored
