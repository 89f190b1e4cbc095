"""The API under abuse (issue 10, item 13): the rate limit, the read statement timeout, and a
/health that answers while `etl_runs` is locked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.errors import QUERY_TIMEOUT_DETAIL
from kasparro.api.routers.health import RUNS_LOCKED
from tests.conftest import SAMPLE_CSV
from tests.helpers import run_csv

HEALTH_KEYS = {"status", "database", "last_etl", "last_etl_status", "timestamp",
               "next_scheduled_run"}  # fmt: skip
GENEROUS = 30  # seconds: only so that a regression fails instead of hanging


async def test_over_the_limit_is_a_429_with_retry_after(make_client: Callable[..., Any]) -> None:
    client = await make_client(api_rate_limit="3/minute")

    allowed = [(await client.get("/")).status_code for _ in range(3)]
    over = await client.get("/data")

    assert allowed == [200, 200, 200]
    assert over.status_code == 429
    assert over.headers["content-type"] == "application/json"
    retry_after = int(over.headers["Retry-After"])  # integer seconds
    assert 1 <= retry_after <= 20  # one request comes back every 60/3 s
    assert over.json() == {"detail": f"Rate limit exceeded (3/minute); retry in {retry_after} s"}
    assert over.headers["X-Request-ID"].startswith("req-")  # the usual headers still apply
    assert over.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_429_carries_cors_headers_so_a_dashboard_can_read_it(
    make_client: Callable[..., Any],
) -> None:
    client = await make_client(api_rate_limit="1/minute", cors_origins="https://dash.example")
    origin = {"Origin": "https://dash.example"}
    await client.get("/", headers=origin)

    over = await client.get("/data", headers=origin)

    assert over.status_code == 429
    assert over.headers["Access-Control-Allow-Origin"] == "https://dash.example"


@pytest.mark.parametrize("limit", ["2/second", "2/hour", "2/SECOND"])
async def test_each_period_is_understood(make_client: Callable[..., Any], limit: str) -> None:
    client = await make_client(api_rate_limit=limit)
    statuses = [(await client.get("/")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_health_and_metrics_are_exempt(make_client: Callable[..., Any]) -> None:
    client = await make_client(api_rate_limit="1/hour")
    await client.get("/")

    for _ in range(5):
        assert (await client.get("/health")).status_code == 200
        assert (await client.head("/health")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.head("/metrics")).status_code != 429
    assert (await client.get("/")).status_code == 429


async def test_no_limit_when_unset(client: httpx.AsyncClient) -> None:
    statuses = {(await client.get("/")).status_code for _ in range(50)}
    assert statuses == {200}


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    make_client: Callable[..., Any],
) -> None:
    # httpx's ASGI transport connects from 127.0.0.1
    direct = await make_client(api_rate_limit="1/minute")
    proxied = await make_client(api_rate_limit="1/minute", trusted_proxies="127.0.0.0/8")

    def via(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": f"{address}, 127.0.0.2"}  # the proxy chain, nearest last

    spoofed = [(await direct.get("/", headers=via(a))).status_code for a in ("1.1.1.1", "2.2.2.2")]
    forwarded = [
        (await proxied.get("/", headers=via(address))).status_code
        for address in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "1.1.1.1")
    ]

    assert spoofed == [200, 429]  # an untrusted peer's header changes nothing
    assert forwarded == [200, 200, 200, 429]  # one budget per forwarded client


async def test_a_read_past_the_statement_timeout_is_a_503(
    make_client: Callable[..., Any], db: AsyncEngine
) -> None:
    await run_csv(db, SAMPLE_CSV)
    client = await make_client(api_statement_timeout_ms=50)
    async with db.connect() as locker:  # another session holds the tables the reads need
        await locker.execute(text(
            "LOCK TABLE asset_latest, normalized_records, assets IN ACCESS EXCLUSIVE MODE"
        ))  # fmt: skip
        answers = [
            await asyncio.wait_for(client.get(path), GENEROUS)
            for path in ("/data", "/data?ticker=BTC", "/assets")
        ]
        await locker.rollback()
    after = await client.get("/data")

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json() == {"detail": QUERY_TIMEOUT_DETAIL}
    assert after.status_code == 200 and after.json()["pagination"]["total"] > 0


async def test_health_answers_while_etl_runs_is_locked(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await run_csv(db, SAMPLE_CSV)
    async with db.connect() as locker:
        await locker.execute(text("LOCK TABLE etl_runs IN ACCESS EXCLUSIVE MODE"))
        locked = await asyncio.wait_for(client.get("/health"), GENEROUS)
        head = await asyncio.wait_for(client.head("/health"), GENEROUS)
        await locker.rollback()
    unlocked = await client.get("/health")

    assert locked.status_code == 200 and head.status_code == 200
    body = locked.json()
    assert set(body) == HEALTH_KEYS
    assert body["status"] == "ok" and body["database"] == "connected"
    assert body["last_etl"] is None and body["last_etl_status"] is None  # unknown, not guessed
    assert locked.headers["X-Health-Detail"] == RUNS_LOCKED
    assert unlocked.json()["last_etl_status"] == "success"
    assert "X-Health-Detail" not in unlocked.headers
