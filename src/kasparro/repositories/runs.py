"""SQL for `etl_runs`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.models import EtlRun


async def create_runs(
    conn: AsyncConnection, batch_id: uuid.UUID, sources: list[str], started_at: datetime
) -> dict[str, int]:
    """Insert one `running` row per source; returns source -> run id."""
    rows = [
        {"batch_id": batch_id, "source": s, "status": "running", "started_at": started_at}
        for s in sources
    ]
    result = await conn.execute(insert(EtlRun).returning(EtlRun.source, EtlRun.id), rows)
    return {source: run_id for source, run_id in result.all()}


@dataclass(frozen=True, slots=True)
class RunEnd:
    """Everything finishing a run writes to its `etl_runs` row, in one UPDATE: its status,
    counts and details together with the review against the previous run."""

    status: str
    processed: int
    failed: int
    finished_at: datetime
    duration_ms: int
    message: str | None
    details: dict[str, Any]


async def finish_run(conn: AsyncConnection, run_id: int, end: RunEnd) -> None:
    values = {f.name: getattr(end, f.name) for f in fields(end)}
    await conn.execute(update(EtlRun).where(EtlRun.id == run_id).values(**values))


INTERRUPTED = "interrupted"  # the message of a run stopped by a kill, a crash or SIGTERM


async def add_progress(conn: AsyncConnection, run_id: int, *, processed: int, failed: int) -> None:
    """Add one committed batch's counts to its run's row, in that batch's transaction."""
    await conn.execute(
        update(EtlRun)
        .where(EtlRun.id == run_id)
        .values(processed=EtlRun.processed + processed, failed=EtlRun.failed + failed)
    )


async def mark_interrupted(
    conn: AsyncConnection, source: str, keep_run_id: int | None, now: datetime
) -> int:
    """Close `running` rows of `source` left by a dead process (we hold its lock: none lives)."""
    stmt = update(EtlRun).where(EtlRun.source == source, EtlRun.status == "running")
    if keep_run_id is not None:
        stmt = stmt.where(EtlRun.id != keep_run_id)
    result = await conn.execute(stmt.values(status="failure", message=INTERRUPTED, finished_at=now))
    return int(result.rowcount or 0)


async def running_run(conn: AsyncConnection, source: str) -> EtlRun | None:
    """The newest `running` row of `source`: who holds its lock, when another process does."""
    stmt = (
        select(EtlRun)
        .where(EtlRun.source == source, EtlRun.status == "running")
        .order_by(EtlRun.id.desc())
        .limit(1)
    )
    row = (await conn.execute(stmt)).first()
    return None if row is None else EtlRun(**row._asdict())


async def latest_run(conn: AsyncConnection) -> EtlRun | None:
    """The most recently started run of any source."""
    stmt = select(EtlRun).order_by(EtlRun.started_at.desc(), EtlRun.id.desc()).limit(1)
    row = (await conn.execute(stmt)).first()
    return None if row is None else EtlRun(**row._asdict())


async def latest_finished(conn: AsyncConnection, status: str) -> EtlRun | None:
    stmt = (
        select(EtlRun)
        .where(EtlRun.status == status)
        .order_by(EtlRun.finished_at.desc(), EtlRun.id.desc())
        .limit(1)
    )
    row = (await conn.execute(stmt)).first()
    return None if row is None else EtlRun(**row._asdict())


async def count_by_status(conn: AsyncConnection) -> dict[str, int]:
    stmt = select(EtlRun.status, func.count()).group_by(EtlRun.status)
    return {status: int(count) for status, count in (await conn.execute(stmt)).all()}


async def started_at(conn: AsyncConnection, run_id: int) -> datetime:
    return (await conn.execute(select(EtlRun.started_at).where(EtlRun.id == run_id))).scalar_one()
