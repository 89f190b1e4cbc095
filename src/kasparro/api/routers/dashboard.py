"""`/dashboard`: one static page (and its scripts) that reads the public JSON API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"
PAGE = DASHBOARD_DIR / "index.html"


def _page() -> FileResponse:
    # The page is the same for every view; its script picks the view from the URL.
    return FileResponse(PAGE, media_type="text/html")


@router.get("/dashboard")
async def dashboard() -> FileResponse:
    return _page()


@router.get("/dashboard/assets/{asset_id}")
async def dashboard_asset(asset_id: Annotated[str, PathParam(max_length=200)]) -> FileResponse:
    del asset_id  # read by the page's script from its URL
    return _page()


def install_dashboard(app: FastAPI) -> None:
    """The page's routes and its static files (HTML, CSS, JS, the vendored chart library)."""
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=DASHBOARD_DIR), name="dashboard")
