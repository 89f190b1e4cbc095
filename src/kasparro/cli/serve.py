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
    # access_log off: our middleware logs each request with its request_id instead
    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=True, access_log=False)
