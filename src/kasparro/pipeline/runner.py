"""Orchestrates ETL runs: locks, `etl_runs` bookkeeping, sources in parallel."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.errors import EtlAlreadyRunningError, KasparroError
from kasparro.observability.logging import bound_context
from kasparro.pipeline import run_review
from kasparro.pipeline.locks import SourceLocks
from kasparro.pipeline.outcome import ProgressFn, RunCounters, RunOutcome
from kasparro.repositories import runs

logger = logging.getLogger("kasparro.etl")


class SourceJob(Protocol):
    name: str

    async def run(self, run_id: int, counters: RunCounters, progress: ProgressFn) -> None: ...


def _no_progress(source: str, done: int, total: int | None) -> None:
    return None


@dataclass(slots=True)
class StartedRun:
    """A run that holds its locks and has its `etl_runs` rows; `task` completes it."""

    batch_id: uuid.UUID
    run_ids: dict[str, int]
    started_at: datetime
    task: asyncio.Task[list[RunOutcome]]


class EtlRunner:
    """Starts runs over the given jobs; at most one run per source at a time, anywhere."""

    def __init__(
        self,
        engine: AsyncEngine,
        jobs: Mapping[str, SourceJob],
        enabled: list[str] | None = None,
        clock: Callable[[], float] = time.monotonic,  # seconds; tests pin run durations
        snapshots_kept: int = 100,  # per source, runs whose per-coin snapshot is kept
    ) -> None:
        self.engine = engine
        self.snapshots_kept = snapshots_kept
        self._clock = clock
        self.jobs = dict(jobs)
        self.sources = [s for s in (list(jobs) if enabled is None else enabled) if s in self.jobs]
        self._active: set[str] = set()
        self._background: set[asyncio.Task[list[RunOutcome]]] = set()

    @property
    def busy(self) -> bool:
        return bool(self._active)

    async def start(
        self,
        sources: list[str] | None = None,
        progress: ProgressFn | None = None,
        *,
        skip_busy: bool = False,
    ) -> StartedRun:
        """Lock the sources and record them `running`; the returned task does the work.

        A source running here or elsewhere fails the whole start, or with `skip_busy` is
        left out (the scheduler's way); with none left it fails all the same.
        """
        selected = list(dict.fromkeys(sources)) if sources else self.sources
        unknown = [s for s in selected if s not in self.jobs]
        if unknown:
            raise KasparroError(f"source not available: {', '.join(unknown)}")
        if busy := [s for s in selected if s in self._active]:
            if not skip_busy or len(busy) == len(selected):
                raise EtlAlreadyRunningError(
                    f"an ETL run is already in progress for: {', '.join(busy)}"
                )
            logger.info("skipping sources running here: %s", ", ".join(busy))
            selected = [s for s in selected if s not in busy]
        self._active.update(selected)
        locks = SourceLocks(self.engine)
        try:
            selected = await self._lock(locks, selected, skip_busy)
            started_at = datetime.now(UTC)
            batch_id = uuid.uuid4()
            async with self.engine.begin() as conn:
                run_ids = await runs.create_runs(conn, batch_id, selected, started_at)
                for source, run_id in run_ids.items():
                    if stale := await runs.mark_interrupted(conn, source, run_id, started_at):
                        logger.warning("marked %d stale %s run(s) as interrupted", stale, source)
        except BaseException:
            await locks.release()
            self._active.difference_update(selected)
            raise
        task = asyncio.create_task(self._execute_all(run_ids, locks, progress or _no_progress))
        return StartedRun(batch_id, run_ids, started_at, task)

    async def _lock(self, locks: SourceLocks, selected: list[str], skip_busy: bool) -> list[str]:
        """The sources locked for this run; raises when a needed one is held elsewhere."""
        busy = await locks.acquire(selected, all_or_nothing=not skip_busy)
        if busy and (not skip_busy or not locks.held):
            raise EtlAlreadyRunningError(
                f"an ETL run is already in progress for: {', '.join(busy)} "
                "(held by another process)"
            )
        if busy:
            logger.info("skipping sources running in another process: %s", ", ".join(busy))
            self._active.difference_update(busy)
        return list(locks.held)

    async def start_in_background(self, sources: list[str] | None = None) -> StartedRun:
        """Start a run whose task this runner keeps until it ends."""
        started = await self.start(sources)
        self._background.add(started.task)
        started.task.add_done_callback(self._background.discard)
        return started

    async def cancel_background(self) -> None:
        """Stop background runs (shutdown); their rows are closed as interrupted by the next run."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def wait_background(self) -> None:
        """Wait for runs started in the background (tests, shutdown)."""
        while self._background:
            await asyncio.wait(set(self._background))

    async def run(
        self,
        sources: list[str] | None = None,
        progress: ProgressFn | None = None,
        *,
        skip_busy: bool = False,
    ) -> list[RunOutcome]:
        """Start a run and wait for it to finish."""
        started = await self.start(sources, progress, skip_busy=skip_busy)
        return await started.task

    async def _execute_all(
        self, run_ids: dict[str, int], locks: SourceLocks, progress: ProgressFn
    ) -> list[RunOutcome]:
        try:
            return list(
                await asyncio.gather(
                    *(self._execute(source, run_id, progress) for source, run_id in run_ids.items())
                )
            )
        finally:
            await locks.release()
            self._active.difference_update(run_ids)

    async def _execute(self, source: str, run_id: int, progress: ProgressFn) -> RunOutcome:
        with bound_context(source=source, run_id=run_id):  # on every line of this run
            outcome, counters = await self._execute_job(source, run_id, progress)
            await run_review.review(self.engine, outcome, counters)
            return outcome

    async def _execute_job(
        self, source: str, run_id: int, progress: ProgressFn
    ) -> tuple[RunOutcome, RunCounters]:
        context = {"source": source, "run_id": run_id}
        logger.info("ETL run started", extra=context)
        counters = RunCounters()
        clock = self._clock()
        status, message = "success", None
        try:
            await run_review.note_checkpoint(self.engine, source, counters, "checkpoint_before")
            await self.jobs[source].run(run_id, counters, progress)
            if counters.failed and not counters.processed:
                status, message = "failure", counters.all_rejected_message()
        except KasparroError as exc:
            status, message = "failure", exc.message
        except Exception as exc:  # recorded as a failed run, never swallowed
            logger.exception("ETL run crashed", extra=context)
            status, message = "failure", f"{type(exc).__name__}: {exc}"
        outcome = RunOutcome(
            run_id,
            source,
            status,
            counters.processed,
            counters.failed,
            int((self._clock() - clock) * 1000),
            message,
        )
        await run_review.note_checkpoint(self.engine, source, counters, "checkpoint_after")
        await self._record(outcome, counters)
        if status == "success":
            logger.info("ETL run completed successfully", extra=context)
        else:
            logger.error("ETL run failed: %s", message, extra=context)
        logger.info(
            "Processed: %d records, Failed: %d", outcome.processed, outcome.failed, extra=context
        )
        return outcome, counters

    async def _record(self, outcome: RunOutcome, counters: RunCounters) -> None:
        async with self.engine.begin() as conn:
            await runs.finish_run(
                conn,
                outcome.run_id,
                status=outcome.status,
                processed=outcome.processed,
                failed=outcome.failed,
                finished_at=datetime.now(UTC),
                duration_ms=outcome.duration_ms,
                message=outcome.message,
                details=counters.details(),
            )
            await run_review.store_snapshot(conn, outcome, counters, self.snapshots_kept)
