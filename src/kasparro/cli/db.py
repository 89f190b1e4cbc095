"""`kasparro db ...`"""

from __future__ import annotations

import typer

from kasparro.cli.bootstrap import database_url, load_settings, migrate

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply Alembic migrations up to the newest revision."""
    settings = load_settings()
    migrate(database_url(settings))
    typer.echo("Database schema is up to date.")
