"""SQL for `etl_checkpoints`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.models import EtlCheckpoint


async def get_state(conn: AsyncConnection, source: str) -> dict[str, Any] | None:
    stmt = select(EtlCheckpoint.state).where(EtlCheckpoint.source == source)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def save(
    conn: AsyncConnection, source: str, *, last_id: str, state: dict[str, Any], run_id: int
) -> None:
    """Upsert the checkpoint; call inside the transaction that wrote the data it covers."""
    values = {"source": source, "last_id": last_id, "state": state, "run_id": run_id}
    stmt = insert(EtlCheckpoint).values(**values, updated_at=func.now())
    stmt = stmt.on_conflict_do_update(
        index_elements=[EtlCheckpoint.source],
        set_={"last_id": last_id, "state": state, "run_id": run_id, "updated_at": func.now()},
    )
    await conn.execute(stmt)


async def get(conn: AsyncConnection, source: str) -> dict[str, Any] | None:
    """The whole checkpoint row as JSON-ready values (for a run's before/after record)."""
    stmt = select(
        EtlCheckpoint.last_id, EtlCheckpoint.state, EtlCheckpoint.run_id, EtlCheckpoint.updated_at
    ).where(EtlCheckpoint.source == source)
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    return {
        "last_id": row.last_id,
        "state": row.state,
        "run_id": row.run_id,
        "updated_at": row.updated_at.isoformat(),
    }
