"""`kasparro serve`"""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from kasparro.cli.bootstrap import database_url, load_settings, migrate


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes; each runs the scheduler (locks keep runs single).",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Apply migrations, then serve the API and run the ETL scheduler."""
    from kasparro.api.app import create_app

    settings = load_settings()
    url = database_url(settings)
    migrate(url)
    # SIGTERM: stop accepting, give open requests 5 s, then the lifespan stops a run in flight
    # (recorded as interrupted), so the process is gone well within 10 s.
    if workers == 1:
        app = create_app(settings, database_url=url, run_scheduler=True)
        uvicorn.run(
            app, host=host, port=port, log_config=None, proxy_headers=True,
            timeout_graceful_shutdown=5,
        )  # fmt: skip
        return
    # Worker processes build their own app from the environment: point them at this
    # process's server (the embedded one included, which lives as long as this process).
    os.environ["DATABASE_URL"] = url
    uvicorn.run(
        "kasparro.api.app:create_worker_app", factory=True, workers=workers, host=host,
        port=port, log_config=None, proxy_headers=True, timeout_graceful_shutdown=5,
    )  # fmt: skip
