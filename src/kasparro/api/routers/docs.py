"""`/docs` (Swagger UI) and `/redoc`, served with scripts and styles from the package itself."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

STATIC = "/static"
_SWAGGER = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{static}/swagger-ui/swagger-ui.css"></head>
<body data-openapi-url="{openapi}"><div id="swagger-ui"></div>
<script src="{static}/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-ui/init.js"></script>
</body></html>
"""
_REDOC = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title} - ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="{openapi}"></redoc>
<script src="{static}/redoc/redoc.standalone.js"></script>
</body></html>
"""


def _page(template: str, request: Request) -> HTMLResponse:
    app = request.app
    fields = {"title": escape(app.title), "openapi": escape(app.openapi_url), "static": STATIC}
    return HTMLResponse(template.format(**fields))


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _page(_SWAGGER, request)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _page(_REDOC, request)
