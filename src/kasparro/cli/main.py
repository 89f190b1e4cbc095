"""The `kasparro` command."""

from __future__ import annotations

import typer

from kasparro.cli import assets, db, dev, etl, serve

app = typer.Typer(
    help="Kasparro: crypto market-data ETL and REST API.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.add_typer(etl.app, name="etl")
app.add_typer(db.app, name="db")
app.add_typer(assets.app, name="assets")
app.add_typer(dev.app, name="dev")
