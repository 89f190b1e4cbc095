from __future__ import annotations

from fastapi import APIRouter, Response

from kasparro.api.deps import StateDep
from kasparro.api.errors import DATABASE_DOWN_ERRORS, is_database_down
from kasparro.observability import metrics
from kasparro.services.status import last_success_times

router = APIRouter(tags=["service"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def get_metrics(state: StateDep) -> Response:
    """Prometheus metrics: HTTP traffic, ETL runs, upstream requests, drift and anomalies."""
    try:  # the last success per source comes from etl_runs, so it survives restarts
        async with state.engine.connect() as conn:
            metrics.record_last_success(await last_success_times(conn))
    except DATABASE_DOWN_ERRORS as exc:  # metrics still answer with the database down
        if not is_database_down(exc):
            raise
    if state.scheduler is not None:
        metrics.record_next_run(state.scheduler.next_run_at)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
