"""What happens around a source's run besides the work: checkpoints before and after, the
per-coin snapshot, metrics, and the automatic comparison with the previous run."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kasparro.observability import metrics
from kasparro.pipeline.outcome import RunContext, RunCounters, RunOutcome
from kasparro.repositories import checkpoints, run_history, run_quotes, runs
from kasparro.repositories.driver import driver_connection
from kasparro.services.run_history import compare_with_previous

logger = logging.getLogger("kasparro.etl")


async def run_context(engine: AsyncEngine, source: str, run_id: int) -> RunContext:
    """The run's start and the source's checkpoint before it, read once for the job."""
    async with engine.connect() as conn:
        started_at = await runs.started_at(conn, run_id)
        return RunContext(run_id, source, started_at, await checkpoints.get(conn, source))


async def store_snapshot(
    conn: AsyncConnection, outcome: RunOutcome, counters: RunCounters, keep: int
) -> None:
    """The newest quote per coin the run saw, and only the newest `keep` runs' snapshots per
    source (they grow by one row per coin and run); call in the run's finishing transaction."""
    driver = await driver_connection(conn)
    await run_quotes.record(driver, outcome.run_id, counters.seen.values())
    if counters.seen:
        await run_quotes.prune(driver, outcome.source, keep)


async def review(engine: AsyncEngine, outcome: RunOutcome, counters: RunCounters) -> None:
    """Count the finished run, then flag anomalies against the previous run of its source.

    Never raises: a review that cannot be done is logged; the run's own record stands.
    """
    metrics.record_run(
        outcome.source, outcome.status, outcome.processed, outcome.failed,
        outcome.duration_ms, counters.details.as_json(),
    )  # fmt: skip
    try:
        async with engine.begin() as conn:
            comparison = await compare_with_previous(conn, outcome.run_id)
            if comparison is not None:
                await _store_flags(conn, outcome.run_id, comparison)
    except Exception:  # the run is recorded; a failed review must not turn it into a failure
        logger.exception("could not compare the run with the previous one")
        return
    if comparison is None:
        return
    for flag in comparison["anomalies"]:
        metrics.ANOMALIES.labels(outcome.source, flag["flag"]).inc()
        logger.warning(
            "anomaly %s against run %d: %s",
            flag["flag"], comparison["a"]["id"], flag["message"],
            extra={"anomaly": flag["flag"], "compared_with": comparison["a"]["id"]},
        )  # fmt: skip


async def _store_flags(conn: AsyncConnection, run_id: int, comparison: dict[str, Any]) -> None:
    extra = {"compared_with": comparison["a"]["id"], "anomalies": comparison["anomalies"]}
    await run_history.merge_details(conn, run_id, extra)
