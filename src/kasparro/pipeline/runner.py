"""Orchestrates ETL runs: locks, `etl_runs` bookkeeping, sources in parallel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.db.errors import DATABASE_DOWN_ERRORS, describe_failure, is_database_down
from kasparro.errors import EtlAlreadyRunningError, KasparroError
from kasparro.observability.logging import bound_context
from kasparro.pipeline import run_review
from kasparro.pipeline.locks import SourceLocks
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters, RunOutcome
from kasparro.pipeline.stream_publish import publish_runs
from kasparro.repositories import checkpoints, runs, stream
from kasparro.repositories.driver import driver_connection

logger = logging.getLogger("kasparro.etl")

# How long a run whose database went away keeps trying to record its outcome; past that the
# row stays `running` and the next run or `serve` start closes it as interrupted.
RECORD_PATIENCE_SECONDS = 120.0
LOCK_LOST = "stopped: the database session holding the source lock ended (database restarted?)"


def _uncancel() -> None:
    """Take back the cancellation we sent ourselves, so the run can record its failure."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


class SourceJob(Protocol):
    name: str

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None: ...


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
        settle: Callable[[AsyncEngine], Awaitable[object]] | None = None,
        stream_replay_seconds: int = 300,  # live-stream events older than this are pruned
    ) -> None:
        self.engine = engine
        self.stream_replay_seconds = stream_replay_seconds
        # After every run's sources are done: the asset ids made during it settle
        # (AssetCatalog.settle), so they follow the run's data, not its batches' order.
        self.settle = settle
        self.snapshots_kept = snapshots_kept
        self._clock = clock
        self.jobs = dict(jobs)
        self.sources = [s for s in (list(jobs) if enabled is None else enabled) if s in self.jobs]
        self._active: set[str] = set()
        self._in_job: set[str] = set()  # sources whose job is still working (not recording)
        self._background: set[asyncio.Task[list[RunOutcome]]] = set()
        self.record_patience = RECORD_PATIENCE_SECONDS

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
        if here := [s for s in selected if s in self._active]:
            if not skip_busy or len(here) == len(selected):
                raise EtlAlreadyRunningError(
                    f"an ETL run is already in progress for: {', '.join(here)}"
                )
            logger.info("skipping sources running here: %s", ", ".join(here))
            selected = [s for s in selected if s not in here]
        self._active.update(selected)
        locks = SourceLocks(self.engine)
        try:
            selected = await self._lock(locks, selected, skip_busy, here)
            started_at = datetime.now(UTC)
            batch_id = uuid.uuid4()
            async with self.engine.begin() as conn:
                run_ids = await runs.create_runs(conn, batch_id, selected, started_at)
                for source, run_id in run_ids.items():
                    if stale := await runs.mark_interrupted(conn, source, run_id, started_at):
                        logger.warning("marked %d stale %s run(s) as interrupted", stale, source)
                await publish_runs(conn, run_ids.values())
        except BaseException:
            await locks.release()
            self._active.difference_update(selected)
            raise
        task = asyncio.create_task(self._execute_all(run_ids, locks, progress or _no_progress))
        return StartedRun(batch_id, run_ids, started_at, task)

    async def _holders_message(self, busy: list[str], here: list[str]) -> str:
        held = [f"{s} ({await self._holder(s)}, held by another process)" for s in busy]
        held += [f"{s} (running in this process)" for s in here]
        return f"an ETL run is already in progress for: {', '.join(held)}"

    async def _holder(self, source: str) -> str:
        # The holder writes its `running` row just after taking the lock: give it a moment.
        for _ in range(10):
            async with self.engine.connect() as conn:
                run = await runs.running_run(conn, source)
            if run is not None:
                return f"run {run.id} started {run.started_at.isoformat()}"
            await asyncio.sleep(0.1)
        return "a run just starting or finishing"

    async def close_abandoned_runs(self) -> int:
        """Mark `running` rows whose source nobody holds as interrupted (at `serve` start)."""
        locks = SourceLocks(self.engine)
        closed = 0
        for source in self.jobs:
            if await locks.acquire([source]):
                continue  # a live run holds it
            try:
                async with self.engine.begin() as conn:
                    closed += await runs.mark_interrupted(conn, source, None, datetime.now(UTC))
            finally:
                await locks.release()
        if closed:
            logger.warning("marked %d run(s) left running by a dead process as interrupted", closed)
        return closed

    async def _lock(
        self, locks: SourceLocks, selected: list[str], skip_busy: bool, here: list[str]
    ) -> list[str]:
        """The sources locked for this run; raises when a needed one is held elsewhere (or,
        with `skip_busy`, when none is free), naming every busy source."""
        busy = await locks.acquire(selected, all_or_nothing=not skip_busy)
        if busy and (not skip_busy or not locks.held):
            raise EtlAlreadyRunningError(await self._holders_message(busy, here))
        if busy:
            logger.info("skipping sources running in another process: %s", ", ".join(busy))
            self._active.difference_update(busy)
        return list(locks.held)

    async def start_in_background(
        self, sources: list[str] | None = None, *, skip_busy: bool = False
    ) -> StartedRun:
        """Start a run whose task this runner keeps until it ends."""
        started = await self.start(sources, skip_busy=skip_busy)
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
        remaining = set(run_ids)  # the last job to finish runs the end-of-run hook
        tasks = [
            asyncio.create_task(self._execute(s, r, progress, remaining))
            for s, r in run_ids.items()
        ]
        everything = asyncio.gather(*tasks)
        watchdog = asyncio.create_task(locks.wait_lost())
        try:
            either: set[asyncio.Future[Any]] = {everything, watchdog}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if not everything.done():  # without its lock a run could overlap another: stop it
                for source, task in zip(run_ids, tasks, strict=True):
                    if source in self._in_job:  # not those already recording their outcome
                        task.cancel(LOCK_LOST)
            return list(await everything)
        finally:
            watchdog.cancel()
            for task in tasks:  # on our own cancellation (SIGTERM, shutdown)
                task.cancel()
            await asyncio.gather(watchdog, everything, return_exceptions=True)
            await locks.release()
            self._active.difference_update(run_ids)

    async def _settle(self) -> None:
        if self.settle is None:
            return
        try:
            await self.settle(self.engine)
        except DATABASE_DOWN_ERRORS as exc:  # the ids stay provisional: the next run settles
            if not is_database_down(exc):
                raise
            logger.error("could not settle asset ids, database lost: %s", type(exc).__name__)

    async def _execute(
        self, source: str, run_id: int, progress: ProgressFn, remaining: set[str]
    ) -> RunOutcome:
        with bound_context(source=source, run_id=run_id):  # on every line of this run
            job = await self._execute_job(source, run_id, progress, remaining)
            outcome, counters, comparison = job
            run_review.report(outcome, counters, comparison)
            return outcome

    async def _execute_job(
        self, source: str, run_id: int, progress: ProgressFn, remaining: set[str]
    ) -> tuple[RunOutcome, RunCounters, dict[str, Any] | None]:
        context = {"source": source, "run_id": run_id}
        logger.info("ETL run started", extra=context)
        counters = RunCounters()
        clock = self._clock()
        status, message = "success", None
        self._in_job.add(source)
        try:
            run = await run_review.run_context(self.engine, source, run_id)
            counters.details.checkpoint_before = run.checkpoint_before
            await self.jobs[source].run(run, counters, progress)
            remaining.discard(source)
            if not remaining:  # the run's last job to finish, its outcome not yet written
                await self._settle()
            if counters.failed and not counters.processed:
                status, message = "failure", counters.all_rejected_message()
        except asyncio.CancelledError as exc:  # the batch in flight rolled back
            if exc.args != (LOCK_LOST,):  # SIGTERM or shutdown
                await self._record_interrupted(run_id, source, counters, clock)
                raise
            _uncancel()  # our own watchdog's: recorded like any other failure
            status, message = "failure", LOCK_LOST
        except KasparroError as exc:
            status, message = "failure", exc.message
        except Exception as exc:  # recorded as a failed run, never swallowed
            if is_database_down(exc):  # expected in operation: one line, no traceback
                logger.error("ETL run lost the database: %s", type(exc).__name__, extra=context)
            else:
                logger.exception("ETL run crashed", extra=context)
            status, message = "failure", describe_failure(exc)
        finally:
            self._in_job.discard(source)
            remaining.discard(source)  # a failed job: the next run settles what this one left
        outcome = self._outcome(run_id, source, status, message, counters, clock)
        comparison = await self._record(outcome, counters, review=True)
        if status == "success":
            logger.info("ETL run completed successfully", extra=context)
        else:
            logger.error("ETL run failed: %s", message, extra=context)
        logger.info(
            "Processed: %d records, Failed: %d", outcome.processed, outcome.failed, extra=context
        )
        return outcome, counters, comparison

    async def _record_interrupted(
        self, run_id: int, source: str, counters: RunCounters, clock: float
    ) -> None:
        logger.warning("ETL run interrupted", extra={"source": source, "run_id": run_id})
        outcome = self._outcome(run_id, source, "failure", runs.INTERRUPTED, counters, clock)
        with contextlib.suppress(*DATABASE_DOWN_ERRORS):  # then the next run closes it
            await self._record(outcome, counters, patience=5)  # exit promptly all the same

    def _outcome(
        self,
        run_id: int,
        source: str,
        status: str,
        message: str | None,
        counters: RunCounters,
        clock: float,
    ) -> RunOutcome:
        duration_ms = int((self._clock() - clock) * 1000)
        return RunOutcome(
            run_id, source, status, counters.processed, counters.failed, duration_ms, message
        )

    async def _record(
        self,
        outcome: RunOutcome,
        counters: RunCounters,
        patience: float | None = None,
        *,
        review: bool = False,
    ) -> dict[str, Any] | None:
        """Write the outcome (with its review, if asked), waiting for a database that went
        away to come back; returns the review's comparison, if there was one."""
        deadline = time.monotonic() + (self.record_patience if patience is None else patience)
        while True:
            try:
                return await self._write_outcome(outcome, counters, review)
            except DATABASE_DOWN_ERRORS as exc:
                if not is_database_down(exc) or time.monotonic() > deadline:
                    raise
                logger.warning(
                    "cannot record run %d, database unreachable (%s); retrying",
                    outcome.run_id, type(exc).__name__, extra={"source": outcome.source},
                )  # fmt: skip
                await asyncio.sleep(1)

    async def _write_outcome(
        self, outcome: RunOutcome, counters: RunCounters, review: bool
    ) -> dict[str, Any] | None:
        """One transaction: the run's snapshot, its review against the previous run, then its
        row, written once with the final status, counts, details and anomalies together."""
        async with self.engine.begin() as conn:
            counters.details.checkpoint_after = await checkpoints.get(conn, outcome.source)
            await run_review.store_snapshot(conn, outcome, counters)
            end = runs.RunEnd(
                status=outcome.status,
                processed=outcome.processed,
                failed=outcome.failed,
                finished_at=datetime.now(UTC),
                duration_ms=outcome.duration_ms,
                message=outcome.message,
                details=counters.details_json(),
            )
            comparison = await run_review.review(conn, outcome.run_id, end) if review else None
            details = run_review.reviewed(end.details, comparison)
            await runs.finish_run(conn, outcome.run_id, replace(end, details=details))
            await run_review.prune_snapshots(conn, outcome, counters, self.snapshots_kept)
            # once a run, so the outbox stays bounded with no API process pruning it
            await stream.prune(await driver_connection(conn), self.stream_replay_seconds)
            await publish_runs(conn, [outcome.run_id])
        return comparison
