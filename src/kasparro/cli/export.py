"""`kasparro export`: the selection `/export/history` serves, written to a file from the
database directly (the same service), with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, BinaryIO, get_args

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kasparro.cli.bootstrap import database_url, load_settings, migrate
from kasparro.config import Settings
from kasparro.db.reader import create_read_pool
from kasparro.domain.normalize import InvalidValueError, parse_timestamp
from kasparro.services.export import MAX_ASSETS, Export, ExportLimits, ExportSelection
from kasparro.services.export_formats import Format
from kasparro.sources import registry

INTERVALS = ("raw", "5m", "1h", "1d")
FORMATS: tuple[Format, ...] = get_args(Format)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(2)


def _instant(value: str | None, name: str, *, end: bool = False) -> datetime | None:
    """As the API reads `start`/`end`: ISO 8601; a bare date as `end` includes that day."""
    if value is None:
        return None
    try:
        parsed = parse_timestamp(value, name)
    except InvalidValueError:
        parsed = None
    if parsed is None:
        raise _fail(f"--{name} {value!r} is not an ISO 8601 date or date-time")
    if end and len(value.strip()) == 10:
        return parsed + timedelta(days=1, microseconds=-1)
    return parsed


def _selection(
    assets: list[str], interval: str, start: str | None, end: str | None, sources: list[str]
) -> ExportSelection:
    if not 1 <= len(assets) <= MAX_ASSETS:
        raise _fail(f"give 1 to {MAX_ASSETS} --asset options")
    if interval not in INTERVALS:
        raise _fail(f"--interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    unknown = registry.unknown_sources(sources)
    if unknown:
        known = ", ".join(registry.known_sources())
        raise _fail(f"unknown source {unknown[0]!r} (known: {known})")
    since, until = _instant(start, "start"), _instant(end, "end", end=True)
    if since is not None and until is not None and since > until:
        raise _fail("--start must not be after --end")
    ids = tuple(a.strip().lower() for a in assets)
    return ExportSelection(ids, interval, since, until, tuple(sources) if sources else None)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]export[/bold]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("rows"), TimeElapsedColumn(), transient=False,
    )  # fmt: skip


@contextlib.contextmanager
def _replacing(output: Path) -> Iterator[BinaryIO]:
    """A file beside `output` that becomes it only once complete (a failure leaves nothing)."""
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("wb") as out:
            yield out
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


async def _write(
    settings: Settings, url: str, selection: ExportSelection, fmt: Format, output: Path
) -> int:
    limits = ExportLimits(
        settings.export_max_rows, settings.export_chunk_rows, settings.export_statement_timeout_ms
    )
    pool = await create_read_pool(url, max_size=1)
    try:
        async with pool.acquire() as conn:
            export = Export(conn, selection, limits)
            total = await export.open()
            with _progress() as progress, _replacing(output) as out:
                task = progress.add_task("export", total=total)
                async for piece in export.stream(fmt, lambda n: progress.advance(task, n)):
                    out.write(piece)
            return total
    finally:
        await pool.close()


def export(
    asset: Annotated[
        list[str], typer.Option("--asset", help="An asset id, e.g. bitcoin; repeat for more.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    interval: Annotated[str, typer.Option(help="raw, 5m, 1h or 1d.")] = "raw",
    start: Annotated[str | None, typer.Option(help="Inclusive, ISO 8601.")] = None,
    end: Annotated[str | None, typer.Option(help="Inclusive; a bare date: that whole day.")] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this source; repeatable.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or ndjson.")] = "csv",
) -> None:
    """Assets' history (raw or candles) to a Parquet, CSV or NDJSON file, as /export/history."""
    selection = _selection(asset, interval, start, end, source or [])
    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not output.parent.is_dir():
        raise _fail(f"no directory {str(output.parent)!r} to write {output.name!r} in")
    settings = load_settings()
    url = database_url(settings)
    migrate(url)
    rows = asyncio.run(_write(settings, url, selection, fmt, output))
    typer.echo(f"Wrote {rows} rows to {output}")
