"""`/`, `/health`, `/stats`, `/trigger-etl` and the OpenAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import rows, run_csv


async def test_root_lists_the_endpoints(client: httpx.AsyncClient) -> None:
    body = (await client.get("/")).json()
    assert body["name"] == "Kasparro Backend & ETL" and body["status"] == "running"
    assert body["version"]
    expected = {
        "health": "/health",
        "data": "/data",
        "stats": "/stats",
        "trigger_etl": "/trigger-etl",
        "docs": "/docs",
    }
    assert body["endpoints"].items() >= expected.items()


async def test_health_before_and_after_a_run(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    before = await client.get("/health")
    assert before.status_code == 200
    assert before.json()["status"] == "ok" and before.json()["database"] == "connected"
    assert before.json()["last_etl"] is None and before.json()["last_etl_status"] is None
    assert before.json()["timestamp"].endswith("Z")

    await run_csv(db, Path("data/sample.csv"))
    after = (await client.get("/health")).json()
    assert after["last_etl_status"] == "success" and after["last_etl"].endswith("Z")


async def test_stats_before_any_run_and_after_success_and_failure(
    client: httpx.AsyncClient, db: AsyncEngine, tmp_path: Path
) -> None:
    empty = (await client.get("/stats")).json()
    assert empty["total_normalized"] == 0
    assert empty["last_success"] == {
        "source": None, "finished_at": None, "duration_ms": None, "processed": None
    }  # fmt: skip
    assert empty["last_failure"] == {"source": None, "finished_at": None, "message": None}

    await run_csv(db, Path("data/sample.csv"))
    no_failure_yet = (await client.get("/stats")).json()
    assert no_failure_yet["last_success"]["processed"] == 50
    assert no_failure_yet["last_failure"]["message"] is None  # a script may index it
    assert set(no_failure_yet["last_failure"]) == {"source", "finished_at", "message"}

    await run_csv(db, tmp_path / "missing.csv")
    body = (await client.get("/stats")).json()

    assert body["total_normalized"] == 50
    assert body["last_success"]["source"] == "csv" and body["last_success"]["processed"] == 50
    assert set(body["last_success"]) == {"source", "finished_at", "duration_ms", "processed"}
    assert body["last_failure"]["message"].startswith("CSV file not found")
    assert set(body["last_failure"]) == {"source", "finished_at", "message"}
    assert body["records_by_source"] == {"csv": 50}
    assert body["runs_by_status"] == {"success": 1, "failure": 1}


async def test_trigger_is_disabled_without_a_token(make_client: Callable[..., Any]) -> None:
    client = await make_client(scheduler_token=None)
    response = await client.post("/trigger-etl", headers={"X-Scheduler-Token": "anything"})
    assert response.status_code == 503 and "disabled" in response.json()["detail"]


async def test_trigger_rejects_missing_or_wrong_tokens(make_client: Callable[..., Any]) -> None:
    client = await make_client(scheduler_token="s3cret")
    for headers in ({}, {"X-Scheduler-Token": "wrong"}, {"X-Scheduler-Token": "s3cret "}):
        response = await client.post("/trigger-etl", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid scheduler token"}


async def test_trigger_starts_a_background_run_then_refuses_a_second(
    make_client: Callable[..., Any], db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    big = write_csv("ticker,price_usd\n" + "".join(f"t{i},{i}\n" for i in range(20000)))
    client = await make_client(scheduler_token="s3cret", csv_path=big, etl_batch_size=500)
    headers = {"X-Scheduler-Token": "s3cret"}

    first = await client.post("/trigger-etl", headers=headers)
    second = await client.post("/trigger-etl", headers=headers)

    assert first.status_code == 202
    body = first.json()
    assert body["status"] == "triggered" and body["timestamp"].endswith("Z")
    assert body["run_id"] and body["runs"][0]["source"] == "csv"
    assert second.status_code == 409 and "already in progress" in second.json()["detail"]
    for _ in range(1200):  # up to a minute: the machine may be shared with other suites
        runs = await rows(db, "SELECT status, processed FROM etl_runs")
        if runs[0]["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert runs == [{"status": "success", "processed": 20000}]


async def test_openapi_documents_every_endpoint_with_models(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {"/", "/health", "/data", "/stats", "/trigger-etl"} <= set(spec["paths"])
    data_schema = spec["paths"]["/data"]["get"]["responses"]["200"]["content"]["application/json"]
    assert data_schema["schema"]["$ref"].endswith("/DataResponse")
    assert spec["components"]["schemas"]["Record"]["properties"]["price_usd"]["type"] == "number"
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_head_on_root_and_health_answers_like_get(client: httpx.AsyncClient) -> None:
    for path in ("/", "/health"):
        response = await client.head(path)
        assert response.status_code == 200, path
        assert response.content == b"", path
