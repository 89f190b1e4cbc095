"""`kasparro assets ...`"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kasparro.cli.bootstrap import database_url, load_settings, migrate
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.errors import NotFoundError
from kasparro.repositories import assets_read
from kasparro.services.assets import flag_rules, get_asset

app = typer.Typer(help="Canonical assets.", no_args_is_help=True)


async def _load(settings: Settings, url: str, wanted: str) -> list[dict[str, Any]]:
    """The asset with that id, else every asset quoted under that ticker."""
    engine = create_engine(url, pool_size=1)
    rules = flag_rules(settings)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            try:
                return [await get_asset(driver, wanted.strip().lower(), rules)]
            except NotFoundError:
                pass
            ids = await assets_read.asset_ids_for_ticker(driver, wanted.strip().upper())
            return [await get_asset(driver, asset_id, rules) for asset_id in ids]
    finally:
        await engine.dispose()


def _render(console: Console, asset: dict[str, Any]) -> None:
    flags = ", ".join(asset["flags"]) or "none"
    console.print(
        f"[bold]{asset['asset_id']}[/bold]  {asset['ticker']}  {asset['name'] or ''}\n"
        f"  consensus price: {asset['price_usd']} USD ({asset['consensus']['method']} of "
        f"{', '.join(asset['consensus']['used'])})\n"
        f"  divergence: {asset['divergence_pct']} %   flags: {flags}"
    )
    methods = {(m["source"], m["source_coin_id"]): m for m in asset["mappings"]}
    table = Table("source", "coin id", "price_usd", "observed at (UTC)", "mapped by")
    for quote in asset["sources"]:
        mapping = methods.get((quote["source"], quote["source_coin_id"]), {})
        how = mapping.get("method", "?") + (" (ambiguous)" if mapping.get("ambiguous") else "")
        observed = quote["observed_at"].strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            quote["source"], quote["source_coin_id"], str(quote["price_usd"]),
            observed + (" stale" if quote["stale"] else ""), how,
        )  # fmt: skip
    console.print(table)


@app.command("show")
def show(
    asset: Annotated[str, typer.Argument(help="A ticker (BTC) or an asset id (bitcoin).")],
) -> None:
    """The unified view of an asset and each source's latest quote."""
    settings = load_settings()
    url = database_url(settings)
    migrate(url)
    found = asyncio.run(_load(settings, url, asset))
    console = Console()
    if not found:
        typer.echo(f"No asset with id or ticker {asset!r}.", err=True)
        raise typer.Exit(1)
    for entry in found:
        _render(console, entry)
