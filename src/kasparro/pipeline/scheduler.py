"""The in-process scheduler of `kasparro serve`: a run right away, then one every interval
plus a random jitter. A source whose lock is held elsewhere (a manual run, another replica)
sits the tick out; the others run. With several web workers or replicas, only the process
holding the scheduler lease ticks, so the sources run once per interval, not once per process.
After each tick's run the token contracts are refreshed if `CATALOG_REFRESH_SECONDS` has passed
since their last refresh (pipeline/contracts.py), sharing the sources' rate limits."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from kasparro.errors import EtlAlreadyRunningError
from kasparro.observability import metrics
from kasparro.pipeline.contracts import ContractRefresher
from kasparro.pipeline.locks import SchedulerLease
from kasparro.pipeline.outcome import RunOutcome
from kasparro.pipeline.retention import Retention, prune_quietly
from kasparro.pipeline.runner import EtlRunner

logger = logging.getLogger("kasparro.scheduler")


async def close_abandoned_runs(runner: EtlRunner) -> None:
    """At start-up; never raises: with the database down, the first run does it instead."""
    try:
        await runner.close_abandoned_runs()
    except Exception:
        logger.exception("could not close runs left running by a dead process")


def _now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Fixed-rate ticks: each is due `interval + U(0, jitter)` seconds after the previous one
    was due (a run longer than that starts the next tick as soon as it ends)."""

    def __init__(
        self,
        runner: EtlRunner,
        interval_seconds: float,
        jitter_seconds: float = 0.0,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = _now,
        uniform: Callable[[float, float], float] = random.uniform,
        refresher: ContractRefresher | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.runner = runner
        self.refresher = refresher
        self.interval = interval_seconds
        self.jitter = jitter_seconds
        self._sleep = sleep
        self._clock = clock
        self._uniform = uniform
        self.next_run_at: datetime | None = None
        self.lease = SchedulerLease(runner.engine)
        self._closed_abandoned = False
        self.retention = retention
        self.retained_at: datetime | None = None

    def _schedule_next(self, due: datetime) -> None:
        delay = self.interval + (self._uniform(0, self.jitter) if self.jitter else 0.0)
        self.next_run_at = due + timedelta(seconds=delay)
        metrics.record_next_run(self.next_run_at)

    async def tick(self) -> list[RunOutcome]:
        """Run every enabled source whose lock is free, then refresh the contracts if they
        are due; never raises."""
        outcomes: list[RunOutcome] = []
        try:
            outcomes = await self.runner.run(skip_busy=True)
        except EtlAlreadyRunningError as exc:
            logger.info("scheduled ETL run skipped: %s", exc.message)
        except Exception:  # e.g. the database is down; the next tick tries again
            logger.exception("scheduled ETL run could not start")
        await self.refresh_catalog()
        return outcomes

    async def refresh_catalog(self) -> None:
        """The contracts refresh, if due; never raises (a failure is on record and logged)."""
        if self.refresher is None:
            return
        try:
            await self.refresher.refresh(scheduled=True)
        except Exception:  # e.g. the database is down; the next tick tries again
            logger.exception("scheduled catalog refresh could not run")

    async def _tick_if_leader(self) -> None:
        try:
            leader = await self.lease.hold()
        except Exception:  # the database is down; the next tick tries again
            logger.exception("scheduler could not reach the database")
            return
        if leader:
            if not self._closed_abandoned:
                # Here rather than in every process's start-up: closing takes each source's
                # lock for a moment, and another process's first tick would then skip it.
                await close_abandoned_runs(self.runner)
                self._closed_abandoned = True
            await self.tick()
            await self._retain()
        else:
            logger.debug("another process holds the scheduler lease; standing by")

    async def _retain(self) -> None:
        """Retention once a day, by the leader only, after its tick; never raises."""
        if self.retention is None or not self.retention.active:
            return
        now = self._clock()
        if self.retained_at is not None and now - self.retained_at < timedelta(days=1):
            return
        self.retained_at = now
        await prune_quietly(self.runner.engine, self.retention)

    async def run_forever(self) -> None:
        due = self._clock()
        try:
            while True:
                self._schedule_next(due)
                await self._tick_if_leader()
                assert self.next_run_at is not None
                due = self.next_run_at
                wait = (due - self._clock()).total_seconds()
                await self._sleep(max(0.0, wait))
        finally:
            await self.lease.release()
