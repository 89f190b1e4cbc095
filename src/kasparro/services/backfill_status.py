"""Backfill progress for `/stats` and `/metrics`: windows by state, requests, budget left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.config import Settings
from kasparro.domain.backfill import month_of
from kasparro.models.backfill import WINDOW_STATES
from kasparro.repositories import backfill
from kasparro.repositories.driver import driver_connection
from kasparro.sources import registry


def history_sources() -> tuple[str, ...]:
    return tuple(s.name for s in registry.SOURCES if s.history is not None)


async def backfill_progress(conn: AsyncConnection, settings: Settings) -> dict[str, Any]:
    """Per source with history: its windows by state, their points and requests, and this
    month's upstream calls against its monthly budget (`left` null: no budget)."""
    driver = await driver_connection(conn)
    month = month_of(datetime.now(UTC)).date()
    sources = history_sources()
    by_state = {s: dict.fromkeys(WINDOW_STATES, 0) for s in sources}
    requests, points = dict.fromkeys(sources, 0), dict.fromkeys(sources, 0)
    for row in await backfill.stats(driver):
        if row["source"] in by_state:
            by_state[row["source"]][row["state"]] = row["windows"]
            requests[row["source"]] += row["requests"] or 0
            points[row["source"]] += row["points"] or 0
    calls = await backfill.calls_in(driver, month)
    budget = {}
    for name in sources:
        setting = registry.capabilities(name).monthly_calls_setting
        limit = getattr(settings, setting) if setting else None
        used = calls.get(name, 0)
        budget[name] = {
            "month": month, "calls": used, "monthly_calls": limit,
            "left": None if limit is None else max(limit - used, 0),
        }  # fmt: skip
    return {"windows_by_state": by_state, "requests": requests, "points": points, "budget": budget}
