"""SIGKILL at seeded random moments, resume each time: the tables equal an uninterrupted run's."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import _ALL_TABLES
from tests.helpers import rows, scalar
from tests.reliability import etl_process
from tests.table_snapshot import snapshot

ROWS = 3000
KILLS = 20
SEED = 20261126
# Every batch transaction holds 15 ms: most kills then land inside a transaction, the hard case.
SETTINGS = {"ETL_BATCH_SIZE": "50", "ETL_FAULTS": "db:delay=15"}


async def _clean_tables(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        tables = await conn.scalar(text(_ALL_TABLES))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


async def test_killed_and_resumed_runs_end_with_a_clean_runs_tables(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    csv_path = etl_process.write_quotes_csv(tmp_path / "quotes.csv", ROWS)
    env = etl_process.environment(database_url, csv_path, **SETTINGS)

    # The reference: one uninterrupted run, timed from its start to its exit.
    process = etl_process.start(env, tmp_path)
    etl_process.wait_for_start(process)
    began = time.monotonic()
    assert process.wait(timeout=120) == 0
    run_seconds = time.monotonic() - began
    expected = await snapshot(db)
    assert len(expected["raw_csv_records"]) - 1 == ROWS

    await _clean_tables(db)
    rng = random.Random(SEED)
    partial_checkpoints = set()
    for _ in range(KILLS):
        process = etl_process.start(env, tmp_path)
        etl_process.wait_for_start(process)  # so every run got past the lock: none exits 3
        # Kills spread so that the 20 of them together cover about one whole run.
        await asyncio.sleep(rng.uniform(0, 2 * run_seconds / KILLS))
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        done = await scalar(db, "SELECT last_id::int FROM etl_checkpoints WHERE source = 'csv'")
        if done is not None and done < ROWS:
            partial_checkpoints.add(done)

    final = etl_process.start(env, tmp_path)
    _, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr

    assert await snapshot(db) == expected
    # The kills did land mid-file, in many places: the test exercised resuming, not no-ops.
    assert len(partial_checkpoints) >= 5, partial_checkpoints
    runs = await rows(db, "SELECT status, message FROM etl_runs ORDER BY id")
    assert len(runs) == KILLS + 1
    assert runs[-1]["status"] == "success"
    for run in runs[:-1]:  # each killed run was closed by the next one
        assert run in (
            {"status": "failure", "message": "interrupted"},
            {"status": "success", "message": None},
        )
