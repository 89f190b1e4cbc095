"""Health and statistics, shared by the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.models import EtlRun
from kasparro.repositories import normalized_read, runs


@dataclass(frozen=True, slots=True)
class Health:
    last_run: EtlRun | None


async def check_health(conn: AsyncConnection) -> Health:
    """Touch the database and report the newest run; raises if the database is unreachable."""
    await conn.execute(text("SELECT 1"))
    return Health(last_run=await runs.latest_run(conn))


async def collect_stats(conn: AsyncConnection) -> dict[str, Any]:
    last_success = await runs.latest_finished(conn, "success")
    last_failure = await runs.latest_finished(conn, "failure")
    return {
        "total_normalized": await normalized_read.count_all(conn),
        "last_success": None
        if last_success is None
        else {
            "source": last_success.source,
            "finished_at": last_success.finished_at,
            "duration_ms": last_success.duration_ms,
            "processed": last_success.processed,
        },
        "last_failure": None
        if last_failure is None
        else {
            "source": last_failure.source,
            "finished_at": last_failure.finished_at,
            "message": last_failure.message,
        },
        "records_by_source": await normalized_read.count_by_source(conn),
        "runs_by_status": await runs.count_by_status(conn),
    }
