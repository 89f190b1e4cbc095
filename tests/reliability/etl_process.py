"""Run `kasparro etl run` as a real process the tests can kill, terminate and wait for."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

STARTED = "ETL run started"


def environment(database_url: str, csv_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "CSV_"))}
    env.update(DATABASE_URL=database_url, CSV_PATH=str(csv_path), ETL_SOURCES="csv")
    env.update(settings)
    return env


def start(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "kasparro", "etl", "run", *args]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def start_serve(env: dict[str, str], cwd: Path, port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "kasparro", "serve", "--port", str(port)]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for_start(process: subprocess.Popen[str]) -> str:
    """Read the log until the run has started (its row is `running`); returns what was read."""
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if STARTED in line:
            return "".join(seen)
    raise AssertionError(f"the run never started:\n{''.join(seen)}")


def write_quotes_csv(path: Path, rows: int, seed: int = 5) -> Path:
    """`rows` timestamped quotes of 200 coins (every 97th row bad), the same for a given seed."""
    rng = random.Random(seed)
    start_time = datetime(2025, 1, 1, tzinfo=UTC)
    lines = ["ticker,name,price_usd,market_cap_usd,created_at"]
    for n in range(rows):
        coin = n % 200
        price = f"{rng.uniform(0.01, 90_000):.6f}" if n % 97 else "not-a-price"
        when = (start_time + timedelta(minutes=n)).isoformat()
        lines.append(f"C{coin},Coin {coin},{price},{rng.randint(1, 10**12)},{when}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
