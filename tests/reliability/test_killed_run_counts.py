"""A killed run's row shows what it committed: its counts move with each batch's transaction."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import rows, scalar
from tests.reliability import etl_process


async def test_a_killed_runs_row_shows_the_rows_it_committed(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    csv_path = etl_process.write_quotes_csv(tmp_path / "q.csv", 3000)  # every 97th row bad
    env = etl_process.environment(
        database_url, csv_path, ETL_BATCH_SIZE="100", ETL_FAULTS="db:delay=50"
    )
    process = etl_process.start(env, tmp_path)
    try:
        await asyncio.to_thread(etl_process.wait_for_start, process)
        deadline = time.monotonic() + 30
        while await scalar(db, "SELECT count(*) FROM raw_csv_records") < 500:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)

    committed = await scalar(db, "SELECT count(*) FROM raw_csv_records")
    assert 500 <= committed < 3000  # killed mid-file
    bad = len(range(0, committed, 97))  # rows 0, 97, 194, ... carry "not-a-price"
    (killed,) = await rows(db, "SELECT status, processed, failed FROM etl_runs")
    assert killed == {"status": "running", "processed": committed - bad, "failed": bad}

    final = etl_process.start(env, tmp_path)  # closes the killed row as interrupted
    _, stderr = await asyncio.to_thread(final.communicate, timeout=120)
    assert final.returncode == 0, stderr
    first, second = await rows(
        db, "SELECT status, message, processed, failed FROM etl_runs ORDER BY id"
    )
    assert first == {
        "status": "failure", "message": "interrupted",
        "processed": committed - bad, "failed": bad,
    }  # fmt: skip
    assert second["status"] == "success"
    assert second["processed"] + second["failed"] == 3000 - committed
