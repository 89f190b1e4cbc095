"""What happens around a source's run besides the work: checkpoints before and after, the
per-coin snapshot, metrics, and the automatic comparison with the previous run."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kasparro.db.errors import is_database_down
from kasparro.observability import metrics
from kasparro.pipeline.outcome import RunContext, RunCounters, RunOutcome
from kasparro.repositories import checkpoints, run_quotes, runs
from kasparro.repositories.driver import driver_connection
from kasparro.services.run_history import compare_with_previous

logger = logging.getLogger("kasparro.etl")


async def run_context(engine: AsyncEngine, source: str, run_id: int) -> RunContext:
    """The run's start and the source's checkpoint before it, read once for the job."""
    async with engine.connect() as conn:
        started_at = await runs.started_at(conn, run_id)
        return RunContext(run_id, source, started_at, await checkpoints.get(conn, source))


async def store_snapshot(conn: AsyncConnection, outcome: RunOutcome, counters: RunCounters) -> None:
    """The newest quote per coin the run saw; call in the run's finishing transaction, before
    `review` (which compares it with the previous run's)."""
    await run_quotes.record(await driver_connection(conn), outcome.run_id, counters.seen.values())


async def prune_snapshots(
    conn: AsyncConnection, outcome: RunOutcome, counters: RunCounters, keep: int
) -> None:
    """Keep only the newest `keep` runs' snapshots of the source (they grow by one row per coin
    and run); call after the run's row is finished, in the same transaction."""
    if counters.seen:
        await run_quotes.prune(await driver_connection(conn), outcome.source, keep)


async def review(conn: AsyncConnection, run_id: int, end: runs.RunEnd) -> dict[str, Any] | None:
    """The run, as `end` will record it, against the previous run of its source (None when
    there is none to compare with), in the run's finishing transaction before its row is
    written, so that the row becomes finished with its anomalies in the same write.

    A review that cannot be done is logged and gives None: it never fails the run. Only the
    database going away propagates, so that the caller retries the whole finishing write.
    """
    try:
        async with conn.begin_nested():  # a failed review leaves the run's own record intact
            return await compare_with_previous(conn, run_id, end)
    except Exception as exc:
        if is_database_down(exc):
            raise
        logger.exception("could not compare the run with the previous one")
        return None


def reviewed(details: dict[str, Any], comparison: dict[str, Any] | None) -> dict[str, Any]:
    """The run's details with the review's baseline and anomalies, when it had one."""
    if comparison is None:
        return details
    return details | {"compared_with": comparison["a"]["id"], "anomalies": comparison["anomalies"]}


def report(outcome: RunOutcome, counters: RunCounters, comparison: dict[str, Any] | None) -> None:
    """Count the recorded run and its anomalies in the metrics, and log each anomaly."""
    metrics.record_run(
        outcome.source, outcome.status, outcome.processed, outcome.failed,
        outcome.duration_ms, counters.details.as_json(),
    )  # fmt: skip
    if comparison is None:
        return
    for flag in comparison["anomalies"]:
        metrics.ANOMALIES.labels(outcome.source, flag["flag"]).inc()
        logger.warning(
            "anomaly %s against run %d: %s",
            flag["flag"], comparison["a"]["id"], flag["message"],
            extra={"anomaly": flag["flag"], "compared_with": comparison["a"]["id"]},
        )  # fmt: skip
