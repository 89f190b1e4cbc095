"""`kasparro coverage ASSET`: the coverage map as a table, with a one-line timeline per source."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kasparro.cli.bootstrap import database_url, load_settings, migrate
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.errors import NotFoundError
from kasparro.repositories.driver import plain_driver
from kasparro.services.coverage import coverage_map, live_cadence
from kasparro.sources import registry

TIMELINE_WIDTH = 60
# One character per kind; a cell shows the kind holding most of its time.
SYMBOLS = {
    "covered": "#",
    "rollups_only": "=",
    "failed": "X",
    "plan_limit": "P",
    "upstream_empty": "E",
    "not_fetched": ".",
    "not_observed": "~",
}
LEGEND = "  ".join(f"{char} {kind}" for kind, char in SYMBOLS.items())


async def _load(
    settings: Settings, url: str, asset_id: str, source: str | None
) -> list[dict[str, Any]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            driver = await plain_driver(conn)
            return await coverage_map(driver, asset_id, source, live_cadence(settings))
    finally:
        await engine.dispose()


def _stretches(entry: dict[str, Any]) -> list[tuple[datetime, datetime, str]]:
    covered = [(r["start"], r["end"], r.get("status", "covered")) for r in entry["ranges"]]
    gaps = [(g["start"], g["end"], g["reason"]) for g in entry["gaps"]]
    return sorted(covered + gaps)


def timeline(
    stretches: list[tuple[datetime, datetime, str]],
    first: datetime,
    last: datetime,
    width: int = TIMELINE_WIDTH,
) -> str:
    """`width` characters from `first` to `last`, each the kind that holds most of its slice
    of time (ties: the order of SYMBOLS), a blank where nothing is known."""
    cell = (last - first) / width
    kinds = list(SYMBOLS)
    out = []
    for i in range(width):
        lo, hi = first + cell * i, first + cell * (i + 1)
        held: dict[str, timedelta] = {}
        for start, end, kind in stretches:
            overlap = min(end, hi) - max(start, lo)
            if overlap > timedelta(0):
                held[kind] = held.get(kind, timedelta(0)) + overlap
        best = max(held, key=lambda k: (held[k], -kinds.index(k))) if held else None
        out.append(" " if best is None else SYMBOLS[best])
    return "".join(out)


def _when(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M")


def _table(entries: list[dict[str, Any]]) -> Table:
    table = Table("source", "coin id", "from (UTC)", "to (UTC)", "coverage", "observations")
    for entry in entries:
        for start, end, kind in _stretches(entry):
            ranged = kind in ("covered", "rollups_only")
            found = [r for r in entry["ranges"] if r["start"] == start] if ranged else []
            if found:
                label = "covered" if kind == "covered" else "rollups only"
                what, count = f"{label} {found[0]['interval']}", str(found[0]["observations"])
            else:
                gap = next(g for g in entry["gaps"] if g["start"] == start)
                what = kind + (f": {gap['error']}" if gap.get("error") else "")
                count = ""
            row = (entry["source"], entry["source_coin_id"], _when(start), _when(end), what, count)
            table.add_row(*(escape(cell) for cell in row))
    return table


def _render(console: Console, asset_id: str, entries: list[dict[str, Any]]) -> None:
    console.print(f"[bold]{escape(asset_id)}[/bold] coverage")
    if not entries:
        console.print("  no coin of this asset at the source(s) asked for")
        return
    per_source = [(entry, _stretches(entry)) for entry in entries]
    known = [s for _, stretches in per_source for s in stretches]
    if not known:
        console.print("  nothing stored or requested yet")
        return
    first, last = min(s[0] for s in known), max(s[1] for s in known)
    console.print(f"  timeline {_when(first)} .. {_when(last)} (UTC), one line per source:")
    name_width = max(len(f"{e['source']} {e['source_coin_id']}") for e in entries)
    for entry, stretches in per_source:
        label = f"{entry['source']} {entry['source_coin_id']}".ljust(name_width)
        console.print(f"  {escape(label)}  |{escape(timeline(stretches, first, last))}|")
    console.print(f"  legend: {escape(LEGEND)}")
    console.print(_table(entries))


def coverage(
    asset: Annotated[str, typer.Argument(help="An asset id, e.g. bitcoin (see GET /assets).")],
    source: Annotated[
        str | None,
        typer.Option(help=f"Only this source: {', '.join(registry.known_sources())}."),
    ] = None,
) -> None:
    """What of an asset's history is stored, per source, and why each gap is one."""
    if source is not None and registry.unknown_sources([source]):
        known = ", ".join(registry.known_sources())
        typer.echo(f"Error: unknown source {source!r} (known: {known})", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    url = database_url(settings)
    migrate(url)
    asset_id = asset.strip().lower()
    try:
        entries = asyncio.run(_load(settings, url, asset_id, source))
    except NotFoundError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    _render(Console(), asset_id, entries)
