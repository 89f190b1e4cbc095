"""`kasparro dev ...`: tools for offline demos and tests."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Developer tools.", no_args_is_help=True)


@app.command("fake-upstream")
def fake_upstream(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8081,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    paprika_count: Annotated[
        int | None, typer.Option(help="CoinPaprika tickers to serve (default: the 2,009 recorded).")
    ] = None,
    gecko_pages: Annotated[int, typer.Option(help="CoinGecko pages of 250 markets.", min=1)] = 4,
) -> None:
    """Serve recorded CoinPaprika and CoinGecko responses, with faults you can switch on."""
    from kasparro.devtools import run_fake_upstream

    run_fake_upstream(host, port, paprika_count, gecko_pages)
