"""`GET /stream`: committed changes as Server-Sent Events (see domain/stream.py for the format)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from pydantic import StringConstraints
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from kasparro.api.deps import StateDep
from kasparro.api.params import SourceName
from kasparro.api.schemas.common import ErrorResponse
from kasparro.domain.identity import ASSET_ID_PATTERN
from kasparro.domain.stream import StreamFilter
from kasparro.services.stream import client_frames
from kasparro.services.stream_hub import StreamHub, Subscription

router = APIRouter(tags=["stream"])
logger = logging.getLogger("kasparro.stream")

MAX_EVENT_ID = 2**63 - 1
RETRY_AFTER_SECONDS = 5
StreamAssetId = Annotated[str, StringConstraints(pattern=ASSET_ID_PATTERN)]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An endless `text/event-stream`: `quote`, `consensus`, `run` and `gap` "
        "events, each with an `id` and one line of JSON `data`; `: heartbeat` comments.",
        "content": {"text/event-stream": {}},
    },
    503: {"model": ErrorResponse, "description": "STREAM_MAX_CLIENTS reached, or no database."},
}


class StreamResponse(EventSourceResponse):
    """Ends the stream when its client is dropped (even while a send to it is stuck), and
    always gives the subscription back, however the response ends."""

    def __init__(
        self, content: AsyncIterator[bytes], hub: StreamHub, sub: Subscription, heartbeat: float
    ) -> None:
        super().__init__(
            content, ping=heartbeat, sep="\n",
            ping_message_factory=lambda: ServerSentEvent(comment="heartbeat", sep="\n"),
        )  # fmt: skip
        self.hub, self.sub = hub, sub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def serve() -> None:
                    await super(StreamResponse, self).__call__(scope, receive, send)
                    group.cancel_scope.cancel()

                group.start_soon(serve)
                await self.sub.dropped.wait()
                group.cancel_scope.cancel()
        finally:
            self.hub.unsubscribe(self.sub)


def _full(hub: StreamHub) -> JSONResponse:
    detail = (
        f"At most {hub.max_clients} stream clients on this server (STREAM_MAX_CLIENTS); "
        f"retry in {RETRY_AFTER_SECONDS} s"
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse({"detail": detail}, status_code=503, headers=headers)


@router.get("/stream", response_class=Response, responses=RESPONSES)
async def stream_changes(
    state: StateDep,
    asset_id: Annotated[
        list[StreamAssetId] | None,
        Query(max_length=100, description="Only events about these assets (repeatable)."),
    ] = None,
    source: Annotated[
        list[SourceName] | None,
        Query(description="Only events from these sources: their quotes and runs (repeatable)."),
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=MAX_EVENT_ID,
            description="Resume after this event: what was missed is sent first.",
        ),
    ] = None,
) -> Response:
    """Committed changes as they land: new quotes, consensus changes and runs, as SSE."""
    hub = state.stream_hub
    await hub.start()
    if hub.full:  # checked and taken with no await between: the cap holds exactly
        return _full(hub)
    sub = hub.subscribe(StreamFilter.of(asset_id, source))
    frames = client_frames(state.read_pool, sub, last_event_id)
    return StreamResponse(frames, hub, sub, state.settings.stream_heartbeat_seconds)
