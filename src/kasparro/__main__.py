"""`python -m kasparro` runs the CLI."""

from kasparro.cli.main import main

main()
