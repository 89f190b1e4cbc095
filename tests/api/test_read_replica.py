"""DATABASE_READ_URL: the read routes on a real streaming replica, falling back to the primary.

The replica is a hot standby made by `pg_basebackup -R` (tests/fixtures/replica.py). Reads are
shown to come from it by pausing its WAL replay: a row then written on the primary is absent
from `/data`, `/assets` and `/runs` until replay resumes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from kasparro.api.app import create_app
from kasparro.config import Settings
from kasparro.db.engine import create_engine
from tests.api.seed import quote, seed
from tests.conftest import SAMPLE_CSV
from tests.fixtures.replica import StreamingPair, streaming_pair  # noqa: F401  (a fixture)
from tests.helpers import run_csv

DEADLINE = 20.0


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _sql(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"not within {DEADLINE} s: {what}"
        await asyncio.sleep(0.1)


async def _pause_replay(pair: StreamingPair) -> None:
    await _sql(pair.replica_url, "SELECT pg_wal_replay_pause()")

    async def paused() -> bool:
        state = await _sql(pair.replica_url, "SELECT pg_get_wal_replay_pause_state()")
        return bool(state == "paused")

    await _until(paused, "the replica's replay pauses")


async def _seed_primary(pair: StreamingPair, ticker: str, price: str) -> None:
    engine = create_engine(pair.primary_url)
    try:
        await seed(engine, [quote(ticker, price)])
    finally:
        await engine.dispose()


def _without_meta(body: dict[str, Any]) -> dict[str, Any]:
    """The answer without its per-request `meta` (request id, latency)."""
    return {key: value for key, value in body.items() if key != "meta"}


def _tickers(body: dict[str, Any]) -> set[str]:
    return {row["ticker"] for row in body["data"]}


@pytest.fixture
async def open_app(
    streaming_pair: StreamingPair,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[Callable[[], Awaitable[httpx.AsyncClient]]]:
    """Opens an app (lifespan included) on the primary with the replica as DATABASE_READ_URL."""
    opened: list[tuple[FastAPI, Any, httpx.AsyncClient]] = []
    pair = streaming_pair

    async def open_client() -> httpx.AsyncClient:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=pair.primary_url, database_read_url=pair.replica_url,
            kasparro_data_dir=tmp_path / "data", csv_path=SAMPLE_CSV,
            etl_sources="csv", etl_interval_seconds=0,
        )  # fmt: skip
        app = create_app(settings, database_url=pair.primary_url)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        opened.append((app, lifespan, client))
        return client

    yield open_client
    for _app, lifespan, client in reversed(opened):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def test_a_write_on_the_primary_reaches_the_replica(
    streaming_pair: StreamingPair,  # noqa: F811
    open_app: Callable[[], Awaitable[httpx.AsyncClient]],
) -> None:
    pair = streaming_pair
    assert await _sql(pair.replica_url, "SELECT pg_is_in_recovery()") is True
    client = await open_app()
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json()["read_replica"] == "connected"

    await _seed_primary(pair, "BTC", "50000")

    async def on_replica() -> bool:
        return bool(await _sql(pair.replica_url, "SELECT count(*) FROM quotes") == 1)

    await _until(on_replica, "the primary's row is replayed on the replica")
    body = (await client.get("/data", params={"ticker": "BTC"})).json()
    assert [(row["ticker"], row["price_usd"]) for row in body["data"]] == [("BTC", 50000)]


async def test_read_routes_are_served_by_the_replica(
    streaming_pair: StreamingPair,  # noqa: F811
    open_app: Callable[[], Awaitable[httpx.AsyncClient]],
) -> None:
    pair = streaming_pair
    client = await open_app()
    await _pause_replay(pair)
    try:
        primary = create_engine(pair.primary_url)
        try:
            outcome = await run_csv(primary, SAMPLE_CSV)  # a run and its rows, on the primary
        finally:
            await primary.dispose()
        assert outcome.status == "success"
        assert await _sql(pair.primary_url, "SELECT count(*) FROM etl_runs") == 1
        # the replica has not replayed them: what the read routes answer is the replica's
        runs = await client.get("/runs")
        assert runs.status_code == 200
        assert runs.json()["pagination"]["total"] == 0
        assert _tickers((await client.get("/data")).json()) == {"BTC"}
        assets = (await client.get("/assets")).json()
        assert [a["ticker"] for a in assets["data"]] == ["BTC"]
    finally:
        await _sql(pair.replica_url, "SELECT pg_wal_replay_resume()")

    async def replayed() -> bool:
        return bool((await client.get("/runs")).json()["pagination"]["total"] == 1)

    await _until(replayed, "/runs shows the run once replay resumes")
    assert len(_tickers((await client.get("/data", params={"limit": 100})).json())) > 1


async def test_replica_down_reads_fall_back_to_the_primary_and_health_says_so(
    streaming_pair: StreamingPair,  # noqa: F811
    open_app: Callable[[], Awaitable[httpx.AsyncClient]],
) -> None:
    pair = streaming_pair
    client = await open_app()
    before = (await client.get("/data", params={"limit": 100})).json()
    assert before["data"]
    asset_id = before["data"][0]["asset_id"]
    paths = [f"/assets/{asset_id}", f"/assets/{asset_id}/history", f"/assets/{asset_id}/coverage"]
    paths += ["/assets", "/runs"]
    answers = {path: _without_meta((await client.get(path)).json()) for path in paths}
    pair.stop_replica()
    try:
        after = await client.get("/data", params={"limit": 100})
        assert after.status_code == 200
        assert after.json()["data"] == before["data"]
        for path in paths:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert _without_meta(response.json()) == answers[path], path
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["database"] == "connected"
        assert health.json()["read_replica"] == "disconnected"
        metrics = (await client.get("/metrics")).text
        assert "kasparro_read_replica_up 0.0" in metrics

        # an app started while the replica is unreachable reads from the primary from the start
        late = await open_app()
        late_health = await late.get("/health")
        assert late_health.status_code == 200
        assert late_health.json()["read_replica"] == "disconnected"
        assert (await late.get("/data", params={"limit": 100})).json()["data"] == before["data"]
        assert (await late.get("/runs")).json()["pagination"]["total"] == 1
    finally:
        pair.start_replica()

    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json()["read_replica"] == "connected"
    # reads are back on the replica: with its replay paused, a new row stays unseen there
    await _pause_replay(pair)
    try:
        await _seed_primary(pair, "RPLC", "3")
        assert "RPLC" not in _tickers((await client.get("/data", params={"limit": 100})).json())
    finally:
        await _sql(pair.replica_url, "SELECT pg_wal_replay_resume()")

    async def seen() -> bool:
        body = (await client.get("/data", params={"ticker": "RPLC"})).json()
        return bool(body["data"])

    await _until(seen, "the replica replays RPLC")


async def test_health_has_no_replica_key_without_a_read_url(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["database"] == "connected"
    assert "read_replica" not in body
