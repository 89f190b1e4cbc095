"""Limits on how long the statements of one transaction may run or wait for a lock."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def limit_waits(
    conn: AsyncConnection, *, lock_timeout_ms: int, statement_timeout_ms: int
) -> None:
    """For the current transaction only (`SET LOCAL`); one round trip, so it proves the
    database answers, as `SELECT 1` would."""
    await conn.execute(
        text("SELECT set_config('lock_timeout', :lock, true), "
             "set_config('statement_timeout', :statement, true)"),
        {"lock": f"{lock_timeout_ms}ms", "statement": f"{statement_timeout_ms}ms"},
    )  # fmt: skip
