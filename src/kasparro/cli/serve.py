"""`kasparro serve`"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from kasparro.cli.bootstrap import database_url, load_settings, migrate


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Apply migrations, then serve the API and run the ETL scheduler."""
    from kasparro.api.app import create_app

    settings = load_settings()
    url = database_url(settings)
    migrate(url)
    app = create_app(settings, database_url=url, run_scheduler=True)
    # SIGTERM: stop accepting, give open requests 5 s, then the lifespan stops a run in flight
    # (recorded as interrupted), so the process is gone well within 10 s.
    uvicorn.run(
        app, host=host, port=port, log_config=None, proxy_headers=True, timeout_graceful_shutdown=5
    )
