"""Issue 10 item 10: replicas triggered at the same instant share the free sources; a 409
means nothing was started and names only sources really running."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.db.engine import create_engine
from kasparro.devtools import RunningFake
from kasparro.errors import EtlAlreadyRunningError
from kasparro.pipeline.outcome import ProgressFn, RunCounters
from kasparro.pipeline.runner import EtlRunner, StartedRun
from tests.conftest import SAMPLE_CSV
from tests.fixtures.servers import free_port
from tests.helpers import rows

SOURCES = ["csv", "coinpaprika", "coingecko"]
TOKEN = "trigger-token-0123456789"


class GatedJob:
    def __init__(self, name: str, gate: asyncio.Event) -> None:
        self.name = name
        self.gate = gate

    async def run(self, run_id: int, counters: RunCounters, progress: ProgressFn) -> None:
        await self.gate.wait()
        counters.processed = 1


@pytest.fixture
async def engines(db: AsyncEngine, database_url: str) -> AsyncIterator[list[AsyncEngine]]:
    """Two engines: the sessions of two processes."""
    made = [create_engine(database_url, pool_size=2) for _ in range(2)]
    yield made
    for engine in made:
        await engine.dispose()


async def test_a_source_held_elsewhere_is_left_out_and_the_others_start(db: AsyncEngine) -> None:
    gate = asyncio.Event()
    runner = EtlRunner(db, {s: GatedJob(s, gate) for s in SOURCES})
    async with db.connect() as other:  # another process runs csv
        await other.execute(text("SELECT pg_advisory_lock(hashtext('kasparro.etl.csv'))"))
        started = await runner.start_in_background(skip_busy=True)
        assert sorted(started.run_ids) == ["coingecko", "coinpaprika"]
        with pytest.raises(EtlAlreadyRunningError) as refused:  # nothing free: 409
            await runner.start_in_background(skip_busy=True)
        assert (
            "csv (" in refused.value.message and "held by another process" in refused.value.message
        )
        assert "coingecko" in refused.value.message  # running here
        await other.execute(text("SELECT pg_advisory_unlock(hashtext('kasparro.etl.csv'))"))
        await other.commit()
    gate.set()
    await runner.wait_background()


async def test_two_runners_started_at_once_run_every_source_once(
    engines: list[AsyncEngine],
) -> None:
    for _ in range(10):
        gate = asyncio.Event()
        runners = [EtlRunner(e, {s: GatedJob(s, gate) for s in SOURCES}) for e in engines]
        results = await asyncio.gather(
            *(r.start_in_background(skip_busy=True) for r in runners), return_exceptions=True
        )
        started = [r for r in results if isinstance(r, StartedRun)]
        assert started, results  # never both refused with nothing running
        assert all(isinstance(r, StartedRun | EtlAlreadyRunningError) for r in results), results
        ran = [s for r in started for s in r.run_ids]
        assert sorted(ran) == sorted(SOURCES)  # each source once, somewhere
        gate.set()
        for runner in runners:
            await runner.wait_background()


def _serve(database_url: str, fake: RunningFake, cwd: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "CSV_", "PROM"))}
    env.update(
        DATABASE_URL=database_url, CSV_PATH=str(SAMPLE_CSV), ETL_SOURCES=",".join(SOURCES),
        COINPAPRIKA_BASE_URL=fake.coinpaprika_base_url,
        COINGECKO_BASE_URL=fake.coingecko_base_url, COINGECKO_MAX_PAGES="1",
        ETL_INTERVAL_SECONDS="0", SCHEDULER_TOKEN=TOKEN, ETL_FAULTS="db:delay=300",
        KASPARRO_DATA_DIR=str(cwd / f"data{port}"),
    )  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "kasparro", "serve", "--port", str(port)],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait_healthy(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[0][-3000:]
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not start"
        time.sleep(0.2)


def _trigger_together(bases: list[str]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bases))
    answers: list[httpx.Response | None] = [None] * len(bases)

    def post(i: int) -> None:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            answers[i] = client.post(
                f"{bases[i]}/trigger-etl", headers={"X-Scheduler-Token": TOKEN}
            )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [a for a in answers if a is not None]


async def _wait_idle(db: AsyncEngine) -> None:
    for _ in range(600):
        if not await rows(db, "SELECT id FROM etl_runs WHERE status = 'running'"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("runs never finished")


async def test_two_serve_processes_triggered_at_the_same_instant(
    db: AsyncEngine, database_url: str, tmp_path: Path, fake_server: RunningFake
) -> None:
    ports = [free_port(), free_port()]
    processes = [_serve(database_url, fake_server, tmp_path, p) for p in ports]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for base, process in zip(bases, processes, strict=True):
            await asyncio.to_thread(_wait_healthy, base, process)
        for _ in range(4):
            answers = await asyncio.to_thread(_trigger_together, bases)
            assert len(answers) == 2
            started = [a.json() for a in answers if a.status_code == 202]
            assert started, [a.text for a in answers]  # never two 409s with nothing running
            ran = sorted(run["source"] for body in started for run in body["runs"])
            assert ran == sorted(SOURCES), [a.text for a in answers]
            for refused in (a for a in answers if a.status_code == 409):
                busy = refused.json()["detail"]
                assert all(s in busy for s in SOURCES), busy  # the other one took them all
            await _wait_idle(db)
    finally:
        for process in processes:
            process.terminate()
        outputs = [p.communicate(timeout=30)[0] for p in processes]
    assert not any("Traceback" in output for output in outputs), outputs
    statuses = await rows(db, "SELECT status FROM etl_runs")
    assert {r["status"] for r in statuses} == {"success"}, statuses
