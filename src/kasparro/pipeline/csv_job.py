"""The CSV source's job: each file `CSV_PATH` names, in name order, streamed in batches; every
batch stores its raw rows and quotes and moves its file's checkpoint in one transaction (written
in parts as the file is read)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.quote import Quote
from kasparro.domain.schema_drift import DriftSummary
from kasparro.errors import TerminalSourceError
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.csv_files import FilesCheckpoint
from kasparro.pipeline.faults import NO_FAULTS, FaultPlan
from kasparro.pipeline.gc_tuning import relaxed_gc
from kasparro.pipeline.load import (
    Batch,
    Checkpoint,
    CsvRaw,
    PartsWriter,
    rejection_key,
)
from kasparro.pipeline.outcome import CsvFileRead, ProgressFn, RunContext, RunCounters
from kasparro.pipeline.prefetch import prefetched
from kasparro.repositories import checkpoints, drift, history, raw_csv
from kasparro.repositories.driver import begin
from kasparro.sources import csv_paths
from kasparro.sources.csv_file import (
    SOURCE_NAME,
    CsvBatch,
    CsvFileReader,
    CsvLimits,
)
from kasparro.sources.csv_open import file_bytes_read, gzip_mark, unchanged_since

logger = logging.getLogger("kasparro.etl")

# A batch (`ETL_BATCH_SIZE` rows, one transaction) is read and written in parts of at most this
# many rows: memory stays that of one part however large the batch, and the per-coin work
# (latest rows, catalog, stream, hourly and daily buckets) is done once a batch.
PART_ROWS = 50_000


@dataclass(slots=True)
class _CsvRun:
    """One run over the files: their checkpoint, the next new file's generation, what it read."""

    run_id: int
    files: FilesCheckpoint
    generation: int
    counters: RunCounters
    progress: ProgressFn
    total_bytes: int
    done_bytes: int = 0
    drift: DriftSummary = field(default_factory=DriftSummary)
    reads: list[CsvFileRead] = field(default_factory=list)
    unchanged: int = 0


