"""Translate errors into JSON at the edge: our error tree, and an unreachable database or a
query cancelled by its timeout as 503."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kasparro.db.errors import (
    DATABASE_DOWN_ERRORS,
    QUERY_TIMEOUT_ERRORS,
    is_database_down,
    is_query_timeout,
)
from kasparro.errors import KasparroError

logger = logging.getLogger(__name__)

QUERY_TIMEOUT_DETAIL = "Database query cancelled by its time limit; try again shortly"

__all__ = [
    "DATABASE_DOWN_ERRORS",
    "install_error_handlers",
    "is_database_down",
    "is_query_timeout",
]


async def _kasparro_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KasparroError)
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code)


async def _query_timed_out(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("%s %s: query cancelled by its timeout (%s)",
                   request.method, request.url.path, type(exc).__name__)  # fmt: skip
    return JSONResponse({"detail": QUERY_TIMEOUT_DETAIL}, status_code=503)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    if is_query_timeout(exc):
        return await _query_timed_out(request, exc)
    if not is_database_down(exc):
        logger.error("database error", exc_info=exc)
        return JSONResponse({"detail": "Internal error"}, status_code=500)
    logger.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse({"detail": "Database unavailable, try again shortly"}, status_code=503)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KasparroError, _kasparro_error)
    for error in DATABASE_DOWN_ERRORS:
        app.add_exception_handler(error, _database_down)
    for error in QUERY_TIMEOUT_ERRORS:
        app.add_exception_handler(error, _query_timed_out)
