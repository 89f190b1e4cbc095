from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from kasparro.api.deps import StateDep
from kasparro.api.errors import DATABASE_DOWN_ERRORS, is_database_down, is_query_timeout
from kasparro.api.rendering import ExactJSONResponse
from kasparro.api.schemas.status import HealthResponse
from kasparro.services.status import check_health

router = APIRouter(tags=["service"])

RUNS_LOCKED = "etl_runs is locked or slow; the newest ETL run is unknown"


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={
        503: {
            "model": HealthResponse,
            "description": "The database is unreachable or does not answer within 2 s.",
        }
    },
)
async def health(state: StateDep) -> ExactJSONResponse:
    """Liveness and database connectivity, with the newest ETL run."""
    now = datetime.now(UTC)
    next_run = state.scheduler.next_run_at if state.scheduler else None
    replica: dict[str, str] = {}  # the key only when DATABASE_READ_URL is set
    if state.reads.configured:
        up = await state.reads.probe()
        replica["read_replica"] = "connected" if up else "disconnected"
    try:
        async with state.engine.connect() as conn:
            report = await check_health(conn)
    except DATABASE_DOWN_ERRORS as exc:
        if not (is_database_down(exc) or is_query_timeout(exc)):  # timeout: a stuck database
            raise
        body = {
            "status": "error",
            "database": "disconnected",
            "last_etl": None,
            "last_etl_status": None,
            "timestamp": now,
            "next_scheduled_run": next_run,
            **replica,
        }
        return ExactJSONResponse(body, status_code=503)
    run = report.last_run
    # `etl_runs` locked (ACCESS EXCLUSIVE, e.g. a migration) or too slow: the database answers,
    # so 200, with the newest run unknown (null) and a header saying why.
    headers = None if report.runs_readable else {"X-Health-Detail": RUNS_LOCKED}
    body = {
        "status": "ok",
        "database": "connected",
        "last_etl": run.started_at if run else None,
        "last_etl_status": run.status if run else None,
        "timestamp": now,
        "next_scheduled_run": next_run,
        **replica,
    }
    return ExactJSONResponse(body, headers=headers)


@router.head("/health", include_in_schema=False)
async def health_head(state: StateDep) -> Response:
    """What GET answers, without the body: load balancers and uptime probes often send HEAD."""
    answer = await health(state)
    return Response(status_code=answer.status_code, media_type="application/json")