class CsvJob:
    """Loads the files at `path` incrementally; rows missing a timestamp are observed at the
    run's start."""

    name = SOURCE_NAME

    def __init__(
        self,
        engine: AsyncEngine,
        catalog: AssetCatalog,
        path: Path,
        batch_size: int,
        faults: FaultPlan = NO_FAULTS,
        limits: CsvLimits = CsvLimits(),  # noqa: B008 - frozen, shared safely
        part_rows: int = PART_ROWS,
    ) -> None:
        self.limits = limits
        self.part_rows = part_rows
        self.engine = engine
        self.catalog = catalog
        self.path = path.expanduser().resolve()
        self.batch_size = batch_size
        self.faults = faults

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        counters.details.file = str(self.path)
        selection = await asyncio.to_thread(csv_paths.select, self.path)
        async with self.engine.connect() as conn:
            generation = await raw_csv.next_generation(conn)
        files = FilesCheckpoint(selection, run.checkpoint_state)
        counters.details.files_removed = files.removed or None
        for removed in files.removed:
            logger.warning(
                "CSV file no longer in CSV_PATH, its %d rows stay: %s", removed.rows, removed.path,
                extra={"source": self.name, "run_id": run.run_id},
            )  # fmt: skip
        state = _CsvRun(
            run.run_id, files, generation, counters, progress, _total_size(selection.files)
        )
        failures: list[str] = []
        try:
            for path in selection.files:
                try:
                    await self._load_file(state, path, run.started_at)
                except TerminalSourceError as exc:
                    if selection.kind == "file":
                        raise
                    failures.append(f"{path.name}: {exc.message}")
        finally:
            self._note_files(state)
        await self._save_unsaved(state)
        await self.catalog.reconcile(self.engine)
        if failures:
            more = f" ({len(failures) - 1} more files failed)" if len(failures) > 1 else ""
            raise TerminalSourceError(failures[0] + more)

    async def _load_file(self, run: _CsvRun, path: Path, observed_default: datetime) -> None:
        """One file from where its checkpoint stopped; a gzip file still exactly as loaded is
        known unchanged without inflating it."""
        read = CsvFileRead(str(path))
        mark = run.files.gzip_mark(path)
        if mark is not None and await asyncio.to_thread(unchanged_since, path, mark):
            run.unchanged += 1
            run.done_bytes += mark.compressed_end
            return
        reader = CsvFileReader(
            path, run.files.position(path), run.generation, observed_default, run.run_id,
            self.limits,
        )  # fmt: skip
        run.reads.append(read)
        drift_saved: list[bool] = [False]  # set once the first batch committed the header drift
        try:
            with relaxed_gc():
                await self._load_all(run, reader, read, drift_saved)
        except TerminalSourceError as exc:
            read.error = exc.message
            if not drift_saved[0]:
                await self._record_header_drift(run, reader)
            raise
        finally:
            read.started_over = reader.started_over
            if reader.started_over and read.rows:
                run.generation += 1  # taken by this file's rows
            run.done_bytes += file_bytes_read(reader.handle, _end_offset(run, path))
        # a new file: its header is news, an unchanged one is not
        if reader.started_over and not drift_saved[0]:
            await self._record_header_drift(run, reader)
        run.files.reached_end(path, gzip_mark(reader.handle) if reader.handle else None)
        if not read.rows and not read.started_over:
            run.reads.remove(read)
            run.unchanged += 1

    async def _load_all(
        self, run: _CsvRun, reader: CsvFileReader, read: CsvFileRead, drift_saved: list[bool]
    ) -> None:
        parts = _BatchParts(
            prefetched(_encoded(reader.batches(self.batch_size, self.part_rows), run.run_id))
        )
        while await parts.another_batch():
            # A new file's header drift commits with its first batch: a kill can't lose it.
            findings = None
            if reader.started_over and not drift_saved[0]:
                findings = self._header_findings(run, reader)
            await self._load(run, parts, reader, read, findings)
            drift_saved[0] = drift_saved[0] or findings is not None

    async def _load(
        self,
        run: _CsvRun,
        parts: _BatchParts,
        reader: CsvFileReader,
        read: CsvFileRead,
        findings: list[dict[str, Any]] | None,
    ) -> None:
        """One batch, read part by part: its raw rows, quotes, rollups and the checkpoint
        commit together or not at all; the run's counts move once it has committed."""
        rows_read = sum(r.rows for r in run.reads)  # committed by the run's earlier batches
        # what the counters take of each part once the batch commits (not its rows: memory)
        stored: list[_PartCount] = []
        position = None
        async with begin(self.engine) as tx:
            writer = PartsWriter(tx, self.name, run.run_id)
            async for encoded in parts.batch():
                position = encoded.part.position
                stored.append(await self._add_part(writer, reader, encoded))
                rows_read += len(encoded.part.raw)
                self.faults.check_rows(rows_read)
                assert position is not None
                done = run.done_bytes + file_bytes_read(reader.handle, position.offset)
                run.progress(self.name, done, run.total_bytes)
            assert position is not None
            checkpoint = run.files.advance(position)
            newest = await writer.finish(self.catalog, checkpoint, findings or ())
            await self.faults.before_commit(self.name, run.run_id)
        run.files.committed(checkpoint)
        run.counters.saw(newest.accepted)
        for counted in stored:
            _count(run, reader, read, counted)

    async def _add_part(
        self, writer: PartsWriter, reader: CsvFileReader, encoded: _Encoded
    ) -> _PartCount:
        """One part's raw rows and history, in the batch's transaction."""
        part, position = encoded.part, encoded.part.position
        assert position is not None
        raw = CsvRaw(
            position.generation, position.file_path, reader.header, part.raw, encoded.raw_copy
        )
        result = await writer.add(Batch(
            source=self.name, run_id=writer.run_id, quotes=part.quotes,
            latest=list(part.latest.values()), raw=raw, fresh=True,
            rejected_earlier=len(part.rejected), copy_text=encoded.quotes_copy,
        ))  # fmt: skip
        return _PartCount(part.loaded, part.rejected, result.rejected, result.skipped_pruned)

    async def _record_header_drift(self, run: _CsvRun, reader: CsvFileReader) -> None:
        if findings := self._header_findings(run, reader):
            async with begin(self.engine) as tx:
                await drift.add(tx.driver, run.run_id, self.name, findings)

    def _header_findings(self, run: _CsvRun, reader: CsvFileReader) -> list[dict[str, Any]]:
        """The header's drift findings, logged and noted in the run's details."""
        if not reader.header_drift:
            return []
        summary = DriftSummary()
        summary.add(reader.header_drift)
        findings = summary.as_dicts()
        run.drift.merge(summary)
        run.counters.details.drift = run.drift.as_dicts()
        for f in findings:
            logger.warning(
                "CSV header drift in %s: %s %s (expected %s, got %s, confidence %s)",
                reader.path.name, f["kind"], f["field"], f["expected"], f["actual"],
                f["confidence"], extra={"source": self.name, "run_id": run.run_id},
            )  # fmt: skip
        return findings

    async def _save_unsaved(self, run: _CsvRun) -> None:
        """The checkpoint once more when it changed without a batch: a file dropped from it, or
        a gzip file's mark (the data it describes committed already)."""
        checkpoint: Checkpoint | None = run.files.unsaved()
        if checkpoint is None:
            return
        async with begin(self.engine) as tx:
            await checkpoints.save(
                tx.conn, self.name, last_id=checkpoint.last_id, state=checkpoint.state,
                run_id=run.run_id,
            )  # fmt: skip
        run.files.committed(checkpoint)

    def _note_files(self, run: _CsvRun) -> None:
        details = run.counters.details
        details.files = list(run.reads)
        details.files_unchanged = run.unchanged
        details.started_over = any(r.started_over for r in run.reads)


