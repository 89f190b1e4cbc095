"""ETL_FAULTS: each fault fails the run where it says, loses nothing, and the next run recovers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings, describe_settings_error
from kasparro.devtools import RunningFake
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.faults import parse_faults
from kasparro.pipeline.jobs import build_runner, new_http_client
from kasparro.pipeline.outcome import RunOutcome
from kasparro.pipeline.runner import EtlRunner
from tests.helpers import no_overrides, rows, scalar
from tests.reliability.etl_process import write_quotes_csv
from tests.table_snapshot import snapshot


async def _csv_run(db: AsyncEngine, path: Path, faults: str = "") -> RunOutcome:
    job = CsvJob(db, no_overrides(), path, batch_size=100, faults=parse_faults(faults))
    (outcome,) = await EtlRunner(db, {"csv": job}).run()
    return outcome


def test_the_grammar_and_its_errors() -> None:
    plan = parse_faults(" csv:after=500, coingecko:page=2:http=500 ,db:commit=3,db:delay=10")
    assert plan.csv_after == 500 and plan.http == {("coingecko", 2): 500}
    assert plan.db_commit == 3 and plan.db_delay_ms == 10
    assert not parse_faults("")  # off by default

    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, etl_faults="csv:after=many")  # type: ignore[call-arg]
    message = describe_settings_error(caught.value)
    assert message.startswith("Invalid setting ETL_FAULTS:") and "'csv:after=many'" in message
    for bad in ("disk:full=1", "nope:page=1:http=500", "coingecko:page=1:http=200", "db:commit"):
        with pytest.raises(ValueError, match=re.escape(repr(bad))):  # names the bad fault
            parse_faults(bad)


async def test_csv_after_rolls_back_the_batch_holding_the_next_row(
    db: AsyncEngine, tmp_path: Path
) -> None:
    path = write_quotes_csv(tmp_path / "q.csv", 1000)
    failed = await _csv_run(db, path, "csv:after=250")

    assert failed.status == "failure" and failed.message == "injected fault csv:after=250"
    # batches of 100: rows 1-200 committed, the batch of rows 201-300 rolled back whole
    assert await scalar(db, "SELECT max(row_number) FROM raw_csv_records") == 200
    assert await scalar(db, "SELECT last_id FROM etl_checkpoints") == "200"

    resumed = await _csv_run(db, path)
    assert resumed.status == "success"
    after_recovery = await snapshot(db)
    async with db.begin() as conn:
        await conn.exec_driver_sql(
            "TRUNCATE raw_csv_records, raw_csv_files, normalized_records, etl_checkpoints, schema_drift_events"
        )
    await _csv_run(db, path)
    assert await snapshot(db) == after_recovery  # the same as one clean run


async def test_db_commit_fails_that_batch_transaction_only(db: AsyncEngine, tmp_path: Path) -> None:
    path = write_quotes_csv(tmp_path / "q.csv", 1000)
    failed = await _csv_run(db, path, "db:commit=3")

    assert failed.status == "failure" and failed.message == "injected fault db:commit=3"
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == 200
    assert (await _csv_run(db, path)).status == "success"
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == 1000


async def test_an_upstream_page_answers_the_injected_status(
    db: AsyncEngine, fake_server: RunningFake, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        etl_sources="coingecko",
        coingecko_base_url=fake_server.coingecko_base_url,
        etl_faults="coingecko:page=2:http=500",
        http_max_attempts=2,
    )
    async with new_http_client(settings) as http:  # its transport injects the fault
        (failed,) = await build_runner(db, settings, http).run()
        pages = [int(r.query["page"]) for r in fake_server.fake.requests]
        assert failed.status == "failure" and failed.message is not None
        assert "failed after 2 attempts: HTTP 500" in failed.message  # retried like a real 500
        assert pages == [1]  # page 2 never reached the upstream
        assert await scalar(db, "SELECT count(*) FROM normalized_records") == 250

    healthy = make_settings(
        etl_sources="coingecko", coingecko_base_url=fake_server.coingecko_base_url
    )
    async with new_http_client(healthy) as http:
        (resumed,) = await build_runner(db, healthy, http).run()
    assert resumed.status == "success" and resumed.processed == 750  # pages 2-4
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == 1000


async def test_no_request_can_switch_faults_on(make_client: Callable[..., object]) -> None:
    client: httpx.AsyncClient = await make_client(scheduler_token="t0ken")  # type: ignore[misc]
    openapi = (await client.get("/openapi.json")).text
    assert re.search(r"\bfaults?\b|etl_faults", openapi, re.IGNORECASE) is None
    response = await client.post(
        "/trigger-etl?etl_faults=csv:after=0&ETL_FAULTS=csv:after=0",
        headers={
            "X-Scheduler-Token": "t0ken",
            "ETL-Faults": "csv:after=0",
            "ETL_FAULTS": "db:commit=1",
        },
        json={"etl_faults": "csv:after=0"},
    )
    assert response.status_code == 202
    app_runner = client._transport.app.state.kasparro.runner  # type: ignore[attr-defined]
    await app_runner.wait_background()
    (run,) = await rows(app_runner.engine, "SELECT status, processed FROM etl_runs")
    assert run == {"status": "success", "processed": 50}
