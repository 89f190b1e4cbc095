"""`python -m kasparro` runs the CLI."""

from kasparro.cli.main import app

app(prog_name="kasparro")
