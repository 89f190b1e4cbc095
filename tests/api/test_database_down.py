"""The API against a PostgreSQL this test stops and starts: 503 while down, recovery after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kasparro.api.app import create_app
from kasparro.config import Settings, to_asyncpg_url
from tests.fixtures.servers import stop_immediately


@pytest.fixture
async def client_on(own_server: Any) -> AsyncIterator[httpx.AsyncClient]:
    url = to_asyncpg_url(own_server.get_uri())
    app = create_app(Settings(_env_file=None, database_url=url), database_url=url)  # type: ignore[call-arg]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_database_down_gives_503_json_then_recovers(
    own_server: Any, client_on: httpx.AsyncClient
) -> None:
    assert (await client_on.get("/health")).status_code == 200

    stop_immediately(own_server)
    health = await client_on.get("/health")
    data = await client_on.get("/data")
    stats = await client_on.get("/stats")

    assert health.status_code == 503
    assert health.json()["status"] == "error" and health.json()["database"] == "disconnected"
    assert data.status_code == 503 and stats.status_code == 503
    assert "Database unavailable" in data.json()["detail"]
    assert "Traceback" not in health.text + data.text

    own_server.ensure_postgres_running()
    recovered = await client_on.get("/health")
    assert recovered.status_code == 200 and recovered.json()["database"] == "connected"
    assert (await client_on.get("/data")).status_code == 200
