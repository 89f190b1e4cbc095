"""Run bookkeeping and the one-runner-per-source guarantee."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.errors import EtlAlreadyRunningError
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters
from kasparro.pipeline.runner import EtlRunner
from tests.conftest import SAMPLE_CSV
from tests.helpers import no_overrides, rows


class GatedJob:
    """A job that waits until the test opens its gate."""

    name = "csv"

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        await self.gate.wait()
        counters.processed = 7


async def test_a_second_start_while_running_is_refused(db: AsyncEngine) -> None:
    job = GatedJob()
    runner = EtlRunner(db, {"csv": job})
    started = await runner.start()
    assert (await rows(db, "SELECT status FROM etl_runs")) == [{"status": "running"}]

    with pytest.raises(EtlAlreadyRunningError, match="csv"):
        await runner.start()

    job.gate.set()
    (outcome,) = await started.task
    assert outcome.status == "success" and outcome.processed == 7
    assert not runner.busy


async def test_another_process_holding_the_lock_blocks_the_source(db: AsyncEngine) -> None:
    runner = EtlRunner(db, {"csv": CsvJob(db, no_overrides(), SAMPLE_CSV, 100)})
    async with db.connect() as other:  # stands in for another process
        await other.execute(text("SELECT pg_advisory_lock(hashtext('kasparro.etl.csv'))"))
        with pytest.raises(EtlAlreadyRunningError, match="another process"):
            await runner.start()
        await other.execute(text("SELECT pg_advisory_unlock(hashtext('kasparro.etl.csv'))"))
        await other.commit()

    (outcome,) = await runner.run()
    assert outcome.status == "success"
    assert len(await rows(db, "SELECT id FROM etl_runs")) == 1  # the refused start left no row


async def test_runs_left_running_by_a_dead_process_are_marked_interrupted(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO etl_runs (batch_id, source, status, started_at) "
                "VALUES (gen_random_uuid(), 'csv', 'running', now() - interval '1 hour')"
            )
        )
    await EtlRunner(db, {"csv": CsvJob(db, no_overrides(), SAMPLE_CSV, 100)}).run()

    runs = await rows(db, "SELECT id, status, message FROM etl_runs ORDER BY id")
    assert runs[0] == {"id": 1, "status": "failure", "message": "interrupted"}
    assert runs[1]["status"] == "success"


async def test_unexpected_errors_fail_the_run_on_record(db: AsyncEngine) -> None:
    class Broken:
        name = "csv"

        async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
            counters.processed = 3
            raise ZeroDivisionError("boom")

    (outcome,) = await EtlRunner(db, {"csv": Broken()}).run()

    assert outcome.status == "failure" and outcome.message == "ZeroDivisionError: boom"
    run = (await rows(db, "SELECT status, processed, message FROM etl_runs"))[0]
    assert run == {"status": "failure", "processed": 3, "message": "ZeroDivisionError: boom"}


async def test_progress_reports_bytes_of_the_file(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv("ticker,price_usd\n" + "".join(f"t{i},1\n" for i in range(25)))
    seen: list[tuple[str, int, int | None]] = []
    runner = EtlRunner(db, {"csv": CsvJob(db, no_overrides(), path, 10)})

    await runner.run(progress=lambda source, done, total: seen.append((source, done, total)))

    size = path.stat().st_size
    assert len(seen) == 3 and seen[-1] == ("csv", size, size)
    assert seen[0][1] < seen[1][1] < seen[2][1]
