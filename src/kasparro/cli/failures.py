"""Expected failures end a command with one `Error: …` line and a documented exit status.

A traceback only with `kasparro --debug …` or `LOG_LEVEL=DEBUG`: for an operator, a database that
is down or a port that is taken is a sentence, not a stack.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import asyncpg.exceptions

from kasparro.db.errors import DATABASE_DOWN_ERRORS, is_database_down
from kasparro.errors import KasparroError

EXIT_CONFIG = 2  # bad usage or settings, embedded PostgreSQL cannot start
EXIT_DATABASE = 4  # the database is unreachable, refused us, or was lost
EXIT_SYSTEM = 5  # the operating system said no: port in use, permission denied, no such file

debug = False  # set by the global --debug option


def wants_traceback() -> bool:
    return debug or os.environ.get("LOG_LEVEL", "").strip().upper() == "DEBUG"


def classify(exc: BaseException) -> tuple[int, str] | None:
    """The exit status and message for an expected failure; None for a bug."""
    if isinstance(exc, KasparroError):
        return EXIT_CONFIG, exc.message
    if isinstance(exc, ConnectionError) or (
        isinstance(exc, DATABASE_DOWN_ERRORS) and not isinstance(exc, OSError)
        and is_database_down(exc)
    ):  # fmt: skip
        return EXIT_DATABASE, f"the database is unreachable or was lost: {_one_line(exc)}"
    if isinstance(
        exc,
        asyncpg.exceptions.InvalidAuthorizationSpecificationError
        | asyncpg.exceptions.InvalidCatalogNameError,
    ):
        return EXIT_DATABASE, f"the database refused the connection: {_one_line(exc)}"
    if isinstance(exc, OSError):
        return EXIT_SYSTEM, _one_line(exc)
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def run_cli(app: Callable[[], object]) -> None:
    """Run the Typer app, turning expected failures into one line and their exit status."""
    try:
        app()
    except Exception as exc:
        known = classify(exc)
        if known is None or wants_traceback():
            raise
        status, message = known
        print(f"Error: {message}", file=sys.stderr)
        sys.exit(status)
