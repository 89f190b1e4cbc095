"""Health and statistics, shared by the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.db.errors import is_query_timeout
from kasparro.models import EtlRun
from kasparro.repositories import normalized_read, run_history, runs, session
from kasparro.sources import registry

# /health answers probes: it never queues behind a lock (a migration's, a `LOCK TABLE etl_runs`)
# nor waits long for a busy database.
HEALTH_LOCK_TIMEOUT_MS = 250
HEALTH_STATEMENT_TIMEOUT_MS = 2000


@dataclass(frozen=True, slots=True)
class Health:
    last_run: EtlRun | None
    runs_readable: bool = True  # False: `etl_runs` was locked or slow, the newest run unknown


async def check_health(conn: AsyncConnection) -> Health:
    """Touch the database and report the newest run; raises if the database is unreachable
    or does not answer within HEALTH_STATEMENT_TIMEOUT_MS."""
    await session.limit_waits(
        conn,
        lock_timeout_ms=HEALTH_LOCK_TIMEOUT_MS,
        statement_timeout_ms=HEALTH_STATEMENT_TIMEOUT_MS,
    )
    try:
        return Health(last_run=await runs.latest_run(conn))
    except DBAPIError as exc:
        if not is_query_timeout(exc):
            raise
        return Health(last_run=None, runs_readable=False)


async def collect_stats(conn: AsyncConnection) -> dict[str, Any]:
    last_success = await runs.latest_finished(conn, "success")
    last_failure = await runs.latest_finished(conn, "failure")
    return {
        "total_normalized": await normalized_read.count_all(conn),
        "last_success": _last_success(last_success),
        "last_failure": _last_failure(last_failure),
        "records_by_source": await normalized_read.count_by_source(conn),
        "runs_by_status": await runs.count_by_status(conn),
        **await latest_per_source(conn),
    }


def _last_success(run: EtlRun | None) -> dict[str, Any]:
    """An object of nulls before any success: readers can index it without a None check."""
    return {
        "source": run.source if run else None,
        "finished_at": run.finished_at if run else None,
        "duration_ms": run.duration_ms if run else None,
        "processed": run.processed if run else None,
    }


def _last_failure(run: EtlRun | None) -> dict[str, Any]:
    """An object of nulls until the first failure, the shape the seed documents."""
    return {
        "source": run.source if run else None,
        "finished_at": run.finished_at if run else None,
        "message": run.message if run else None,
    }


async def last_success_times(conn: AsyncConnection) -> dict[str, datetime]:
    """When each source's newest successful run finished."""
    runs = await run_history.latest_success_per_source(conn, registry.known_sources())
    return {run.source: run.finished_at for run in runs if run.finished_at is not None}


async def latest_per_source(conn: AsyncConnection) -> dict[str, Any]:
    """Per source: its newest finished run and last success; and the flags its newest
    compared run raised (a later run that read nothing new does not hide them)."""
    successes = await last_success_times(conn)
    sources = {
        run.source: {
            "last_run_id": run.id,
            "last_status": run.status,
            "last_finished_at": run.finished_at,
            "last_success_at": successes.get(run.source),
            "last_message": run.message,
        }
        for run in await run_history.latest_finished_per_source(conn, registry.known_sources())
    }
    anomalies = [
        {"source": run.source, "run_id": run.id, "compared_with": run.details["compared_with"],
         **flag}
        for run in await run_history.latest_compared_per_source(conn, registry.known_sources())
        for flag in run.details.get("anomalies", [])
    ]  # fmt: skip
    return {"sources": sources, "anomalies": anomalies}


def mark_stale(sources: dict[str, Any], stale_after: timedelta, now: datetime) -> None:
    """Say per source whether its last success is older than `stale_after` (or never was)."""
    for entry in sources.values():
        at = entry["last_success_at"]
        entry["stale"] = at is None or now - at > stale_after
