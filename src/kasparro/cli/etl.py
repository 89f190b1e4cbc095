"""`kasparro etl ...`"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from kasparro.cli.bootstrap import database_url, load_settings, migrate
from kasparro.cli.signals import EXIT_TERMINATED, stop_on_sigterm
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.errors import EtlAlreadyRunningError, KasparroError
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.jobs import build_runner, new_http_client
from kasparro.pipeline.outcome import RunOutcome
from kasparro.pipeline.replay import build_replay_jobs
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources import registry

app = typer.Typer(help="Extract, transform, load.", no_args_is_help=True)
logger = logging.getLogger("kasparro.etl")


class _ProgressBars:
    """One bar per source on a terminal; nothing otherwise (the log lines tell the story)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, source: str, done: int, total: int | None) -> None:
        if self.progress is None:
            return
        if source not in self.tasks:
            self.tasks[source] = self.progress.add_task(source, total=total)
        self.progress.update(self.tasks[source], completed=done, total=total)


async def _run(
    settings: Settings, url: str, sources: list[str] | None, bars: _ProgressBars, replay: bool
) -> list[RunOutcome]:
    engine = create_engine(url, pool_size=5)
    stop_on_sigterm(asyncio.current_task())
    try:
        async with new_http_client(settings) as http:
            if replay:
                catalog = AssetCatalog.from_settings(settings)
                runner = EtlRunner(
                    engine,
                    build_replay_jobs(engine, catalog),
                    enabled=settings.etl_sources,
                    settle=catalog.settle,
                    stream_replay_seconds=settings.stream_replay_seconds,
                )
            else:
                runner = build_runner(engine, settings, http)
            return await runner.run(sources, progress=bars)
    finally:
        await engine.dispose()


def _summary(outcomes: list[RunOutcome]) -> Table:
    table = Table(title="ETL run summary")
    for column in ("source", "run id", "status", "processed", "failed", "duration ms", "message"):
        table.add_column(column)
    for o in outcomes:
        colour = "green" if o.status == "success" else "red"
        table.add_row(
            o.source,
            str(o.run_id),
            f"[{colour}]{o.status}[/]",
            str(o.processed),
            str(o.failed),
            str(o.duration_ms),
            o.message or "",
        )
    return table


SourceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--source", help=f"Only this source (repeatable): {', '.join(registry.known_sources())}."
    ),
]


def _execute(sources: list[str] | None, *, replay: bool) -> None:
    settings = load_settings()
    if unknown := registry.unknown_sources(sources or []):
        known = ", ".join(registry.known_sources())
        typer.echo(f"Unknown source: {', '.join(unknown)} (known: {known})", err=True)
        raise typer.Exit(2)
    url = database_url(settings)
    migrate(url)
    interactive = sys.stderr.isatty()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    try:
        with progress if interactive else contextlib.nullcontext():
            bars = _ProgressBars(progress if interactive else None)
            outcomes = asyncio.run(_run(settings, url, sources, bars, replay))
    except EtlAlreadyRunningError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(3) from None
    except asyncio.CancelledError:
        typer.echo("Stopped by SIGTERM: the run is recorded as failure / interrupted", err=True)
        raise typer.Exit(EXIT_TERMINATED) from None
    except KasparroError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    Console().print(_summary(outcomes))
    failed = [o for o in outcomes if o.status != "success"]
    for o in failed:  # whole, where the table may have cut it short
        typer.echo(f"Error: {o.source} run {o.run_id} failed: {o.message}", err=True)
    if failed:
        raise typer.Exit(1)


@app.command("run")
def run(source: SourceOption = None) -> None:
    """Run the ETL once in the foreground. Exit 0 on success, 1 if any source failed."""
    _execute(source, replay=False)


@app.command("replay")
def replay(source: SourceOption = None) -> None:
    """Rebuild normalized quotes from the stored raw records, without refetching anything."""
    _execute(source, replay=True)
