from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import StringConstraints

from kasparro.api.cursor import decode_cursor, encode_cursor, invalid_cursor
from kasparro.api.deps import ReaderDep, RequestIdDep, StateDep
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
from kasparro.api.schemas.assets import AssetResponse, AssetsResponse, HistoryResponse
from kasparro.api.schemas.common import ErrorResponse
from kasparro.domain.normalize import InvalidValueError, parse_timestamp
from kasparro.services.assets import (
    FillPrevious,
    asset_history,
    flag_rules,
    get_asset,
    list_assets,
    resolve_coin,
    resolve_contract,
    review,
)
from kasparro.services.coverage import live_cadence
from kasparro.services.queries import AssetFilter, HistoryFilter, ObservationKey

router = APIRouter(tags=["assets"])

Flag = Literal["divergent", "stale", "ambiguous_mapping"]
Interval = Literal["raw", "5m", "1h", "1d"]
SEARCH_DESCRIPTION = "A ticker (exact, any case) or part of a name (any case)."
Search = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                          pattern=r"^[^\x00-\x1f\x7f]+$")]  # fmt: skip
AssetId = Annotated[str, Path(max_length=200, description="e.g. `bitcoin` (see GET /assets).")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


@router.get("/assets", response_model=AssetsResponse)
async def get_assets(
    request: Request,
    state: StateDep,
    reader: ReaderDep,
    request_id: RequestIdDep,
    ticker: Annotated[Ticker | None, Query(description="Assets quoted under it.")] = None,
    flag: Annotated[Flag | None, Query(description="Only assets with this flag.")] = None,
    search: Annotated[Search | None, Query(description=SEARCH_DESCRIPTION)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    cursor: Annotated[Cursor | None, Query(description=CURSOR_DESCRIPTION)] = None,
) -> ExactJSONResponse:
    """One entry per canonical asset, by market cap: consensus price, sources and flags."""
    check_cursor_or_offset(cursor, offset)
    after = None if cursor is None else rank_key(cursor)
    rules = flag_rules(state.settings)
    flt = AssetFilter(ticker, flag, search)
    page = await list_assets(reader, flt, rules, limit, offset, after)
    body = {
        "data": page.assets,
        "pagination": {
            "limit": limit,
            "offset": offset,
            "returned": len(page.assets),
            "total": page.total,
            "next_cursor": rank_cursor(page.next_key),
        },
        "meta": response_meta(request, request_id),
    }
    return ExactJSONResponse(body)


@router.get("/assets/review")
async def get_review(
    request: Request,
    reader: ReaderDep,
    request_id: RequestIdDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ExactJSONResponse:
    """Pairs the evidence suggests but kept apart (most likely first), then ambiguous mappings."""
    items, total = await review(reader, limit, offset)
    body = {
        "data": items,
        "pagination": {
            "limit": limit,
            "offset": offset,
            "returned": len(items),
            "total": total,
            "next_cursor": None,
        },
        "meta": response_meta(request, request_id),
    }
    return ExactJSONResponse(body)


def _neither() -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "missing",
                "loc": ("query", "source_coin_id"),
                "msg": "give source and source_coin_id, or platform and contract",
                "input": None,
            }
        ]
    )


_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # no control characters (PostgreSQL rejects NUL)


@router.get("/assets/resolve", response_model=AssetResponse, responses=NOT_FOUND)
async def get_resolve(
    request: Request,
    state: StateDep,
    reader: ReaderDep,
    request_id: RequestIdDep,
    source: Annotated[SourceName | None, Query(description="e.g. `coingecko`.")] = None,
    source_coin_id: Annotated[str | None, Query(max_length=200, pattern=_PRINTABLE)] = None,
    platform: Annotated[str | None, Query(max_length=100, pattern=_PRINTABLE)] = None,
    contract: Annotated[str | None, Query(max_length=200, pattern=_PRINTABLE)] = None,
) -> ExactJSONResponse:
    """The asset of a source's coin, or of a token contract."""
    rules = flag_rules(state.settings)
    if source is not None and source_coin_id is not None:
        entry = await resolve_coin(reader, source, source_coin_id, rules)
    elif platform is not None and contract is not None:
        entry = await resolve_contract(reader, platform, contract, rules)
    else:
        raise _neither()
    return ExactJSONResponse({"data": entry, "meta": response_meta(request, request_id)})


@router.get("/assets/{asset_id}", response_model=AssetResponse, responses=NOT_FOUND)
async def get_one_asset(
    request: Request,
    state: StateDep,
    reader: ReaderDep,
    request_id: RequestIdDep,
    asset_id: AssetId,
) -> ExactJSONResponse:
    """One asset, with how each source's coin was mapped to it."""
    entry = await get_asset(reader, asset_id, flag_rules(state.settings))
    return ExactJSONResponse({"data": entry, "meta": response_meta(request, request_id)})


def _history_cursor(cursor: str, interval: str) -> ObservationKey | datetime:
    values = decode_cursor(cursor, 3 if interval == "raw" else 1)
    try:
        if not all(isinstance(v, str) for v in values):
            raise InvalidValueError("not text")
        instant = parse_timestamp(values[0], "cursor")
    except InvalidValueError:
        raise invalid_cursor(cursor) from None
    if instant is None:
        raise invalid_cursor(cursor)
    return ObservationKey(instant, values[1], values[2]) if interval == "raw" else instant


Fill = Literal["none", "previous"]
FILL_DESCRIPTION = (
    "With `interval=1h|1d`: `previous` carries the last close into empty buckets inside "
    "covered ranges (marked `filled: true`); never across a gap (see /assets/{id}/coverage)."
)


def _fill_needs_buckets(fill: str) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": ("query", "fill"),
                "msg": "fill=previous needs interval=1h or 1d (raw observations are never filled)",
                "input": fill,
            }
        ]
    )


@router.get("/assets/{asset_id}/history", response_model=HistoryResponse, responses=NOT_FOUND)
async def get_asset_history(
    request: Request,
    state: StateDep,
    reader: ReaderDep,
    request_id: RequestIdDep,
    asset_id: AssetId,
    start: Annotated[StartDate | None, Query(description="Inclusive, on observation time.")] = None,
    end: Annotated[EndDate | None, Query(description="Inclusive, on observation time.")] = None,
    source: Annotated[SourceName | None, Query(description="Only this source's quotes.")] = None,
    interval: Annotated[
        Interval,
        Query(description="`raw` observations, or OHLC candles of 5m, 1h or 1d (UTC)."),
    ] = "raw",
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    cursor: Annotated[Cursor | None, Query(description=CURSOR_DESCRIPTION)] = None,
    fill: Annotated[Fill, Query(description=FILL_DESCRIPTION)] = "none",
) -> ExactJSONResponse:
    """Every observation of the asset, oldest first, or OHLC candles from the rollups."""
    check_date_range(start, end, ("start", "end"))
    if fill != "none" and interval == "raw":
        raise _fill_needs_buckets(fill)
    after = None if cursor is None else _history_cursor(cursor, interval)
    flt = HistoryFilter(asset_id=asset_id, source=source, start=start, end=end)
    filler = FillPrevious(live_cadence(state.settings)) if fill == "previous" else None
    page = await asset_history(reader, flt, interval, limit, after, filler)
    next_cursor = page.next_cursor and encode_cursor(*page.next_cursor)
    body = {
        "asset_id": asset_id,
        "interval": interval,
        "data": page.points,
        "pagination": {"limit": limit, "returned": len(page.points), "next_cursor": next_cursor},
        "meta": response_meta(request, request_id),
    }
    return ExactJSONResponse(body)
