"""The `kasparro` command."""

from __future__ import annotations

from typing import Annotated

import typer

from kasparro.cli import assets, backfill, catalog, coverage, db, dev, etl, export, failures, serve

app = typer.Typer(
    help="Kasparro: crypto market-data ETL and REST API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # a bug's traceback stays plain text, greppable in logs
)
app.command("serve")(serve.serve)
app.command("backfill")(backfill.backfill)
app.add_typer(etl.app, name="etl")
app.add_typer(db.app, name="db")
app.add_typer(assets.app, name="assets")
app.command("coverage")(coverage.coverage)
app.command("export")(export.export)
app.add_typer(catalog.app, name="catalog")
app.add_typer(dev.app, name="dev")


@app.callback()
def options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback for expected failures too.")
    ] = False,
) -> None:
    """Kasparro: crypto market-data ETL and REST API."""
    failures.debug = debug


def main() -> None:
    """The `kasparro` command: expected failures end in one `Error: …` line (cli/failures.py)."""
    failures.run_cli(lambda: app(prog_name="kasparro"))
