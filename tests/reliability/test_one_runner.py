"""One runner per source across processes; SIGTERM; runs a dead process left are closed."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.app import create_app
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.errors import EtlAlreadyRunningError
from kasparro.pipeline.outcome import ProgressFn, RunContext, RunCounters
from kasparro.pipeline.runner import EtlRunner
from tests.fixtures.servers import free_port
from tests.helpers import rows, scalar
from tests.reliability import etl_process


class GatedJob:
    """Holds its run open until the test opens the gate."""

    name = "csv"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.runs = 0

    async def run(self, run: RunContext, counters: RunCounters, progress: ProgressFn) -> None:
        self.runs += 1
        await self.gate.wait()


@pytest.fixture
async def engines(db: AsyncEngine, database_url: str) -> AsyncIterator[list[AsyncEngine]]:
    """Three engines: three sessions, as three processes would have."""
    made = [create_engine(database_url, pool_size=2) for _ in range(3)]
    yield made
    for engine in made:
        await engine.dispose()


async def test_three_concurrent_runners_exactly_one_runs(engines: list[AsyncEngine]) -> None:
    jobs = [GatedJob() for _ in engines]
    runners = [EtlRunner(e, {"csv": job}) for e, job in zip(engines, jobs, strict=True)]

    results = await asyncio.gather(*(r.start() for r in runners), return_exceptions=True)

    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, EtlAlreadyRunningError)]
    assert len(started) == 1 and len(refused) == 2
    (winner,) = started
    holder = winner.run_ids["csv"]
    for error in refused:  # the loser says which run holds the source
        assert f"csv (run {holder} started" in error.message and "another process" in error.message
    for job in jobs:
        job.gate.set()
    (outcome,) = await winner.task
    assert outcome.status == "success"
    assert sum(job.runs for job in jobs) == 1
    assert await rows(engines[0], "SELECT id, status FROM etl_runs") == [
        {"id": holder, "status": "success"}
    ]


async def test_the_cli_exits_3_naming_the_run_that_holds_the_source(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    job = GatedJob()
    started = await EtlRunner(db, {"csv": job}).start()
    env = etl_process.environment(database_url, tmp_path / "none.csv")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kasparro", "etl", "run", "--source", "csv",
        cwd=tmp_path, env=env, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    job.gate.set()
    await started.task

    assert process.returncode == 3
    run_id = started.run_ids["csv"]
    assert f"csv (run {run_id} started" in stderr.decode()


async def test_sigterm_mid_run_records_it_interrupted_and_exits_within_10s(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    csv_path = etl_process.write_quotes_csv(tmp_path / "q.csv", 3000)
    settings = {"ETL_BATCH_SIZE": "50", "ETL_FAULTS": "db:delay=25"}
    env = etl_process.environment(database_url, csv_path, **settings)
    process = etl_process.start(env, tmp_path)
    etl_process.wait_for_start(process)
    await asyncio.sleep(0.5)

    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - sent < 10
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted" in stderr

    (run,) = await rows(db, "SELECT status, message, processed FROM etl_runs")
    assert run["status"] == "failure" and run["message"] == "interrupted"
    done = int(await scalar(db, "SELECT last_id FROM etl_checkpoints"))
    assert 0 < done < 3000 and done % 50 == 0  # whole batches only
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == done

    resumed = etl_process.start(env, tmp_path)
    assert resumed.wait(timeout=120) == 0
    counts = await rows(
        db, "SELECT count(*) AS n, count(DISTINCT row_number) AS d FROM raw_csv_records"
    )
    assert counts == [{"n": 3000, "d": 3000}]


async def test_sigterm_stops_serve_mid_run_within_10s(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    csv_path = etl_process.write_quotes_csv(tmp_path / "q.csv", 3000)
    env = etl_process.environment(
        database_url, csv_path, ETL_BATCH_SIZE="50", ETL_FAULTS="db:delay=25",
        ETL_INTERVAL_SECONDS="3600",
    )  # fmt: skip
    process = etl_process.start_serve(env, tmp_path, free_port())
    deadline = time.monotonic() + 60
    while not await scalar(db, "SELECT count(*) FROM raw_csv_records"):  # mid-run
        assert time.monotonic() < deadline and process.poll() is None
        await asyncio.sleep(0.1)

    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    output, _ = process.communicate(timeout=30)
    assert time.monotonic() - sent < 10, output
    (run,) = await rows(db, "SELECT status, message FROM etl_runs")
    assert run == {"status": "failure", "message": "interrupted"}, output


async def test_serve_start_closes_runs_a_dead_process_left_running(
    db: AsyncEngine, database_url: str
) -> None:
    async with db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO etl_runs (batch_id, source, status, started_at) "
                "VALUES (gen_random_uuid(), 'coingecko', 'running', now())"
            )
        )
    live = GatedJob()  # a live run elsewhere: its row must stay `running`
    started = await EtlRunner(db, {"csv": live}).start()

    settings = Settings(_env_file=None, database_url=database_url, etl_interval_seconds=0)  # type: ignore[call-arg]
    app = create_app(settings, database_url=database_url, run_scheduler=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/health")).status_code == 200
    live.gate.set()
    await started.task

    assert await rows(db, "SELECT source, status, message FROM etl_runs ORDER BY id") == [
        {"source": "coingecko", "status": "failure", "message": "interrupted"},
        {"source": "csv", "status": "success", "message": None},
    ]
