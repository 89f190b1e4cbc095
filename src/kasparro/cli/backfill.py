"""`kasparro backfill`: fetch past quotes from the API sources' history endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from kasparro.cli.bootstrap import database_url, load_settings, migrate
from kasparro.cli.signals import EXIT_TERMINATED, stop_on_sigterm
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.domain.backfill import INTERVALS, Interval
from kasparro.pipeline import backfill as pipeline
from kasparro.pipeline.budget import CallBudget, monthly_budget
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.jobs import new_http_client
from kasparro.repositories import backfill as repo
from kasparro.repositories.driver import begin
from kasparro.sources import registry

logger = logging.getLogger("kasparro.backfill")
EXIT_FAILED = 1  # some window failed after every attempt
EXIT_STOPPED = 3  # a monthly call budget stopped it: windows stay pending for the next month
_LOG_EVERY_SECONDS = 2.0


def history_sources() -> tuple[str, ...]:
    return tuple(s.name for s in registry.SOURCES if s.history is not None)


@dataclass(slots=True)
class _Outcome:
    rows: list[Any]
    works: list[pipeline.SourceWork]


class _Display:
    """A progress bar on a terminal; a log line every few seconds otherwise."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.task: TaskID | None = None
        self._logged = 0.0
        self._last: tuple[int, int] | None = None

    def __call__(self, p: pipeline.Progress) -> None:
        if self.progress is not None:
            if self.task is None:
                self.task = self.progress.add_task("backfill", total=p.total, requests=0, points=0)
            self.progress.update(
                self.task, completed=p.finished, total=p.total, requests=p.requests,
                points=p.points,
            )  # fmt: skip
            return
        now, seen = time.monotonic(), (p.finished, p.requests)
        due = now - self._logged >= _LOG_EVERY_SECONDS or p.finished >= p.total
        if due and seen != self._last:
            self._logged, self._last = now, seen
            logger.info(
                "backfill: %d/%d windows, %d requests, %d points",
                p.finished, p.total, p.requests, p.points,
            )  # fmt: skip


def _parse_day(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date (YYYY-MM-DD) or an ISO time: {value!r}",
                                 param_hint=option) from None  # fmt: skip
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _range(
    days: int | None, start: str | None, end: str | None, now: datetime
) -> tuple[datetime, datetime]:
    if start is not None and days is not None:
        raise typer.BadParameter("give --days or --start, not both", param_hint="--days")
    if end is not None and start is None:
        raise typer.BadParameter("--end needs --start", param_hint="--end")
    if start is None:
        return now - timedelta(days=days if days is not None else 365), now
    first = _parse_day(start, "--start")
    last = _parse_day(end, "--end") if end is not None else now
    if last <= first:
        raise typer.BadParameter("--end must be after --start", param_hint="--end")
    return first, min(last, now)


async def _run(settings: Settings, url: str, asked: pipeline.BackfillRequest,
               sources: list[str], display: _Display) -> _Outcome:  # fmt: skip
    engine = create_engine(url, pool_size=max(5, 2 * asked.workers * len(sources) + 2))
    stop_on_sigterm(asyncio.current_task())
    try:
        assets, unknown = await pipeline.resolve_assets(engine, asked)
        if unknown:
            raise typer.BadParameter(f"unknown asset: {', '.join(unknown)}", param_hint="--asset")
        async with new_http_client(settings) as http:
            works = [await _work(engine, settings, http, name, assets, asked) for name in sources]
            catalog = AssetCatalog(settings.asset_overrides_path,
                                   timedelta(seconds=settings.stale_after_seconds))  # fmt: skip
            runner = pipeline.Backfill(
                engine, catalog, works, workers=asked.workers,
                max_future_skew=timedelta(seconds=settings.max_future_skew_seconds),
                progress=display,
            )  # fmt: skip
            await runner.run()
        async with begin(engine) as tx:
            rows = await repo.summary(tx.driver, [i for w in works for i in w.window_ids])
        return _Outcome(rows, works)
    finally:
        await engine.dispose()


async def _work(
    engine: Any, settings: Settings, http: Any, name: str, assets: list[str],
    asked: pipeline.BackfillRequest,
) -> pipeline.SourceWork:  # fmt: skip
    source = registry.capabilities(name)
    if source.history is None or source.history_plan is None:
        raise typer.BadParameter(f"{name} serves no history", param_hint="--source")
    _, build = source.api()
    request = build(http, settings)
    CallBudget(engine, name, monthly_budget(settings, source)).attach(request.client)
    plan = source.history_plan(settings)
    interval = pipeline.interval_for(plan, asked)
    work = pipeline.SourceWork(source, source.history, request, interval)
    await pipeline.plan_source(engine, work, assets, asked, pipeline.windows_function(plan, asked))
    return work