_COIN_AND_TIME = attrgetter("source_coin_id", "created_at")  # a C call a quote, not a Python one


class _Encoded(NamedTuple):
    """A part, with its quotes and raw rows as COPY text."""

    part: CsvBatch
    quotes_copy: bytes
    raw_copy: bytes


def _encoded(parts: Iterator[CsvBatch], run_id: int) -> Iterator[_Encoded]:
    """Each part with its COPY text, built where the parts are read (the reader's thread, so
    the event loop only streams bytes), its quotes in the primary key's order: a COPY's index
    insertions then follow one another in each coin's pages, and the rollups' sort finds them
    ordered."""
    for part in parts:
        part.quotes.sort(key=_COIN_AND_TIME)
        yield _Encoded(part, history.copy_text(part.quotes, run_id), raw_csv.copy_text(part.raw))


class _BatchParts:
    """A file's parts, handed out batch by batch; none is held once handed out, so memory is
    that of the part being written and the one being read."""

    def __init__(self, parts: AsyncIterator[_Encoded]) -> None:
        self._parts = parts
        self._ahead: _Encoded | None = None
        self._ended = False

    async def another_batch(self) -> bool:
        """Whether a part is left, read ahead if need be."""
        if self._ahead is None and not self._ended:
            self._ahead = await anext(self._parts, None)
            self._ended = self._ahead is None
        return self._ahead is not None

    async def batch(self) -> AsyncIterator[_Encoded]:
        """The next batch's parts, through the one that ends it (or the file)."""
        while await self.another_batch():
            part, self._ahead = self._ahead, None
            assert part is not None
            ends_batch = part.part.ends_batch
            yield part
            del part  # written: not to be held while the next one is read
            if ends_batch:
                return


class _PartCount(NamedTuple):
    """What the run's counters take of a part once its batch commits (not its rows: memory)."""

    loaded: int  # rows the reader parsed
    rejected: list[tuple[int, str]]  # rows the reader refused: (row number, reason)
    refused: list[tuple[Quote, str]]  # quotes the database refused
    skipped_pruned: int


def _count(run: _CsvRun, reader: CsvFileReader, read: CsvFileRead, part: _PartCount) -> None:
    """A committed part in the run's counters and its file's read."""
    counters, refused = run.counters, len(part.refused)
    counters.processed += part.loaded - refused
    counters.details.count_skipped(part.skipped_pruned)
    for row_number, reason in part.rejected:
        counters.reject(_row_name(run, reader, row_number), reason)
    for quote, reason in part.refused:
        counters.reject(rejection_key(quote), reason)
    read.count(part.loaded - refused, len(part.rejected) + refused)


def _row_name(run: _CsvRun, reader: CsvFileReader, row_number: int) -> int | str:
    """A rejected row in the run's samples: its number, and its file's name when there are
    several files."""
    return row_number if run.files.single_file else f"{reader.path.name} row {row_number}"


def _end_offset(run: _CsvRun, path: Path) -> int:
    position = run.files.position(path)
    return 0 if position is None else position.offset


def _total_size(paths: tuple[Path, ...]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            continue  # gone since it was listed: its read fails with its own message
    return total
