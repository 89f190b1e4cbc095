from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header

from kasparro.api.deps import StateDep
from kasparro.api.rendering import ExactJSONResponse
from kasparro.api.schemas.common import ErrorResponse
from kasparro.api.schemas.status import TriggerResponse
from kasparro.errors import InvalidTokenError, TriggerDisabledError

router = APIRouter(tags=["etl"])


@router.post(
    "/trigger-etl",
    status_code=202,
    response_model=TriggerResponse,
    responses={
        401: {"model": ErrorResponse, "description": "Missing or wrong X-Scheduler-Token."},
        409: {
            "model": ErrorResponse,
            "description": "Every enabled source is running already; nothing was started.",
        },
        503: {
            "model": ErrorResponse,
            "description": "Triggering is disabled (no SCHEDULER_TOKEN).",
        },
    },
)
async def trigger_etl(
    state: StateDep,
    x_scheduler_token: Annotated[str | None, Header(max_length=512)] = None,
) -> ExactJSONResponse:
    """Start an ETL run of the enabled sources in the background."""
    expected = state.settings.scheduler_token
    if expected is None:
        raise TriggerDisabledError("Triggering is disabled: SCHEDULER_TOKEN is not configured")
    sent = (x_scheduler_token or "").encode()
    if not hmac.compare_digest(sent, expected.get_secret_value().encode()):
        raise InvalidTokenError("Invalid scheduler token")
    # Each free source starts here, each busy one is left to whoever holds it: two replicas
    # triggered at once share the sources instead of both giving up (409 only with none free).
    started = await state.runner.start_in_background(skip_busy=True)
    body = {
        "status": "triggered",
        "run_id": str(started.batch_id),
        "timestamp": started.started_at,
        "runs": [{"source": s, "run_id": rid} for s, rid in started.run_ids.items()],
    }
    return ExactJSONResponse(body, status_code=202)
