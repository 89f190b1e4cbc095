"""The in-process scheduler: jitter, fixed-rate ticks, and skipping sources locked elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kasparro.api.app import create_app
from kasparro.api.schemas.status import HealthResponse, StatsResponse
from kasparro.config import Settings
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters
from kasparro.pipeline.retention import Retention
from kasparro.pipeline.runner import EtlRunner
from kasparro.pipeline.scheduler import Scheduler
from tests.api.seed import quote, seed
from tests.conftest import SAMPLE_CSV
from tests.helpers import no_overrides, rows


class OtherJob:
    name = "other"

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        counters.processed += 1


@pytest.fixture
async def csv_lock_held_elsewhere(db: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Another process's run of `csv`: its advisory lock, held on another connection."""
    async with db.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(hashtext('kasparro.etl.csv'))"))
        yield conn
        await conn.execute(text("SELECT pg_advisory_unlock(hashtext('kasparro.etl.csv'))"))


async def ran(db: AsyncEngine) -> list[str]:
    return [r["source"] for r in await rows(db, "SELECT source FROM etl_runs ORDER BY id")]


async def test_a_tick_skips_the_source_locked_elsewhere_and_runs_the_rest(
    db: AsyncEngine, csv_lock_held_elsewhere: AsyncConnection
) -> None:
    runner = EtlRunner(
        db, {"csv": CsvJob(db, no_overrides(), SAMPLE_CSV, 1000), "other": OtherJob()}
    )
    scheduler = Scheduler(runner, 60)
    outcomes = await scheduler.tick()
    assert [(o.source, o.status) for o in outcomes] == [("other", "success")]
    assert await ran(db) == ["other"]  # no csv run was even recorded
    assert not runner.busy

    await csv_lock_held_elsewhere.execute(
        text("SELECT pg_advisory_unlock(hashtext('kasparro.etl.csv'))")
    )
    outcomes = await scheduler.tick()
    assert sorted((o.source, o.processed) for o in outcomes) == [("csv", 50), ("other", 1)]


async def test_a_tick_with_every_source_locked_runs_nothing(
    db: AsyncEngine, csv_lock_held_elsewhere: AsyncConnection, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = Scheduler(EtlRunner(db, {"csv": CsvJob(db, no_overrides(), SAMPLE_CSV, 1000)}), 60)
    caplog.set_level("INFO", logger="kasparro.scheduler")
    assert await scheduler.tick() == []
    assert await ran(db) == []
    assert "scheduled ETL run skipped" in caplog.text and "held by another process" in caplog.text


async def test_ticks_come_every_interval_plus_jitter(db: AsyncEngine) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = [start]
    sleeps: list[float] = []
    jitters = iter([12.5, 0.0])

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += timedelta(seconds=seconds)
        if len(sleeps) == 2:
            raise asyncio.CancelledError

    scheduler = Scheduler(
        EtlRunner(db, {"csv": CsvJob(db, no_overrides(), SAMPLE_CSV, 1000)}), 300, 30,
        sleep=sleep, clock=lambda: now[0], uniform=lambda low, high: next(jitters),
    )  # fmt: skip
    with pytest.raises(asyncio.CancelledError):
        await scheduler.run_forever()
    assert sleeps == [312.5, 300.0]
    assert scheduler.next_run_at == start + timedelta(seconds=612.5)
    assert len(await ran(db)) == 2  # one run right away, one at the first tick


async def test_health_and_stats_say_when_the_next_run_is_due(
    db: AsyncEngine, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(etl_interval_seconds=3600, etl_jitter_seconds=0)
    app = create_app(settings, database_url=database_url, run_scheduler=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        stats: dict[str, Any] = {}
        for _ in range(600):  # the first run starts at once; wait until it is recorded
            stats = (await client.get("/stats")).json()
            if "csv" in stats["sources"]:
                break
            await asyncio.sleep(0.05)
        health = (await client.get("/health")).json()
        due = app.state.kasparro.scheduler.next_run_at
    HealthResponse.model_validate(health)
    StatsResponse.model_validate(stats)
    assert stats["sources"]["csv"]["last_status"] == "success"
    expected = due.isoformat().replace("+00:00", "Z")
    assert stats["next_scheduled_run"] == health["next_scheduled_run"] == expected
    assert due > datetime.now(UTC) + timedelta(seconds=3000)


async def test_without_the_scheduler_no_next_run_is_due(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json()["next_scheduled_run"] is None
    assert (await client.get("/stats")).json()["next_scheduled_run"] is None


async def test_only_the_process_holding_the_lease_ticks(db: AsyncEngine) -> None:
    """Two web workers (or replicas), one schedule: the second stands by until the first goes."""

    def scheduler() -> Scheduler:
        async def stop(seconds: float) -> None:
            raise asyncio.CancelledError

        return Scheduler(
            EtlRunner(db, {"csv": CsvJob(db, no_overrides(), SAMPLE_CSV, 1000)}), 60, sleep=stop
        )

    leader, standby = scheduler(), scheduler()
    assert await leader.lease.hold()
    with pytest.raises(asyncio.CancelledError):
        await standby.run_forever()
    assert await ran(db) == []  # the standby did not run anything
    assert standby.next_run_at is not None  # yet it knows the cadence

    await leader.lease.release()  # the leader's process ends
    with pytest.raises(asyncio.CancelledError):
        await standby.run_forever()
    assert await ran(db) == ["csv"]


async def test_retention_runs_once_a_day_on_the_leader_only(db: AsyncEngine) -> None:
    async def month_rows(month: str = "2015m01") -> int:
        found = await rows(db, f"SELECT to_regclass('quotes_y{month}') IS NOT NULL AS made")
        if not found[0]["made"]:
            return 0
        return len(await rows(db, f"SELECT 1 FROM quotes_y{month}"))

    now = [datetime(2026, 12, 2, tzinfo=UTC)]
    keep = Retention(history_days=3650)

    def scheduler() -> Scheduler:
        async def stop(seconds: float) -> None:
            raise asyncio.CancelledError

        runner = EtlRunner(db, {"other": OtherJob()})
        return Scheduler(runner, 60, sleep=stop, clock=lambda: now[0], retention=keep)

    leader, standby = scheduler(), scheduler()
    await seed(db, [quote("BTC", "300", at="2015-01-10T00:00:00")])
    assert await leader.lease.hold()
    with pytest.raises(asyncio.CancelledError):
        await standby.run_forever()
    assert await month_rows() == 1  # the standby prunes nothing

    await leader._tick_if_leader()
    assert await month_rows() == 0  # the leader's first tick applied retention
    # The next month (January is pruned for good: writes into it are skipped now).
    await seed(db, [quote("BTC", "301", at="2015-02-11T00:00:00")])
    now[0] += timedelta(hours=23)
    await leader._tick_if_leader()
    assert await month_rows("2015m02") == 1  # not again within the day
    now[0] += timedelta(hours=2)
    await leader._tick_if_leader()
    assert await month_rows("2015m02") == 0
    await leader.lease.release()
