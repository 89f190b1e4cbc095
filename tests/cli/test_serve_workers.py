"""`kasparro serve --workers 2`: one /metrics and one ETL schedule across the processes; and
the external-cron trigger script against it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SAMPLE_CSV
from tests.fixtures.servers import free_port


def _metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def _wait(base: str, deadline: float) -> int:
    """Poll /health until the server answers; returns how many 200s that took (one)."""
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return 1
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def _trigger(base: str, token: str) -> subprocess.CompletedProcess[str]:
    """The external-cron recipe (docs/deploy-render.md): deploy/trigger_etl.py."""
    script = Path(__file__).resolve().parents[2] / "deploy" / "trigger_etl.py"
    env = {**os.environ, "KASPARRO_URL": base, "SCHEDULER_TOKEN": token}
    return subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )


def test_two_workers_share_metrics_and_one_schedule(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "CSV_", "PROM"))}
    env.update(
        DATABASE_URL=database_url, CSV_PATH=str(SAMPLE_CSV), ETL_SOURCES="csv",
        ETL_INTERVAL_SECONDS="3600", KASPARRO_DATA_DIR=str(tmp_path / "data"),
        SCHEDULER_TOKEN="cron-token",
    )  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "kasparro", "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        healthy = _wait(base, deadline)
        stats_calls = 1
        while "csv" not in httpx.get(f"{base}/stats").json()["sources"]:
            assert time.monotonic() < deadline
            stats_calls += 1
            time.sleep(0.2)
        # New connections until both workers have served some (the one that did not run the
        # ETL has a counter file only once it counted a request); the kernel spreads them.
        shared = tmp_path / "data" / "prometheus"
        requests = 0
        while requests < 20 or len(list(shared.glob("counter_*.db"))) < 2:
            assert requests < 500, "every request went to one worker"
            assert httpx.get(f"{base}/health", headers={"Connection": "close"}).status_code == 200
            requests += 1
        pages = [httpx.get(f"{base}/metrics").text for _ in range(4)]
        runs = httpx.get(f"{base}/runs", params={"source": "csv"}).json()
        cron = [_trigger(base, token) for token in ("cron-token", "wrong")]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    ok = {"method": "GET", "route": "/health", "status": "200"}
    # whichever worker answers counts every worker's requests, and the run the other one did
    assert {_metric(p, "kasparro_http_requests_total", **ok) for p in pages} == {healthy + requests}
    stats = {"method": "GET", "route": "/stats", "status": "200"}
    assert {_metric(p, "kasparro_http_requests_total", **stats) for p in pages} == {stats_calls}
    assert {
        _metric(p, "kasparro_etl_runs_total", source="csv", status="success") for p in pages
    } == {1}
    assert runs["pagination"]["total"] == 1, output  # two schedulers, one run
    assert output.count('"event": "Started server process') == 2, output
    assert cron[0].returncode == 0 and cron[0].stdout.startswith("202 "), cron[0]
    assert cron[1].returncode == 1 and "Invalid scheduler token" in cron[1].stderr
