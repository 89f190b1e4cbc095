from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BeforeValidator, StringConstraints

from kasparro.api.deps import ConnDep, RequestIdDep
from kasparro.api.middleware import latency_ms
from kasparro.api.rendering import ExactJSONResponse
from kasparro.api.schemas.data import DataResponse
from kasparro.domain.normalize import InvalidValueError, parse_timestamp
from kasparro.repositories.normalized_read import DataFilter
from kasparro.services.data import latest_quotes

router = APIRouter(tags=["data"])

SourceName = Literal["csv", "coinpaprika", "coingecko"]
MAX_OFFSET = 1_000_000_000


def _instant(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return parse_timestamp(value, "value")
    except InvalidValueError:
        raise ValueError(
            "expected an ISO 8601 date or date-time, e.g. 2024-01-15T10:30:00Z"
        ) from None


def _end_of_day_if_date(value: object) -> object:
    """`end_date=2024-01-15` includes that whole day."""
    parsed = _instant(value)
    if isinstance(value, str) and len(value.strip()) == 10 and isinstance(parsed, datetime):
        return parsed + timedelta(days=1, microseconds=-1)
    return parsed


# Not blank, no control characters: said in the schema, so clients (and fuzzers) know it.
TICKER_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


def _ticker(value: str) -> str:
    return value.strip().upper()


Ticker = Annotated[
    str, StringConstraints(max_length=32, pattern=TICKER_PATTERN), AfterValidator(_ticker)
]
StartDate = Annotated[datetime, BeforeValidator(_instant)]
EndDate = Annotated[datetime, BeforeValidator(_end_of_day_if_date)]


@router.get("/data", response_model=DataResponse)
async def get_data(
    request: Request,
    conn: ConnDep,
    request_id: RequestIdDep,
    ticker: Annotated[Ticker | None, Query(description="Case-insensitive.")] = None,
    source: Annotated[SourceName | None, Query(description="Only this source's quotes.")] = None,
    start_date: Annotated[StartDate | None, Query(description="Inclusive, on created_at.")] = None,
    end_date: Annotated[EndDate | None, Query(description="Inclusive, on created_at.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ExactJSONResponse:
    """The freshest quote per ticker among the selected sources, by market cap."""
    if start_date is not None and end_date is not None and start_date > end_date:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "start_date"),
                    "msg": "start_date must not be after end_date",
                    "input": str(start_date),
                }
            ]
        )
    flt = DataFilter(ticker=ticker, source=source, start=start_date, end=end_date)
    page = await latest_quotes(conn, flt, limit, offset)
    body = {
        "data": page.records,
        "pagination": {
            "limit": limit,
            "offset": offset,
            "returned": len(page.records),
            "total": page.total,
        },
        "meta": {"request_id": request_id, "api_latency_ms": latency_ms(request)},
    }
    return ExactJSONResponse(body)
