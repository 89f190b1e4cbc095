"""Which exceptions mean "the database is unreachable", as opposed to a failing statement."""

from __future__ import annotations

import asyncpg.exceptions
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

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
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        return "closed" in str(exc)
    return isinstance(exc, DATABASE_DOWN_ERRORS)
