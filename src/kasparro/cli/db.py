"""`kasparro db ...`"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from kasparro.cli.bootstrap import database_url, load_settings, migrate, prepare_database

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply Alembic migrations up to the newest revision, then map stored coins to assets."""
    settings = load_settings()
    prepare_database(settings, database_url(settings))
    typer.echo("Database schema is up to date.")


async def _rebuild(url: str, assets: list[str]) -> str:
    from kasparro.db.engine import create_engine
    from kasparro.pipeline.rollups import rebuild_rollups

    engine = create_engine(url, pool_size=1)
    try:
        return (await rebuild_rollups(engine, assets)).summary()
    finally:
        await engine.dispose()


@app.command("rebuild-rollups")
def rebuild_rollups_command(
    asset: Annotated[
        list[str] | None,
        typer.Option("--asset", help="Only this asset's coins (repeatable); default: every coin."),
    ] = None,
) -> None:
    """Recompute the 5m, 1h and 1d candles from the stored observations, in one transaction."""
    settings = load_settings()
    url = database_url(settings)
    migrate(url)
    typer.echo(asyncio.run(_rebuild(url, asset or [])))
