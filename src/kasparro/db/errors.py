"""Which exceptions mean "the database is unreachable", as opposed to a failing statement."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# What a lost or unreachable database raises on this stack (DBAPIError is checked further).
DATABASE_DOWN_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    PoolTimeoutError,
    OSError,
    TimeoutError,
)


def is_database_down(exc: BaseException) -> bool:
    """True for connection-level failures, False for errors in a statement."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, DATABASE_DOWN_ERRORS)
