from __future__ import annotations

from fastapi import APIRouter, Response

from kasparro import __version__
from kasparro.api.schemas.status import RootResponse

router = APIRouter(tags=["service"])

ENDPOINTS = {
    "health": "/health",
    "data": "/data",
    "stats": "/stats",
    "trigger_etl": "/trigger-etl",
    "docs": "/docs",
    "openapi": "/openapi.json",
    "dashboard": "/dashboard",
}


@router.get("/", response_model=RootResponse)
async def root() -> RootResponse:
    """Name, version and where everything is."""
    return RootResponse(
        name="Kasparro Backend & ETL", version=__version__, status="running", endpoints=ENDPOINTS
    )


@router.head("/", include_in_schema=False)
async def root_head() -> Response:
    """Probes that send HEAD get the 200 a GET would."""
    return Response(status_code=200, media_type="application/json")
