"""`kasparro serve`: migrations, API and the scheduler's immediate first run, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from tests.conftest import SAMPLE_CSV
from tests.fixtures.servers import free_port


def _wait_for_records(
    base: str, expected: int, source: str, timeout: float = 60
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            params = {"limit": 1, "source": source}
            body: dict[str, object] = httpx.get(f"{base}/data", params=params).json()
            if body["pagination"]["total"] == expected:  # type: ignore[index]
                return body
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no {expected} records at {base} within {timeout}s")
        time.sleep(0.2)


def test_serve_loads_every_source_right_after_start(
    db: AsyncEngine, database_url: str, tmp_path: Path, fake_server: RunningFake
) -> None:
    port = free_port()
    expected_counts = {"coingecko": 1000, "coinpaprika": 2009, "csv": 50}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "CSV_"))}
    env.update(
        DATABASE_URL=database_url,
        CSV_PATH=str(SAMPLE_CSV),
        ETL_INTERVAL_SECONDS="3600",
        COINPAPRIKA_BASE_URL=fake_server.coinpaprika_base_url,
        COINGECKO_BASE_URL=fake_server.coingecko_base_url,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "kasparro", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        body = _wait_for_records(base, 50, source="csv")
        assert body["data"][0]["ticker"] == "BTC"  # type: ignore[index]
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/stats").json()["records_by_source"] != expected_counts:
            assert time.monotonic() < deadline, httpx.get(f"{base}/stats").text
            time.sleep(0.2)
        health = httpx.get(f"{base}/health").json()
        assert health["status"] == "ok" and health["last_etl_status"] in {"running", "success"}
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status tells the signal
    assert process.returncode in (0, -15), output
    assert "Application shutdown complete" in output
    assert "ETL run completed successfully" in output
