"""`kasparro db ...`"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from kasparro.cli.bootstrap import database_url, load_settings, migrate, prepare_database
from kasparro.pipeline.retention import Retention

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


async def _prune(url: str, keep: Retention, dry_run: bool) -> list[str]:
    from kasparro.db.engine import create_engine
    from kasparro.pipeline.retention import prune

    engine = create_engine(url, pool_size=1)
    try:
        return (await prune(engine, keep, dry_run=dry_run)).lines()
    finally:
        await engine.dispose()


@app.command("prune")
def prune_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be dropped; drop nothing.")
    ] = False,
) -> None:
    """Drop whole months of observations older than HISTORY_RETENTION_DAYS (rollups stay) and
    raw records older than RAW_RETENTION_DAYS, printing one line per partition or table."""
    settings = load_settings()
    keep = Retention(settings.history_retention_days, settings.raw_retention_days)
    if not keep.active:
        typer.echo("Nothing to prune: HISTORY_RETENTION_DAYS and RAW_RETENTION_DAYS are unset.")
        return
    url = database_url(settings)
    migrate(url)
    for line in asyncio.run(_prune(url, keep, dry_run)):
        typer.echo(line)
