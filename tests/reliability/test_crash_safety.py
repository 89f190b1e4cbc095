"""SIGKILL at seeded random moments, resume each time: the tables equal an uninterrupted run's
(the rollup candles included, each equal to what the stored observations give)."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from tests.fixtures.servers import ALL_TABLES
from tests.helpers import rows, scalar
from tests.reliability import etl_process
from tests.rollup_check import assert_rollups_match_quotes
from tests.table_snapshot import snapshot

ROWS = 3000
KILLS = 20
API_KILLS = 8  # four pages per cycle: fewer kills already land between every pair
SEED = 20261126
# Every batch transaction holds 15 ms: most kills then land inside a transaction, the hard case.
SETTINGS = {"ETL_BATCH_SIZE": "50", "ETL_FAULTS": "db:delay=15"}


async def _clean_tables(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        tables = await conn.scalar(text(ALL_TABLES))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


async def _kill_and_resume(
    db: AsyncEngine,
    env: dict[str, str],
    cwd: Path,
    kills: int,
    progress_sql: str,
    window: float | None = None,
) -> set[int]:
    """Clean run, then `kills` killed runs and a final one: the tables must be the same.

    Returns the partial progress (checkpoint) values seen after kills.
    """
    # The reference: one uninterrupted run, timed from its start to its exit.
    process = etl_process.start(env, cwd)
    etl_process.wait_for_start(process)
    began = time.monotonic()
    assert process.wait(timeout=120) == 0
    run_seconds = time.monotonic() - began
    expected = await snapshot(db)

    await _clean_tables(db)
    rng = random.Random(SEED)
    partial = set()
    for _ in range(kills):
        process = etl_process.start(env, cwd)
        etl_process.wait_for_start(process)  # so every run got past the lock: none exits 3
        # By default kills spread so that together they cover about one whole run; a
        # `window` (a fraction of a run) lets each land anywhere in it, even after its end.
        await asyncio.sleep(rng.uniform(0, (window or 2 / kills) * run_seconds))
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) in (-signal.SIGKILL, 0)
        partial.add(await scalar(db, progress_sql))

    final = etl_process.start(env, cwd)
    _, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr

    assert await snapshot(db) == expected  # quote_rollups included
    await assert_rollups_match_quotes(db)  # and every bucket is what the observations give
    runs = await rows(db, "SELECT status, message FROM etl_runs ORDER BY id")
    assert len(runs) == kills + 1
    assert runs[-1]["status"] == "success"
    for run in runs[:-1]:  # each killed run was closed by the next one
        assert run in (
            {"status": "failure", "message": "interrupted"},
            {"status": "success", "message": None},
        )
    return partial


async def test_killed_and_resumed_csv_runs_end_with_a_clean_runs_tables(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    csv_path = etl_process.write_quotes_csv(tmp_path / "quotes.csv", ROWS)
    env = etl_process.environment(database_url, csv_path, **SETTINGS)
    progress = "SELECT last_id::int FROM etl_checkpoints WHERE source = 'csv'"

    partial = await _kill_and_resume(db, env, tmp_path, KILLS, progress)

    # The kills did land mid-file, in many places: the test exercised resuming, not no-ops.
    assert len({p for p in partial if p is not None and p < ROWS}) >= 5, partial


async def test_killed_and_resumed_api_runs_end_with_a_clean_runs_tables(
    db: AsyncEngine, database_url: str, tmp_path: Path, fake_server: RunningFake
) -> None:
    env = etl_process.environment(
        database_url, tmp_path / "unused.csv", ETL_SOURCES="coingecko",
        COINGECKO_BASE_URL=fake_server.coingecko_base_url, ETL_FAULTS="db:delay=150",
    )  # fmt: skip
    progress = "SELECT last_id::int FROM etl_checkpoints WHERE source = 'coingecko'"

    # Four pages a run: a kill early in a run (before its first page commits) makes no
    # progress, so each kill may land anywhere in a whole run.
    partial = await _kill_and_resume(db, env, tmp_path, API_KILLS, progress, window=1.0)

    assert {1, 2, 3} & partial, partial  # some kills landed between pages of a cycle
