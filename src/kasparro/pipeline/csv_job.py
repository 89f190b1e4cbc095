"""The CSV source's job: stream the file, store raw rows, upsert quotes, checkpoint per batch."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.schema_drift import DriftSummary
from kasparro.errors import TerminalSourceError
from kasparro.pipeline.gc_tuning import relaxed_gc
from kasparro.pipeline.outcome import ProgressFn, RunCounters
from kasparro.pipeline.prefetch import prefetched
from kasparro.repositories import checkpoints, drift, raw_csv, runs
from kasparro.repositories.driver import driver_connection
from kasparro.repositories.normalized_write import upsert_latest
from kasparro.sources.csv_file import SOURCE_NAME, CsvBatch, CsvFileReader, CsvPosition

logger = logging.getLogger("kasparro.etl")


class CsvJob:
    """Loads `path` incrementally; rows missing a timestamp are observed at the run's start."""

    name = SOURCE_NAME

    def __init__(self, engine: AsyncEngine, path: Path, batch_size: int) -> None:
        self.engine = engine
        self.path = path.expanduser().resolve()
        self.batch_size = batch_size

    async def run(self, run_id: int, counters: RunCounters, progress: ProgressFn) -> None:
        async with self.engine.connect() as conn:
            state = await checkpoints.get_state(conn, self.name)
            generation = await raw_csv.next_generation(conn)
            # the run's start, as stored, so that a replay dates these rows identically
            observed_default = await runs.started_at(conn, run_id)
        previous = CsvPosition.from_state(state) if state else None
        reader = CsvFileReader(self.path, previous, generation, observed_default, run_id)
        try:
            with relaxed_gc():
                await self._load_all(reader, run_id, counters, progress)
        except TerminalSourceError:
            await self._record_header_drift(reader, run_id, counters)
            raise
        if reader.started_over:  # a new file: its header is news, an unchanged one is not
            await self._record_header_drift(reader, run_id, counters)
        counters.notes["file"] = str(self.path)
        counters.notes["started_over"] = reader.started_over

    async def _load_all(
        self, reader: CsvFileReader, run_id: int, counters: RunCounters, progress: ProgressFn
    ) -> None:
        async for batch in prefetched(reader.batches(self.batch_size)):
            await self._load(batch, reader, run_id)
            counters.processed += batch.loaded
            counters.saw(batch.latest.values())
            for row_number, reason in batch.rejected:
                counters.reject(row_number, reason)
            assert batch.position is not None
            progress(self.name, batch.position.offset, reader.file_size())

    async def _record_header_drift(
        self, reader: CsvFileReader, run_id: int, counters: RunCounters
    ) -> None:
        if not reader.header_drift:
            return
        summary = DriftSummary()
        summary.add(reader.header_drift)
        findings = summary.as_dicts()
        counters.notes["drift"] = findings
        for f in findings:
            logger.warning(
                "CSV header drift: %s %s (expected %s, got %s, confidence %s)",
                f["kind"], f["field"], f["expected"], f["actual"], f["confidence"],
                extra={"source": self.name, "run_id": run_id},
            )  # fmt: skip
        async with self.engine.begin() as conn:
            await drift.add(await driver_connection(conn), run_id, self.name, findings)

    async def _load(self, batch: CsvBatch, reader: CsvFileReader, run_id: int) -> None:
        """Raw rows, normalized quotes and the checkpoint commit together or not at all."""
        position = batch.position
        assert position is not None
        async with self.engine.begin() as conn:
            driver = await driver_connection(conn)
            await raw_csv.register_file(
                driver, position.generation, position.file_path, reader.header, run_id
            )
            await raw_csv.copy_rows(driver, batch.raw)
            await upsert_latest(driver, batch.latest.values(), run_id)
            await checkpoints.save(
                conn,
                self.name,
                last_id=str(position.row_number),
                state=position.to_state(),
                run_id=run_id,
            )
