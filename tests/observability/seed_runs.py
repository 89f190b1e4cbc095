"""Seed finished runs, with their per-coin snapshots, straight into the database."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.repositories import run_quotes, runs
from kasparro.repositories.driver import driver_connection
from tests.api.seed import quote


async def seed_run(
    engine: AsyncEngine,
    *,
    source: str = "csv",
    status: str = "success",
    started_at: datetime,
    processed: int = 10,
    failed: int = 0,
    duration_ms: int = 100,
    prices: dict[str, tuple[str, str | None]] | None = None,  # ticker -> (price, market cap)
    message: str | None = None,
) -> int:
    async with engine.begin() as conn:
        (run_id,) = (await runs.create_runs(conn, uuid.uuid4(), [source], started_at)).values()
        end = runs.RunEnd(status, processed, failed, started_at, duration_ms, message, {})
        await runs.finish_run(conn, run_id, end)
        quotes = [
            quote(ticker, price, source=source, market_cap=mcap)
            for ticker, (price, mcap) in (prices or {}).items()
        ]
        await run_quotes.record(await driver_connection(conn), run_id, quotes)
    return run_id


def cap(rank: int) -> str:
    """A market cap that ranks `rank` (0 is the largest)."""
    return str(Decimal(10**12) - rank * 1000)
