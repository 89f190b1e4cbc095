"""create_app(): the FastAPI application, with clients built in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro import __version__
from kasparro.api.errors import install_error_handlers
from kasparro.api.middleware import RequestContext
from kasparro.api.rate_limit import RateLimitMiddleware
from kasparro.api.routers import (
    assets,
    coverage,
    data,
    docs,
    export,
    health,
    metrics,
    root,
    runs,
    stats,
    stream,
    trigger,
)
from kasparro.api.routers.dashboard import install_dashboard
from kasparro.api.security import install_security, warn_weak_settings
from kasparro.api.state import AppState
from kasparro.config import Settings
from kasparro.db.engine import create_engine, resolve_database_url
from kasparro.db.reader import create_read_pool
from kasparro.db.replica import ReadRoute
from kasparro.pipeline.gc_tuning import freeze_startup_heap
from kasparro.pipeline.jobs import (
    api_requests,
    asset_catalog,
    build_refresher,
    build_runner,
    new_http_client,
)
from kasparro.pipeline.retention import Retention
from kasparro.pipeline.scheduler import Scheduler, close_abandoned_runs
from kasparro.services.stream_hub import StreamHub

DESCRIPTION = (
    "Crypto market data from CoinPaprika, CoinGecko and CSV files, normalized "
    "(uppercase tickers, prices exact to 8 decimals, UTC timestamps) and served from PostgreSQL."
)


async def open_read_route(
    settings: Settings, engine: AsyncEngine, read_pool: asyncpg.Pool
) -> ReadRoute:
    """The read routes' target: DATABASE_READ_URL's replica when set (probed once now, so
    one unreachable at start sends reads to the primary from the first request)."""
    if settings.database_read_url is None:
        return ReadRoute(read_pool, engine)
    url = settings.database_read_url.get_secret_value()
    replica_pool = await create_read_pool(
        url, statement_timeout_ms=settings.api_statement_timeout_ms
    )
    reads = ReadRoute(read_pool, engine, replica_pool, create_engine(url, pool_size=5))
    await reads.probe()
    return reads


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
        warn_weak_settings(settings)
        url = database_url or resolve_database_url(settings)
        engine = create_engine(url)
        read_pool = await create_read_pool(
            url, statement_timeout_ms=settings.api_statement_timeout_ms
        )
        reads = await open_read_route(settings, engine, read_pool)
        watcher = asyncio.create_task(reads.watch()) if reads.configured else None
        http = new_http_client(settings)
        requests, catalog = api_requests(http, settings, engine), asset_catalog(settings)
        runner = build_runner(engine, settings, http, requests, catalog)
        keep = Retention(settings.history_retention_days, settings.raw_retention_days)
        schedule = Scheduler(
            runner, settings.etl_interval_seconds, settings.etl_jitter_seconds,
            refresher=build_refresher(engine, settings, requests, catalog), retention=keep,
        )  # fmt: skip
        on = run_scheduler and settings.etl_interval_seconds > 0
        hub = StreamHub(  # it connects with its first /stream client
            url, client_queue=settings.stream_client_queue,
            max_clients=settings.stream_max_clients, replay_seconds=settings.stream_replay_seconds,
        )  # fmt: skip
        app.state.kasparro = AppState(
            settings, engine, runner, read_pool, reads, hub, schedule if on else None
        )
        if run_scheduler and not on:  # `serve`: close runs a dead process left `running`
            await close_abandoned_runs(runner)  # (with a schedule, its leader does it)
        scheduler = asyncio.create_task(schedule.run_forever()) if on else None
        if run_scheduler:  # a served worker, not an app built by a test
            freeze_startup_heap()
        try:
            yield
        finally:
            for task in (scheduler, watcher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await runner.cancel_background()
            await hub.close()
            await http.aclose()
            await reads.close()
            await read_pool.close()
            await engine.dispose()

    app = FastAPI(
        title="Kasparro Backend & ETL",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by routers/docs.py from the package's own files
        redoc_url=None,
    )
    if settings.api_rate_limit is not None:  # added first: innermost, inside CORS and the rest
        app.add_middleware(RateLimitMiddleware, limit=settings.api_rate_limit,
                           trusted_proxies=settings.trusted_proxies)  # fmt: skip
    install_security(app, settings)
    app.add_middleware(RequestContext)
    install_error_handlers(app)
    for module in (root, health, data, assets, coverage, stats, trigger, runs, metrics, docs):
        app.include_router(module.router)
    app.include_router(export.router)
    app.include_router(stream.router)
    install_dashboard(app)
    return app
