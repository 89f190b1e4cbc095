"""`kasparro assets ...`"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kasparro.cli.bootstrap import database_url, load_settings, migrate
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.domain.asset_overrides import edit_overrides
from kasparro.domain.identity import is_valid_asset_id
from kasparro.errors import NotFoundError
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.repositories import assets_read
from kasparro.services.assets import flag_rules, get_asset, review
from kasparro.sources import registry

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


async def _review(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            return (await review(driver, 1000, 0))[0]
    finally:
        await engine.dispose()


@app.command("review")
def review_command() -> None:
    """Pairs the evidence suggests but kept apart, most likely first; then ambiguous mappings."""
    settings = load_settings()
    url = database_url(settings)
    migrate(url)
    items = asyncio.run(_review(url))
    if not items:
        typer.echo("Nothing to review.")
        return
    table = Table("kind", "score", "coins (source coin id -> asset)", "evidence")
    for item in items:
        coins = "\n".join(
            f"{c['source']} {c['source_coin_id']} ({c['ticker']} {c['name'] or ''})"
            f" -> {c['asset_id']}"
            for c in item["coins"]
        )
        score = "" if item["score"] is None else f"{item['score']:.2f}"
        table.add_row(item["kind"], score, coins, json.dumps(item["evidence"] or {}))
    Console(width=200).print(table)


async def _apply(settings: Settings, url: str) -> int:
    engine = create_engine(url, pool_size=1)
    catalog = AssetCatalog(
        settings.asset_overrides_path, timedelta(seconds=settings.stale_after_seconds)
    )
    try:
        return await catalog.reconcile(engine)
    finally:
        await engine.dispose()


def _write_override(source: str, coin_id: str, asset_id: str | None) -> None:
    known = registry.known_sources()
    if source.lower() not in known:
        typer.echo(f"Unknown source {source!r}; expected one of {', '.join(known)}.", err=True)
        raise typer.Exit(2)
    if asset_id is not None and not is_valid_asset_id(asset_id):
        typer.echo(
            f"Invalid asset id {asset_id!r}: lowercase letters, digits and dashes.", err=True
        )
        raise typer.Exit(2)
    settings = load_settings()
    path = settings.asset_overrides_path
    try:
        old = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        old = ""
    path.write_text(edit_overrides(old, source, coin_id, asset_id), encoding="utf-8")
    url = database_url(settings)
    migrate(url)
    moved = asyncio.run(_apply(settings, url))
    typer.echo(f"Wrote {path}; {moved} coin(s) moved.")


@app.command("link")
def link(
    source: Annotated[str, typer.Argument(help="csv, coinpaprika or coingecko.")],
    coin_id: Annotated[str, typer.Argument(help="The source's coin id (csv: the ticker).")],
    asset_id: Annotated[str, typer.Argument(help="The asset the coin is.")],
) -> None:
    """Pin a coin to an asset in the override file (comments kept), then apply it."""
    _write_override(source, coin_id, asset_id)


@app.command("unlink")
def unlink(
    source: Annotated[str, typer.Argument(help="csv, coinpaprika or coingecko.")],
    coin_id: Annotated[str, typer.Argument(help="The source's coin id (csv: the ticker).")],
) -> None:
    """Remove a coin's line from the override file, then let the evidence decide again."""
    _write_override(source, coin_id, None)
