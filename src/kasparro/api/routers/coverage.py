"""`GET /assets/{asset_id}/coverage`: what of an asset's history is stored, why the rest is not."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kasparro.api.deps import ReaderDep, RequestIdDep, StateDep
from kasparro.api.middleware import response_meta
from kasparro.api.params import SourceName
from kasparro.api.rendering import ExactJSONResponse
from kasparro.api.routers.assets import NOT_FOUND, AssetId
from kasparro.api.schemas.coverage import CoverageResponse
from kasparro.services.coverage import coverage_map, live_cadence

router = APIRouter(tags=["assets"])


@router.get("/assets/{asset_id}/coverage", response_model=CoverageResponse, responses=NOT_FOUND)
async def get_coverage(
    request: Request,
    state: StateDep,
    reader: ReaderDep,
    request_id: RequestIdDep,
    asset_id: AssetId,
    source: Annotated[SourceName | None, Query(description="Only this source's coins.")] = None,
) -> ExactJSONResponse:
    """Per source coin: the ranges its history is covered by and each gap with its reason."""
    cadence = live_cadence(state.settings)
    sources = await coverage_map(reader, asset_id, source, cadence)
    meta = response_meta(request, request_id)
    meta["live_cadence_seconds"] = int(cadence.total_seconds())
    return ExactJSONResponse({"asset_id": asset_id, "sources": sources, "meta": meta})
