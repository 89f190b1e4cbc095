"""Garbage in: a clear error or a counted bad row, never a 5xx, never a leaked secret."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.params import MAX_OFFSET
from kasparro.devtools import RunningFake
from tests.helpers import rows, run_csv

SECRETS = {
    "scheduler_token": "sched-7f3c9e-secret",
    "api_source_key": "paprika-key-91ab-secret",
    "coingecko_api_key": "gecko-key-52cd-secret",
}
DB_PASSWORD = "pg-pass-3e8f-secret"
UNREACHABLE_DB = f"postgresql://kasparro:{DB_PASSWORD}@127.0.0.1:9/kasparro"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (f"offset={MAX_OFFSET}", 200),
        (f"offset={MAX_OFFSET + 1}", 422),
        ("offset=" + "9" * 400, 422),
        ("offset=1e3", 422),
        ("limit=0", 422),
        ("ticker=%FF%FE", 200),  # invalid UTF-8: replacement characters, matching nothing
        ("ticker=" + "%27%3BDROP%20TABLE%20x%3B--", 200),
        ("start_date=" + "2" * 10_000, 422),
        ("limit=1&limit=2&offset=0&offset=1", 200),
    ],
)
async def test_malformed_and_oversized_parameters(
    client: httpx.AsyncClient, query: str, status: int
) -> None:
    response = await client.get(f"/data?{query}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    if status == 200:
        assert response.json()["data"] == []


async def test_oversized_and_malformed_headers(client: httpx.AsyncClient) -> None:
    huge_id = await client.get("/data", headers={"X-Request-ID": "r" * 100_000})
    binary_id = await client.get("/data", headers=[(b"X-Request-ID", b"\xff\xfe\x00bad")])
    huge_token = await client.post("/trigger-etl", headers={"X-Scheduler-Token": "t" * 100_000})
    binary_token = await client.post("/trigger-etl", headers=[(b"X-Scheduler-Token", b"\xff\xfe")])

    assert huge_id.status_code == 200 and huge_id.headers["X-Request-ID"].startswith("req-")
    assert binary_id.status_code == 200 and binary_id.headers["X-Request-ID"].startswith("req-")
    for response in (huge_token, binary_token):  # trigger disabled here: 503 or a 422, no 500
        assert response.status_code in (422, 503) and "detail" in response.json()


async def test_a_10_mb_single_line_is_a_counted_bad_row(db: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("ticker,price_usd\nBTC,1\n" + "E" * 10_000_000 + ",2\nETH,3\n", "utf-8")
    outcome = await run_csv(db, path)

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 2, 1)
    (bad,) = await rows(db, "SELECT row_number, error FROM raw_csv_records WHERE error IS NOT NULL")
    assert bad["row_number"] == 2 and bad["error"]


async def test_a_10_mb_single_line_file_fails_with_a_clear_message(
    db: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "one-line.csv"
    path.write_text("x" * 10_000_000, "utf-8")
    outcome = await run_csv(db, path)
    assert outcome.status == "failure" and outcome.message
    assert outcome.message == "CSV header row is longer than 65536 bytes; is this a CSV file?"


async def test_secrets_never_reach_logs_errors_or_docs(
    make_client: Callable[..., Any],
    fake_server: RunningFake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_server.fake.fail(times=100, status=401)  # upstream errors end up in logs and runs
    client: httpx.AsyncClient = await make_client(
        etl_sources="csv,coinpaprika,coingecko",
        coinpaprika_base_url=fake_server.coinpaprika_base_url,
        coingecko_base_url=fake_server.coingecko_base_url,
        **SECRETS,
    )
    caplog.set_level(logging.DEBUG)
    wrong = await client.post("/trigger-etl", headers={"X-Scheduler-Token": "nope"})
    right = await client.post(
        "/trigger-etl", headers={"X-Scheduler-Token": SECRETS["scheduler_token"]}
    )
    assert wrong.status_code == 401 and right.status_code == 202
    await client._transport.app.state.kasparro.runner.wait_background()  # type: ignore[attr-defined]
    seen = [wrong.text, right.text, caplog.text]
    for path in ("/docs", "/openapi.json", "/stats", "/health", "/data"):
        seen.append((await client.get(path)).text)
    stats = (await client.get("/stats")).json()
    assert stats["last_failure"]["message"] is not None  # the upstream errors were recorded
    exposed = "\n".join(seen)
    for secret in SECRETS.values():
        assert secret not in exposed


def _run_cli(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "CSV_"))}
    command = [sys.executable, "-m", "kasparro", "etl", "run"]
    return subprocess.run(
        command, cwd=cwd, env={**environment, **env}, capture_output=True, text=True, timeout=60
    )


async def test_the_database_password_never_appears(
    make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    from kasparro.api.app import create_app
    from kasparro.config import Settings

    settings = Settings(_env_file=None, database_url=UNREACHABLE_DB)  # type: ignore[call-arg]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            health = await api.get("/health")
            data = await api.get("/data")
    assert health.status_code == 503 and data.status_code == 503

    cli = _run_cli(tmp_path, DATABASE_URL=UNREACHABLE_DB)
    assert cli.returncode == 4 and "cannot reach the database" in cli.stderr
    for text in (health.text, data.text, caplog.text, cli.stdout, cli.stderr):
        assert DB_PASSWORD not in text
