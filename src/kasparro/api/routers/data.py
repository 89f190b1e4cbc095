from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kasparro.api.deps import ReaderDep, RequestIdDep
from kasparro.api.middleware import response_meta
from kasparro.api.params import (
    CURSOR_DESCRIPTION,
    MAX_OFFSET,
    Cursor,
    EndDate,
    SourceName,
    StartDate,
    Ticker,
    check_cursor_or_offset,
    check_date_range,
    rank_cursor,
    rank_key,
)
from kasparro.api.rendering import ExactJSONResponse
from kasparro.api.schemas.data import DataResponse
from kasparro.services.data import latest_quotes
from kasparro.services.queries import DataFilter

router = APIRouter(tags=["data"])


@router.get("/data", response_model=DataResponse)
async def get_data(
    request: Request,
    reader: ReaderDep,
    request_id: RequestIdDep,
    ticker: Annotated[Ticker | None, Query(description="Case-insensitive.")] = None,
    source: Annotated[SourceName | None, Query(description="Only this source's quotes.")] = None,
    start_date: Annotated[StartDate | None, Query(description="Inclusive, on created_at.")] = None,
    end_date: Annotated[EndDate | None, Query(description="Inclusive, on created_at.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    cursor: Annotated[Cursor | None, Query(description=CURSOR_DESCRIPTION)] = None,
) -> ExactJSONResponse:
    """The freshest quote per canonical asset among the selected sources, by market cap."""
    check_date_range(start_date, end_date, ("start_date", "end_date"))
    check_cursor_or_offset(cursor, offset)
    after = None if cursor is None else rank_key(cursor)
    flt = DataFilter(ticker=ticker, source=source, start=start_date, end=end_date)
    page = await latest_quotes(reader, flt, limit, offset, after)
    body = {
        "data": page.records,
        "pagination": {
            "limit": limit,
            "offset": offset,
            "returned": len(page.records),
            "total": page.total,
            "next_cursor": rank_cursor(page.next_key),
        },
        "meta": response_meta(request, request_id),
    }
    return ExactJSONResponse(body)
