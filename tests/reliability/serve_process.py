"""A real `kasparro serve` process for tests that talk to it over sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import SAMPLE_CSV
from tests.fixtures.servers import free_port


@dataclass(frozen=True, slots=True)
class Served:
    port: int
    base: str
    log: Path


@contextmanager
def serve(database_url: str, cwd: Path, **settings: str) -> Iterator[Served]:
    """`kasparro serve` with the scheduler off, healthy on return; its output goes to a file
    (a pipe nobody reads would fill and stall it)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "CSV_", "PROM"))}
    env.update(
        DATABASE_URL=database_url, CSV_PATH=str(SAMPLE_CSV), ETL_SOURCES="csv",
        ETL_INTERVAL_SECONDS="0", KASPARRO_DATA_DIR=str(cwd / "data"), LOG_FORMAT="json",
    )  # fmt: skip
    env.update(settings)
    cwd.mkdir(parents=True, exist_ok=True)
    log = cwd / f"serve-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kasparro", "serve", "--port", str(port)],
            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    served = Served(port, f"http://127.0.0.1:{port}", log)
    try:
        _wait_healthy(served, process)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_healthy(served: Served, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, served.log.read_text()[-3000:]
        try:
            if httpx.get(f"{served.base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not start: " + served.log.read_text()[-3000:]
        time.sleep(0.2)
