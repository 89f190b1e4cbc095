"""What every command does first: settings (failing with one clear line), logging, database URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from kasparro.cli.failures import wants_traceback
from kasparro.config import Settings, describe_settings_error
from kasparro.db.engine import resolve_database_url
from kasparro.errors import KasparroError
from kasparro.observability.logging import configure_logging

if TYPE_CHECKING:
    from kasparro.db.migrate import AfterUpgrade


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(describe_settings_error(exc), err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def database_url(settings: Settings) -> str:
    try:
        return resolve_database_url(settings)
    except KasparroError as exc:
        if wants_traceback():
            raise
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(2) from None


def prepare_database(settings: Settings, url: str) -> None:
    """Migrate, then give coins stored before the asset catalog their assets (both under the
    migration lock, so a process that waited for another's upgrade finds them mapped)."""
    from kasparro.pipeline.upgrade import map_existing_coins

    migrate(url, after=lambda: map_existing_coins(url, settings))


def migrate(url: str, after: AfterUpgrade | None = None) -> None:
    from kasparro.db.migrate import upgrade_to_head

    try:
        upgrade_to_head(url, after)
    except (OSError, ConnectionError) as exc:
        if wants_traceback():
            raise
        typer.echo(f"Error: cannot reach the database to migrate it: {exc}", err=True)
        raise typer.Exit(4) from None  # EXIT_DATABASE in cli/failures.py
