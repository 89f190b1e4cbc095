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


# admin_shutdown, crash_shutdown, cannot_connect_now: the server stopping (`pg_ctl stop -m fast`)
# or still in recovery; SQLAlchemy wraps these in its generic DBAPIError.
SHUTDOWN_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


# query_canceled (statement_timeout, or pg_cancel_backend) and lock_not_available (lock_timeout):
# a statement given up on, with the database itself fine.
TIMED_OUT_SQLSTATES = frozenset({"57014", "55P03"})
QUERY_TIMEOUT_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.LockNotAvailableError,
)


def is_query_timeout(exc: BaseException) -> bool:
    """True for a statement cancelled by `statement_timeout` or `lock_timeout`."""
    if isinstance(exc, DBAPIError):
        return getattr(exc.orig, "sqlstate", None) in TIMED_OUT_SQLSTATES
    return isinstance(exc, QUERY_TIMEOUT_ERRORS)


def is_database_down(exc: BaseException) -> bool:
    """True for connection-level failures, False for errors in a statement."""
    if isinstance(exc, DBAPIError):
        if getattr(exc.orig, "sqlstate", None) in SHUTDOWN_SQLSTATES:
            return True
        if isinstance(getattr(exc.orig, "__cause__", None), DRIVER_DOWN_ERRORS):
            return True  # e.g. a connect cut off by a server going down, wrapped generically
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        return "closed" in str(exc)
    return isinstance(exc, DATABASE_DOWN_ERRORS)


def describe_failure(exc: BaseException) -> str:
    """A run's failure message in one human sentence, not the driver's raw text with its SQL."""
    if is_database_down(exc):
        return "database connection lost during the run"
    if isinstance(exc, DBAPIError):
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else ""
        return f"a database statement failed during the run: {detail[:200]}"
    return f"{type(exc).__name__}: {exc}"
