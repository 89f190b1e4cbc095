"""`/runs` and `/runs/{run_id}`: pages, filters, and what a run did."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.schemas.runs import RunDetail, RunsResponse
from tests.helpers import run_csv
from tests.observability.seed_runs import seed_run

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def five_runs(db: AsyncEngine) -> list[int]:
    """csv ok, coinpaprika failed, csv ok, coingecko ok, csv failed; an hour apart from T0."""
    plan = [("csv", "success"), ("coinpaprika", "failure"), ("csv", "success"),
            ("coingecko", "success"), ("csv", "failure")]  # fmt: skip
    return [
        await seed_run(db, source=source, status=status, started_at=T0 + timedelta(hours=i))
        for i, (source, status) in enumerate(plan)
    ]


async def ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    response = await client.get("/runs", params=params)
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()["data"]]


async def test_runs_are_paged_newest_first(client: httpx.AsyncClient, five_runs: list[int]) -> None:
    first = (await client.get("/runs", params={"limit": 2})).json()
    RunsResponse.model_validate(first)  # the documented (OpenAPI) shape
    assert first["pagination"] == {"limit": 2, "offset": 0, "returned": 2, "total": 5}
    run = first["data"][0]
    assert run == {
        "id": 5, "batch_id": run["batch_id"], "source": "csv", "status": "failure",
        "processed": 10, "failed": 0, "started_at": "2026-01-01T04:00:00Z",
        "finished_at": "2026-01-01T04:00:00Z", "duration_ms": 100, "message": None,
    }  # fmt: skip
    pages = [await ids(client, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert pages == [[5, 4], [3, 2], [1]]
    assert await ids(client, offset=5) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"source": "csv"}, [5, 3, 1]),
        ({"status": "failure"}, [5, 2]),
        ({"source": "csv", "status": "success"}, [3, 1]),
        ({"start_date": "2026-01-01T01:00:00Z", "end_date": "2026-01-01T02:00:00Z"}, [3, 2]),
        ({"start_date": "2026-01-01T03:30:00+00:00"}, [5]),
        ({"end_date": "2026-01-01"}, [5, 4, 3, 2, 1]),  # a date-only end includes its day
        ({"end_date": "2025-12-31"}, []),
    ],
)
async def test_runs_filters(
    client: httpx.AsyncClient, five_runs: list[int], params: dict[str, str], expected: list[int]
) -> None:
    response = (await client.get("/runs", params=params)).json()
    assert [r["id"] for r in response["data"]] == expected
    assert response["pagination"]["total"] == len(expected)


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"status": "done"}, "status"),
        ({"source": "nope"}, "source"),
        ({"limit": "0"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2026-01-02", "end_date": "2026-01-01"}, "start_date"),
    ],
)
async def test_bad_run_filters_are_422(
    client: httpx.AsyncClient, params: dict[str, str], loc: str
) -> None:
    response = await client.get("/runs", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", loc]


async def test_unknown_or_malformed_run_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/runs/424242")
    assert response.status_code == 404
    assert response.json() == {"detail": "No ETL run with id 424242"}
    for bad in ("abc", "0", "99999999999999999999"):
        assert (await client.get(f"/runs/{bad}")).status_code == 422


async def test_run_detail_explains_rejections_drift_and_checkpoints(
    client: httpx.AsyncClient, db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv("ticker,price_usd,color\nBTC,100,red\nETH,abc,blue\nSOL,5,green\n")
    first = await run_csv(db, path)
    with path.open("a") as f:
        f.write("ADA,1,grey\n")
    second = await run_csv(db, path)

    detail = (await client.get(f"/runs/{first.run_id}")).json()
    RunDetail.model_validate(detail)
    assert (detail["status"], detail["processed"], detail["failed"]) == ("success", 2, 1)
    assert detail["rejections"] == {"price_usd is not a number": 1}
    assert detail["rejected_samples"] == [{"row": 2, "reason": "price_usd is not a number: 'abc'"}]
    assert {"kind": "new", "field": "color"} in [
        {"kind": e["kind"], "field": e["field"]} for e in detail["drift_events"]
    ]
    assert detail["checkpoint_before"] is None  # the very first run of the source
    after_first = detail["checkpoint_after"]
    assert after_first["run_id"] == first.run_id and after_first["last_id"] == "3"
    # the file name only: server paths are not shown (nor in the checkpoint)
    assert detail["details"]["file"] == path.name
    assert str(path.parent) not in str(detail)

    later = (await client.get(f"/runs/{second.run_id}")).json()
    assert later["checkpoint_before"] == after_first
    assert later["checkpoint_after"]["last_id"] == "4"
    assert later["drift_events"] == []  # the same header again is no news
    assert later["processed"] == 1 and later["rejections"] == {}
