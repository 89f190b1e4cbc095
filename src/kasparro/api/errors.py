"""Translate errors into JSON at the edge: our error tree, and an unreachable database as 503."""

from __future__ import annotations

import logging

import asyncpg.exceptions
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from kasparro.errors import KasparroError

logger = logging.getLogger(__name__)

# asyncpg's own, raised on the read path, which talks to the driver directly:
# a lost connection, and the server shutting down or refusing connections while starting.
DRIVER_DOWN_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)
# What a lost or unreachable database raises on this stack (DBAPIError is checked further).
DATABASE_DOWN_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    PoolTimeoutError,
    OSError,
    TimeoutError,
    *DRIVER_DOWN_ERRORS,
    asyncpg.exceptions.InterfaceError,  # checked further: only "connection is closed"
)


def is_database_down(exc: BaseException) -> bool:
    """True for connection-level failures, False for errors in a statement."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    if isinstance(exc, asyncpg.exceptions.InterfaceError):  # "connection is closed"
        return "closed" in str(exc)
    return isinstance(exc, DATABASE_DOWN_ERRORS)


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
