"""An ETL run whose PostgreSQL goes away fails on record once it is back, instead of hanging."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from kasparro.config import to_asyncpg_url
from kasparro.db.engine import create_engine
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.faults import parse_faults
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters
from kasparro.pipeline.runner import LOCK_LOST, EtlRunner
from tests.fixtures.servers import stop_immediately
from tests.helpers import no_overrides, rows, scalar
from tests.reliability.etl_process import write_quotes_csv


class GatedJob:
    name = "csv"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.cancelled = False

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_a_run_that_loses_the_database_fails_on_record_when_it_returns(
    own_server: Any,
    tmp_path: Path,
) -> None:
    engine = create_engine(to_asyncpg_url(own_server.get_uri()))
    csv_path = write_quotes_csv(tmp_path / "q.csv", 3000)
    job = CsvJob(
        engine, no_overrides(), csv_path, batch_size=50, faults=parse_faults("db:delay=25")
    )
    runner = EtlRunner(engine, {"csv": job})
    try:
        started = await runner.start()
        deadline = time.monotonic() + 30
        while not await scalar(engine, "SELECT count(*) FROM raw_csv_records"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)

        stop_immediately(own_server)  # mid-run
        await asyncio.sleep(2)
        assert not started.task.done()  # waiting to record its failure, not done, not hung
        own_server.ensure_postgres_running()
        (outcome,) = await asyncio.wait_for(started.task, timeout=30)

        # a human sentence, not SQLAlchemy's text with its SQL and a link to its docs
        assert outcome.status == "failure"
        assert outcome.message == "database connection lost during the run"
        (run,) = await rows(engine, "SELECT status, message, processed FROM etl_runs")
        assert run["status"] == "failure" and run["message"] == outcome.message
        committed = await scalar(engine, "SELECT count(*) FROM raw_csv_records")
        assert run["processed"] <= committed < 3000

        (resumed,) = await runner.run()
        assert resumed.status == "success"
        assert (
            await scalar(engine, "SELECT count(DISTINCT row_number) FROM raw_csv_records") == 3000
        )
    finally:
        await engine.dispose()


async def test_a_run_whose_lock_session_ends_stops_instead_of_running_unlocked(
    own_server: Any,
) -> None:
    engine = create_engine(to_asyncpg_url(own_server.get_uri()))
    job = GatedJob()  # between batches: it would carry on, on fresh connections, without a lock
    runner = EtlRunner(engine, {"csv": job})
    try:
        started = await runner.start()
        stop_immediately(own_server)
        own_server.ensure_postgres_running()  # a restart: every session, every lock gone

        (outcome,) = await asyncio.wait_for(started.task, timeout=30)

        assert outcome.status == "failure" and outcome.message == LOCK_LOST
        assert not job.gate.is_set() and job.cancelled
        (run,) = await rows(engine, "SELECT status, message FROM etl_runs")
        assert run == {"status": "failure", "message": LOCK_LOST}
        job.gate.set()
        (again,) = await runner.run()  # the source is free again
        assert again.status == "success"
    finally:
        await engine.dispose()
