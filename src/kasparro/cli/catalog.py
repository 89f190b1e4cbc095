"""`kasparro catalog ...`"""

from __future__ import annotations

import asyncio

import typer

from kasparro.cli.bootstrap import database_url, load_settings, migrate
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.pipeline.contracts import RefreshOutcome
from kasparro.pipeline.jobs import api_requests, build_refresher, new_http_client

app = typer.Typer(help="The sources' coin catalogs (token contracts).", no_args_is_help=True)

EXIT_FAILED = 1
EXIT_NOTHING = 2
EXIT_BUSY = 3


async def _refresh(settings: Settings, url: str) -> list[RefreshOutcome]:
    engine = create_engine(url, pool_size=3)
    try:
        async with new_http_client(settings) as http:
            refresher = build_refresher(engine, settings, api_requests(http, settings, engine))
            if not refresher.sources:
                return []
            return await refresher.refresh()
    finally:
        await engine.dispose()


def _line(outcome: RefreshOutcome, interval: int) -> str:
    if outcome.status == "refreshed":
        return (
            f"{outcome.source}: refreshed, {outcome.contracts} contracts "
            f"({outcome.requests} requests)"
        )
    last = outcome.last_success.isoformat() if outcome.last_success else "never"
    if outcome.status == "fresh":
        return (
            f"{outcome.source}: up to date (refreshed {last}; "
            f"CATALOG_REFRESH_SECONDS={interval}), nothing fetched"
        )
    return f"{outcome.source}: {outcome.status}: {outcome.message}"


@app.command("refresh")
def refresh() -> None:
    """Fetch the enabled sources' token contracts unless fetched within CATALOG_REFRESH_SECONDS.

    Exit 0 on success (or nothing due), 1 if a source's upstream failed (what was stored
    before is kept), 2 if no enabled source lists contracts, 3 if another process is
    refreshing one.
    """
    settings = load_settings()
    url = database_url(settings)
    migrate(url)
    outcomes = asyncio.run(_refresh(settings, url))
    if not outcomes:
        typer.echo(
            "Error: no enabled source lists token contracts (ETL_SOURCES: "
            f"{','.join(settings.etl_sources)})",
            err=True,
        )
        raise typer.Exit(EXIT_NOTHING)
    for outcome in outcomes:
        if outcome.status in ("refreshed", "fresh"):
            typer.echo(_line(outcome, settings.catalog_refresh_seconds))
    failed = [o for o in outcomes if o.status == "failed"]
    busy = [o for o in outcomes if o.status == "busy"]
    if failed or busy:
        worst = failed or busy
        detail = "; ".join(f"{o.source}: {o.message}" for o in worst)
        if failed:
            detail += " (the contracts stored before are kept)"
        typer.echo(f"Error: catalog refresh {worst[0].status}: {detail}", err=True)
        raise typer.Exit(EXIT_FAILED if failed else EXIT_BUSY)