def _summary(outcome: _Outcome) -> Table:
    table = Table(title="Backfill summary")
    columns = ("source", "interval", "windows", "done", "gap: upstream_empty", "gap: plan_limit",
               "failed", "pending", "points", "requests", "assets skipped")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for work in outcome.works:
        rows = [r for r in outcome.rows if r["source"] == work.source.name]

        def count(state: str, reason: str | None = None, rows: list[Any] = rows) -> int:
            return sum(
                r["windows"]
                for r in rows
                if r["state"] == state and (reason is None or r["reason"] == reason)
            )

        skipped = len(work.skipped_assets)
        table.add_row(
            work.source.name, work.interval, str(len(work.window_ids)), str(count("done")),
            str(count("gap", "upstream_empty")), str(count("gap", "plan_limit")),
            str(count("failed")), str(count("pending") + count("running")),
            str(sum(r["points"] or 0 for r in rows)), str(sum(r["requests"] or 0 for r in rows)),
            f"{skipped} (no coin at {work.source.name})" if skipped else "0",
        )  # fmt: skip
    return table


SourceOption = Annotated[
    list[str] | None,
    typer.Option("--source", help="Only this source (repeatable): coingecko, coinpaprika."),
]


def backfill(
    source: SourceOption = None,
    asset: Annotated[
        list[str] | None, typer.Option("--asset", help="This asset id (repeatable).")
    ] = None,
    top: Annotated[int, typer.Option(help="The top N assets by market cap.", min=1)] = 100,
    days: Annotated[int | None, typer.Option(help="The last N days (default 365).", min=1)] = None,
    start: Annotated[
        str | None, typer.Option(help="From this date (UTC), instead of --days.")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Up to this date (UTC; default: now).")] = None,
    interval: Annotated[
        str | None, typer.Option(help="5m, 1h or 1d (default: the finest the plan serves).")
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Concurrent claimers per source.", min=1, max=32)
    ] = 2,
) -> None:
    """Fetch past quotes into the history, window by window; resumable, shareable, budgeted."""
    settings = load_settings()
    names = list(dict.fromkeys(source or history_sources()))
    if bad := [n for n in names if n not in history_sources()]:
        raise typer.BadParameter(f"{', '.join(bad)} (expected: {', '.join(history_sources())})",
                                 param_hint="--source")  # fmt: skip
    if interval is not None and interval not in INTERVALS:
        raise typer.BadParameter(f"expected one of {', '.join(INTERVALS)}", param_hint="--interval")
    now = datetime.now(UTC)
    first, last = _range(days, start, end, now)
    chosen: Interval | None = interval  # narrowed by the check above
    asked = pipeline.BackfillRequest(asset, top, first, last, chosen, workers, now)
    url = database_url(settings)
    migrate(url)
    interactive = sys.stderr.isatty()
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("windows · {task.fields[requests]} requests · {task.fields[points]} points"),
        TimeRemainingColumn(), console=Console(stderr=True),
    )  # fmt: skip
    try:
        with bar if interactive else contextlib.nullcontext():
            outcome = asyncio.run(
                _run(settings, url, asked, names, _Display(bar if interactive else None))
            )
    except asyncio.CancelledError:
        typer.echo(
            "Stopped by SIGTERM: the next backfill takes over the windows in flight", err=True
        )
        raise typer.Exit(EXIT_TERMINATED) from None
    console = Console() if sys.stdout.isatty() else Console(width=160)  # a log keeps the columns
    console.print(_summary(outcome))
    _exit(outcome)


def _exit(outcome: _Outcome) -> None:
    failed = sum(r["windows"] for r in outcome.rows if r["state"] == "failed")
    pending = sum(r["windows"] for r in outcome.rows if r["state"] in ("pending", "running"))
    spent = [w.budget_spent for w in outcome.works if w.budget_spent]
    if failed:
        typer.echo(f"Error: {failed} windows failed after every attempt (see last_error); "
                   "run the same backfill again to retry them", err=True)  # fmt: skip
        raise typer.Exit(EXIT_FAILED)
    if spent:
        typer.echo(f"Stopped: {'; '.join(spent)}; {pending} windows stay pending, and the next "
                   "backfill continues them once the month turns", err=True)  # fmt: skip
        raise typer.Exit(EXIT_STOPPED)
