"""create_app(): the FastAPI application, with clients built in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from kasparro import __version__
from kasparro.api.errors import install_error_handlers
from kasparro.api.middleware import request_context
from kasparro.api.routers import assets, data, health, root, stats, trigger
from kasparro.api.state import AppState
from kasparro.config import Settings
from kasparro.db.engine import create_engine, resolve_database_url
from kasparro.pipeline.jobs import build_runner, new_http_client
from kasparro.pipeline.scheduler import close_abandoned_runs, run_periodically

DESCRIPTION = (
    "Crypto market data from CoinPaprika, CoinGecko and CSV files, normalized "
    "(uppercase tickers, prices exact to 8 decimals, UTC timestamps) and served from PostgreSQL."
)


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    run_scheduler: bool = False,
) -> FastAPI:
    """Build the app; the database URL defaults to the configured or embedded server."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(database_url or resolve_database_url(settings))
        http = new_http_client()
        runner = build_runner(engine, settings, http)
        app.state.kasparro = AppState(settings=settings, engine=engine, runner=runner)
        scheduler = None
        if run_scheduler:  # `serve`: close runs a dead process left `running`
            await close_abandoned_runs(runner)
        if run_scheduler and settings.etl_interval_seconds > 0:
            scheduler = asyncio.create_task(run_periodically(runner, settings.etl_interval_seconds))
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler
            await runner.cancel_background()
            await http.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Kasparro Backend & ETL",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.middleware("http")(request_context)
    install_error_handlers(app)
    for module in (root, health, data, assets, stats, trigger):
        app.include_router(module.router)
    return app


def create_worker_app() -> FastAPI:
    """The app of one `kasparro serve --workers N` process, configured from the environment."""
    from kasparro.observability.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings, run_scheduler=True)
