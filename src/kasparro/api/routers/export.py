"""`GET /export/history`: assets' history as one streamed file (Parquet, CSV or NDJSON)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import StringConstraints
from starlette.types import Receive, Scope, Send

from kasparro.api.deps import StateDep
from kasparro.api.params import EndDate, SourceName, StartDate, check_date_range
from kasparro.api.rate_limit import client_address, limit_key
from kasparro.api.routers.assets import Interval
from kasparro.api.schemas.common import ErrorResponse
from kasparro.api.state import AppState
from kasparro.config import Settings
from kasparro.db.reader import Reader
from kasparro.services.export import (
    MAX_ASSETS,
    Export,
    ExportLimits,
    ExportSelection,
    media_type,
)
from kasparro.services.export_formats import Format

router = APIRouter(tags=["export"])
logger = logging.getLogger(__name__)
# A database that fails once the file has begun: the transfer is broken off (no final chunk),
# so the client sees an incomplete download, never a short file that looks whole.
CUT_SHORT = (asyncpg.PostgresError, asyncpg.InterfaceError)  # said by, or lost to, the database

AssetIdItem = Annotated[str, StringConstraints(max_length=200)]
Cleanup = Callable[[], Awaitable[None]]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file; `X-Export-Rows` says how many rows it holds.",
        "content": {
            "application/vnd.apache.parquet": {},
            "text/csv": {},
            "application/x-ndjson": {},
        },
    },
    404: {"model": ErrorResponse},
    413: {"model": ErrorResponse, "description": "Over EXPORT_MAX_ROWS."},
    429: {"model": ErrorResponse, "description": "EXPORT_MAX_CONCURRENT exports already open."},
}


class ExportResponse(StreamingResponse):
    """Streams until done or until the client goes away, then always runs `cleanup` (the
    export's connection and its slot), whichever ASGI version the server
    speaks: a client that hangs up stops the reads at once."""

    def __init__(self, content: Any, cleanup: Cleanup, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    try:
                        await self.stream_response(send)
                    except CUT_SHORT as exc:  # the status line is sent: end without the last chunk
                        logger.warning("export cut short by the database: %s", one_line(exc))
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.cleanup()


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _limits(settings: Settings) -> ExportLimits:
    return ExportLimits(
        settings.export_max_rows, settings.export_chunk_rows, settings.export_statement_timeout_ms
    )


def process_limit(state: AppState) -> int:
    """Half the read pool's connections: the other half stays for every other read route."""
    size: int = state.read_pool.get_max_size()
    return max(1, size // 2)


def _busy(state: AppState, client: str) -> JSONResponse:
    limit = state.settings.export_max_concurrent
    if state.export_slots.held(client) >= limit:
        detail = f"At most {limit} exports at once per client (EXPORT_MAX_CONCURRENT)"
    else:
        detail = f"At most {process_limit(state)} exports at once on this server"
    detail += "; retry when one ends"
    return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": "1"})


async def _opened(
    state: AppState, selection: ExportSelection, release: Cleanup
) -> tuple[Export, Cleanup]:
    """The export with its size checked, and what gives back its connection and slot; on
    failure both are given back at once."""
    reader = Reader(*state.reads.pools(), state.reads.mark_down)

    async def close() -> None:
        try:
            await reader.close()  # the pool resets the connection (its statement_timeout too)
        finally:
            await release()

    try:
        export = Export(await reader.connection(), selection, _limits(state.settings))
        await export.open()
    except BaseException:
        with anyio.CancelScope(shield=True):
            await close()
        raise
    return export, close


@router.get("/export/history", response_class=Response, responses=RESPONSES)
async def export_history(
    request: Request,
    state: StateDep,
    asset_id: Annotated[
        list[AssetIdItem],
        Query(min_length=1, max_length=MAX_ASSETS, description="Repeat for more (up to 100)."),
    ],
    start: Annotated[StartDate | None, Query(description="Inclusive, on observation time.")] = None,
    end: Annotated[EndDate | None, Query(description="Inclusive, on observation time.")] = None,
    source: Annotated[
        list[SourceName] | None, Query(description="Only these sources' quotes (repeatable).")
    ] = None,
    interval: Annotated[
        Interval, Query(description="`raw` observations, or OHLC candles of 5m, 1h or 1d (UTC).")
    ] = "raw",
    format: Annotated[Format, Query(description="parquet, csv or ndjson.")] = "csv",
) -> Response:
    """Every row the asset history pages would give, for each asset in order, as one file."""
    check_date_range(start, end, ("start", "end"))
    sources = None if not source else tuple(dict.fromkeys(source))
    selection = ExportSelection(tuple(asset_id), interval, start, end, sources)
    client = limit_key(client_address(request.scope, state.settings.trusted_proxies))
    slots = state.export_slots
    if not slots.take(client, state.settings.export_max_concurrent, process_limit(state)):
        return _busy(state, client)

    async def release() -> None:
        slots.give_back(client)

    export, close = await _opened(state, selection, release)
    headers = {
        "Content-Disposition": f'attachment; filename="{selection.file_name(format)}"',
        "X-Export-Rows": str(export.rows),
    }
    return ExportResponse(
        export.stream(format), close, headers=headers, media_type=media_type(format)
    )
