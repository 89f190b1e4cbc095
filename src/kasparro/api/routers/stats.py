from __future__ import annotations

from fastapi import APIRouter

from kasparro.api.deps import ConnDep, StateDep
from kasparro.api.rendering import ExactJSONResponse
from kasparro.api.schemas.status import StatsResponse
from kasparro.services.backfill_status import backfill_progress
from kasparro.services.status import collect_stats

router = APIRouter(tags=["service"])


@router.get("/stats", response_model=StatsResponse)
async def stats(conn: ConnDep, state: StateDep) -> ExactJSONResponse:
    """Record counts, the latest runs per source, anomaly flags, the next scheduled run and
    the backfill's progress."""
    body = await collect_stats(conn)
    body["backfill"] = await backfill_progress(conn, state.settings)
    body["etl_running"] = state.runner.busy
    body["next_scheduled_run"] = state.scheduler.next_run_at if state.scheduler else None
    return ExactJSONResponse(body)
