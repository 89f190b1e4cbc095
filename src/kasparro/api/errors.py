"""Translate errors into JSON at the edge: our error tree, and an unreachable database as 503."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kasparro.db.errors import DATABASE_DOWN_ERRORS, is_database_down
from kasparro.errors import KasparroError

logger = logging.getLogger(__name__)

__all__ = ["DATABASE_DOWN_ERRORS", "install_error_handlers", "is_database_down"]


async def _kasparro_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KasparroError)
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_down(exc):
        logger.error("database error", exc_info=exc)
        return JSONResponse({"detail": "Internal error"}, status_code=500)
    logger.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse({"detail": "Database unavailable, try again shortly"}, status_code=503)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KasparroError, _kasparro_error)
    for error in DATABASE_DOWN_ERRORS:
        app.add_exception_handler(error, _database_down)
