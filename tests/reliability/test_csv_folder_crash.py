"""SIGKILL while a directory of CSV files loads (in the first file, then twice inside the second,
a gzip file of two members), resume: the tables equal one uninterrupted run's (drift events
grouped by run aside)."""

from __future__ import annotations

import asyncio
import gzip
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.servers import ALL_TABLES
from tests.helpers import rows, scalar
from tests.reliability import etl_process
from tests.rollup_check import assert_rollups_match_quotes
from tests.table_snapshot import snapshot

ROWS = 1500  # per file
# Drift events are counted per run: resumed runs split a finding one clean run counts twice
# (once per file) into rows of their own. The occurrences per finding are what must match.
DRIFT_TOTALS = """
SELECT kind, field, expected, actual, sum(occurrences) AS occurrences FROM schema_drift_events
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
SETTINGS = {"ETL_BATCH_SIZE": "50", "ETL_FAULTS": "db:delay=15"}


def _drops(directory: Path) -> Path:
    directory.mkdir()
    etl_process.write_quotes_csv(directory / "2024-01-01.csv", ROWS, seed=1)
    text_b = etl_process.write_quotes_csv(directory / "b.tmp", ROWS, seed=2).read_bytes()
    (directory / "b.tmp").unlink()
    middle = text_b.index(b"\n", len(text_b) // 2) + 1  # members may split anywhere; here a row
    packed = gzip.compress(text_b[:middle]) + gzip.compress(text_b[middle:])
    (directory / "2024-01-02.csv.gz").write_bytes(packed)
    return directory


async def _file_rows(db: AsyncEngine) -> dict[str, int]:
    state: Any = await scalar(db, "SELECT state FROM etl_checkpoints WHERE source = 'csv'")
    files = (state or {}).get("files", [])
    return {Path(f["file_path"]).name: f["row_number"] for f in files}


async def _kill_when(
    db: AsyncEngine, process: subprocess.Popen[str], name: str, rows_past: int
) -> dict[str, int]:
    """SIGKILL once file `name`'s checkpoint passed `rows_past` rows; returns the checkpoint."""
    try:
        await asyncio.to_thread(etl_process.wait_for_start, process)
        deadline = time.monotonic() + 60
        while (await _file_rows(db)).get(name, 0) <= rows_past:
            assert time.monotonic() < deadline and process.poll() is None
            await asyncio.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 30)
    return await _file_rows(db)


async def test_kills_inside_the_second_file_of_a_directory_resume_to_a_clean_load(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    env = etl_process.environment(database_url, _drops(tmp_path / "drops"), **SETTINGS)
    clean = etl_process.start(env, tmp_path)
    _, stderr = await asyncio.to_thread(clean.communicate, timeout=120)
    assert clean.returncode == 0, stderr
    expected, expected_drift = await snapshot(db), await rows(db, DRIFT_TOTALS)
    async with db.begin() as conn:
        await conn.execute(
            text(f"TRUNCATE {await conn.scalar(text(ALL_TABLES))} RESTART IDENTITY CASCADE")
        )

    seen = []
    for name, rows_past in (
        ("2024-01-01.csv", 400),
        ("2024-01-02.csv.gz", 300),
        ("2024-01-02.csv.gz", 1000),
    ):
        seen.append(await _kill_when(db, etl_process.start(env, tmp_path), name, rows_past))
    final = etl_process.start(env, tmp_path)
    _, stderr = await asyncio.to_thread(final.communicate, timeout=120)
    assert final.returncode == 0, stderr

    tables = await snapshot(db)
    assert await rows(db, DRIFT_TOTALS) == expected_drift
    for compared in (tables, expected):
        del compared["schema_drift_events"]
    assert tables == expected
    await assert_rollups_match_quotes(db)
    # the kills landed mid-file: the first inside the first file, the others inside the second
    assert 400 < seen[0]["2024-01-01.csv"] < ROWS
    assert 300 < seen[1]["2024-01-02.csv.gz"] < seen[2]["2024-01-02.csv.gz"] < ROWS
    runs = await rows(db, "SELECT status, message FROM etl_runs ORDER BY id")
    assert runs[:-1] == [{"status": "failure", "message": "interrupted"}] * 3
    assert runs[-1] == {"status": "success", "message": None}
