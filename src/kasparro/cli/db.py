"""`kasparro db ...`"""

from __future__ import annotations

import typer

from kasparro.cli.bootstrap import database_url, load_settings, prepare_database

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply Alembic migrations up to the newest revision, then map stored coins to assets."""
    settings = load_settings()
    prepare_database(settings, database_url(settings))
    typer.echo("Database schema is up to date.")
