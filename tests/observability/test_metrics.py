"""`/metrics`: the counters move after requests and after runs (Prometheus text format)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from kasparro.pipeline.runner import EtlRunner
from tests.conftest import SAMPLE_CSV
from tests.helpers import paprika_job, rows, run_csv
from tests.observability.metrics_text import sample


async def test_http_metrics_move_after_a_request_labelled_by_route_template(
    client: httpx.AsyncClient,
) -> None:
    ok = {"method": "GET", "route": "/health", "status": "200"}
    before = await sample(client, "kasparro_http_requests_total", **ok)
    assert (await client.get("/health")).status_code == 200
    assert await sample(client, "kasparro_http_requests_total", **ok) == before + 1
    assert await sample(client, "kasparro_http_request_duration_seconds_count", **ok) >= 1

    missing = {"method": "GET", "route": "/runs/{run_id}", "status": "404"}
    before = await sample(client, "kasparro_http_requests_total", **missing)
    assert (await client.get("/runs/987654")).status_code == 404
    assert await sample(client, "kasparro_http_requests_total", **missing) == before + 1

    nowhere = {"method": "GET", "route": "<unmatched>", "status": "404"}
    before = await sample(client, "kasparro_http_requests_total", **nowhere)
    await client.get("/no/such/page")
    assert await sample(client, "kasparro_http_requests_total", **nowhere) == before + 1


async def test_run_metrics_move_after_a_run(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    runs = {"source": "csv", "status": "success"}
    before_runs = await sample(client, "kasparro_etl_runs_total", **runs)
    before_processed = await sample(client, "kasparro_etl_records_processed_total", source="csv")
    before_durations = await sample(client, "kasparro_etl_run_duration_seconds_count", source="csv")
    started = datetime.now(UTC).timestamp()

    outcome = await run_csv(db, SAMPLE_CSV)

    assert outcome.status == "success" and outcome.processed == 50
    assert await sample(client, "kasparro_etl_runs_total", **runs) == before_runs + 1
    assert (
        await sample(client, "kasparro_etl_records_processed_total", source="csv")
        == before_processed + 50
    )
    assert (
        await sample(client, "kasparro_etl_run_duration_seconds_count", source="csv")
        == before_durations + 1
    )
    last = await sample(client, "kasparro_etl_last_success_timestamp_seconds", source="csv")
    assert last >= started - 1


async def test_upstream_requests_retries_and_429s_are_counted(
    client: httpx.AsyncClient, fake_server: RunningFake, db: AsyncEngine
) -> None:
    async with httpx.AsyncClient() as http:
        job = paprika_job(db, http, fake_server.coinpaprika_base_url)
        runner = EtlRunner(db, {"coinpaprika": job})
        names = ("requests", "retries", "rate_limited")
        before = {
            n: await sample(client, f"kasparro_upstream_{n}_total", source="coinpaprika")
            for n in names
        }
        fake_server.fake.rate_limit(times=1, retry_after=0, source="coinpaprika")
        (outcome,) = await runner.run()
    assert outcome.status == "success"
    after = {
        n: await sample(client, f"kasparro_upstream_{n}_total", source="coinpaprika") for n in names
    }
    assert after == {
        "requests": before["requests"] + 2,
        "retries": before["retries"] + 1,
        "rate_limited": before["rate_limited"] + 1,
    }


async def test_drift_events_are_counted(
    client: httpx.AsyncClient, write_csv: Callable[..., Any], db: AsyncEngine
) -> None:
    path = write_csv("symbol,cost\nBTC,1\n")  # no price column, six fields missing, one new
    name = "kasparro_schema_drift_events_total"
    before = {k: await sample(client, name, source="csv", kind=k) for k in ("missing", "new")}
    outcome = await run_csv(db, path)
    assert outcome.status == "failure"
    events = await rows(db, "SELECT kind, count(*) AS n FROM schema_drift_events GROUP BY kind")
    assert {e["kind"]: e["n"] for e in events} == {"missing": 6, "new": 1}
    assert await sample(client, name, source="csv", kind="missing") == before["missing"] + 6
    assert await sample(client, name, source="csv", kind="new") == before["new"] + 1
