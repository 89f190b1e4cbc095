from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Response

from kasparro.api.deps import StateDep
from kasparro.api.errors import DATABASE_DOWN_ERRORS, is_database_down
from kasparro.api.schemas.common import ErrorResponse
from kasparro.config import Settings
from kasparro.errors import InvalidTokenError
from kasparro.observability import metrics
from kasparro.services.backfill_status import backfill_progress
from kasparro.services.status import last_success_times

router = APIRouter(tags=["service"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        401: {"model": ErrorResponse, "description": "METRICS_TOKEN is set and was not sent."},
    },
)
async def get_metrics(
    state: StateDep, authorization: Annotated[str | None, Header(max_length=1024)] = None
) -> Response:
    """Prometheus metrics: HTTP traffic, ETL runs, upstream requests, drift, anomalies and the
    backfill's progress."""
    check_metrics_token(state.settings, authorization)
    try:  # the last success per source comes from etl_runs, so it survives restarts
        async with state.engine.connect() as conn:
            metrics.record_last_success(await last_success_times(conn))
            metrics.record_backfill(await backfill_progress(conn, state.settings))
    except DATABASE_DOWN_ERRORS as exc:  # metrics still answer with the database down
        if not is_database_down(exc):
            raise
    if state.scheduler is not None:
        metrics.record_next_run(state.scheduler.next_run_at)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


def check_metrics_token(settings: Settings, authorization: str | None) -> None:
    """With METRICS_TOKEN set, only `Authorization: Bearer <token>` may read the metrics."""
    if settings.metrics_token is None:
        return
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    if not hmac.compare_digest((authorization or "").encode(), expected):
        raise InvalidTokenError("Missing or wrong bearer token for /metrics")
