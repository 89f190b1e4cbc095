"""Retention: whole months of raw observations older than HISTORY_RETENTION_DAYS go as a
partition drop recorded in `quote_pruned_months` (their 5m, 1h and 1d rollups stay, and
writers skip those months from then on), and raw records older than
RAW_RETENTION_DAYS are deleted in bounded batches, both up to the start of the month the
cutoff falls in, so only whole months entirely older than the cutoff go and the current
month never does."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.repositories import partitions, pruned_months, retention
from kasparro.repositories.driver import begin
from kasparro.repositories.partitions import Month

logger = logging.getLogger("kasparro.retention")
# A drop waits this long for the readers and writers ahead of it, not forever (while it
# waits, new readers of `quotes` queue behind it).
_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '5s'"


@dataclass(frozen=True, slots=True)
class Retention:
    """Days of history and of raw records to keep; None keeps them forever."""

    history_days: int | None = None
    raw_days: int | None = None

    @property
    def active(self) -> bool:
        return self.history_days is not None or self.raw_days is not None


@dataclass(frozen=True, slots=True)
class Pruned:
    """One partition or table and the rows that went (or would go)."""

    what: str
    rows: int
    before: datetime
    seconds: float = 0.0  # how long the drop itself took (0 for a dry run)


@dataclass
class PruneReport:
    dry_run: bool
    items: list[Pruned] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would drop" if self.dry_run else "dropped"
        out = []
        for item in self.items:
            kind = "partition" if item.what.startswith("quotes_y") else "rows of"
            out.append(
                f"{verb} {kind} {item.what}: {item.rows} rows"
                f" (older than {item.before.date().isoformat()})"
            )
        return out or ["nothing to prune"]


def horizon(now: datetime, days: int) -> datetime:
    """The start of the month `days` before `now`: everything before it lies in whole months
    entirely older than the cutoff."""
    return Month.of(now - timedelta(days=days)).start


async def prune(
    engine: AsyncEngine, keep: Retention, *, dry_run: bool = False, now: datetime | None = None
) -> PruneReport:
    """Apply `keep`; with `dry_run`, only report what would go."""
    now = now or datetime.now(UTC)
    report = PruneReport(dry_run)
    if keep.history_days is not None:
        await _prune_history(engine, horizon(now, keep.history_days), report)
    if keep.raw_days is not None:
        before = horizon(now, keep.raw_days)
        for table in retention.RAW_TABLES:
            await _prune_raw(engine, table, before, report)
    return report


async def _prune_history(engine: AsyncEngine, before: datetime, report: PruneReport) -> None:
    async with begin(engine) as tx:
        doomed = [m for m in await partitions.months(tx.driver) if m.end <= before]
    for month in doomed:
        async with begin(engine) as tx:
            rows = await partitions.count_rows(tx.driver, month)
        began = time.perf_counter()
        if not report.dry_run:
            async with begin(engine) as tx:
                await tx.conn.execute(text(_LOCK_TIMEOUT))
                # recorded first: this waits for batches that read the months before it
                await pruned_months.record(tx.driver, month)
                await partitions.drop(tx.driver, month)
        seconds = 0.0 if report.dry_run else time.perf_counter() - began
        report.items.append(Pruned(month.table, rows, before, seconds))
    async with begin(engine) as tx:
        strays = await partitions.delete_default_before(tx.driver, before, dry_run=report.dry_run)
    if strays:
        report.items.append(Pruned("quotes_default", strays, before))


async def _prune_raw(
    engine: AsyncEngine, table: str, before: datetime, report: PruneReport
) -> None:
    if report.dry_run:
        async with begin(engine) as tx:
            rows = await retention.count_older(tx.driver, table, before)
    else:
        rows, went = 0, -1
        while went != 0:  # one short transaction per batch: no long lock, no huge WAL burst
            async with begin(engine) as tx:
                went = await retention.delete_older_batch(tx.driver, table, before)
            rows += went
    if rows:
        report.items.append(Pruned(table, rows, before))


async def prune_quietly(engine: AsyncEngine, keep: Retention) -> None:
    """The scheduler's daily pass; never raises (the next day tries again)."""
    try:
        for line in (await prune(engine, keep)).lines():
            logger.info("retention: %s", line)
    except Exception:
        logger.exception("retention could not run")
