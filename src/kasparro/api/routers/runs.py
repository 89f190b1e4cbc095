from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from kasparro.api.deps import ReadConnDep
from kasparro.api.params import MAX_OFFSET, EndDate, SourceName, StartDate, check_date_range
from kasparro.api.rendering import ExactJSONResponse
from kasparro.api.schemas.common import ErrorResponse
from kasparro.api.schemas.runs import CompareResponse, RunDetail, RunsResponse, RunStatus
from kasparro.services.queries import RunFilter
from kasparro.services.run_history import compare_runs, list_runs, run_detail

router = APIRouter(tags=["runs"])

MAX_RUN_ID = 2**63 - 1  # etl_runs.id is a bigint
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No run with that id."}
}


RunId = Annotated[int, Path(ge=1, le=MAX_RUN_ID)]


@router.get("/runs", response_model=RunsResponse)
async def get_runs(
    conn: ReadConnDep,
    source: Annotated[SourceName | None, Query(description="Only this source's runs.")] = None,
    status: Annotated[RunStatus | None, Query(description="Only runs in this state.")] = None,
    start_date: Annotated[StartDate | None, Query(description="Inclusive, on started_at.")] = None,
    end_date: Annotated[EndDate | None, Query(description="Inclusive, on started_at.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ExactJSONResponse:
    """ETL runs, newest first: counts, duration and outcome of each."""
    check_date_range(start_date, end_date, ("start_date", "end_date"))
    f = RunFilter(source=source, status=status, started_from=start_date, started_to=end_date)
    runs, total = await list_runs(conn, f, limit, offset)
    pagination = {"limit": limit, "offset": offset, "returned": len(runs), "total": total}
    return ExactJSONResponse({"data": runs, "pagination": pagination})


@router.get("/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND)
async def get_run(conn: ReadConnDep, run_id: RunId) -> ExactJSONResponse:
    """One run: counts, duration, message, rejection reasons, drift, checkpoints, anomalies."""
    return ExactJSONResponse(await run_detail(conn, run_id))


@router.get(
    "/compare-runs",
    response_model=CompareResponse,
    responses={
        **NOT_FOUND,
        422: {"description": "A malformed id, or runs of different sources."},
    },
)
async def get_compare_runs(
    conn: ReadConnDep,
    a: Annotated[int, Query(ge=1, le=MAX_RUN_ID, description="The baseline run.")],
    b: Annotated[int, Query(ge=1, le=MAX_RUN_ID, description="The run compared with it.")],
) -> ExactJSONResponse:
    """Run b against run a of the same source: counts, coins, price moves, anomaly flags."""
    return ExactJSONResponse(await compare_runs(conn, a, b))
