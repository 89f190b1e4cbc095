"""Run `kasparro backfill` as a real process against the fake upstream; seed and read tables."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from kasparro.domain.backfill import GECKO_WINDOW, floor_to
from tests.helpers import rows

# asset id -> (CoinGecko coin, CoinPaprika coin, ticker); ids the fake serves
ASSETS = {
    "bitcoin": ("bitcoin", "btc-bitcoin", "BTC"),
    "ethereum": ("ethereum", "eth-ethereum", "ETH"),
    "tether": ("tether", "usdt-tether", "USDT"),
    "ripple": ("ripple", None, "XRP"),  # no CoinPaprika coin: skipped there
}
HISTORY_PATHS = ("/market_chart/range", "/historical")


def one_window_range(days: int) -> tuple[str, str, str, str]:
    """`--start`/`--end` of `days` whole UTC days, ending as late as possible but inside one
    cell of CoinGecko's hourly window grid: `--days N` ending now is two windows a coin on the
    days the range crosses a cell boundary (one day in 90)."""
    day = timedelta(days=1)
    end = floor_to(datetime.now(UTC), day)
    cell_start = floor_to(end - day, GECKO_WINDOW["1h"])
    if end - days * day < cell_start:
        end = cell_start
    start = end - days * day
    return ("--start", start.date().isoformat(), "--end", end.date().isoformat())


async def seed_assets(engine: AsyncEngine) -> None:
    """The assets above, their coins, and a market cap order (bitcoin first)."""
    async with engine.begin() as conn:
        for rank, (asset_id, (gecko, paprika, ticker)) in enumerate(ASSETS.items()):
            await conn.execute(
                text("INSERT INTO assets (asset_id, ticker, name) VALUES (:a, :t, :a)"),
                {"a": asset_id, "t": ticker},
            )
            for source, coin in (("coingecko", gecko), ("coinpaprika", paprika)):
                if coin is not None:
                    await conn.execute(
                        text(
                            "INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker,"
                            " name, method) VALUES (:s, :c, :a, :t, :a, 'new')"
                        ),
                        {"s": source, "c": coin, "a": asset_id, "t": ticker},
                    )
            await conn.execute(
                text(
                    "INSERT INTO asset_latest (asset_id, record_id, market_cap_usd,"
                    " consensus_price_usd, source_count, oldest_quote_at, newest_quote_at)"
                    " VALUES (:a, :r, :m, 1, 1, now(), now())"
                ),
                {"a": asset_id, "r": f"coingecko_{gecko}", "m": 10**12 // (rank + 1)},
            )


def environment(
    database_url: str, fake: RunningFake, data_dir: Path, **settings: str
) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("ETL_", "COINGECKO_", "COINPAPRIKA_", "HTTP_"))
    }  # fmt: skip
    env.update(
        DATABASE_URL=database_url,
        COINGECKO_BASE_URL=fake.coingecko_base_url,
        COINPAPRIKA_BASE_URL=fake.coinpaprika_base_url,
        COINGECKO_RPM="10000",
        COINPAPRIKA_RPM="10000",
        HTTP_MAX_ATTEMPTS="3",
        KASPARRO_DATA_DIR=str(data_dir),
        LOG_FORMAT="json",
        ASSET_OVERRIDES_PATH="/nonexistent/asset_overrides.csv",
    )
    env.update(settings)
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kasparro", "backfill", *args]


def run(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def run_kasparro(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Any `kasparro` command, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "kasparro", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


def start(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def history_requests(fake: RunningFake) -> Counter[tuple[str, str]]:
    """How often each history window (path, query) was requested."""
    return Counter(
        (r.path, "&".join(f"{k}={v}" for k, v in sorted(r.query.items())))
        for r in fake.fake.requests
        if r.path.endswith(HISTORY_PATHS)
    )


async def windows(engine: AsyncEngine) -> list[dict[str, Any]]:
    return await rows(
        engine,
        "SELECT source, source_coin_id, interval, window_start, window_end, state, reason, points"
        " FROM backfill_windows ORDER BY 1, 2, 3, 4, 5",
    )


async def tables(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """What a backfill stored: windows, quotes and raw responses (not who or when)."""
    return {
        "windows": await windows(engine),
        "quotes": await rows(
            engine,
            "SELECT source, source_coin_id, observed_at, ticker, name, price_usd::text AS price,"
            " market_cap_usd::text AS cap, volume_24h_usd::text AS vol FROM quotes"
            " ORDER BY 1, 2, 3",
        ),
        "raw": await rows(
            engine,
            "SELECT w.source, w.source_coin_id, w.window_start, r.endpoint, r.params::text,"
            " r.payload_hash FROM raw_api_records r JOIN backfill_windows w ON w.id = r.window_id"
            " ORDER BY 1, 2, 3",
        ),
    }


def start_and_kill(env: dict[str, str], cwd: Path, after: float, *args: str) -> None:
    """Start a backfill, wait for its first progress line (it has planned), then SIGKILL it
    `after` seconds later."""
    process = start(env, cwd, *args)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "backfill: " in line:
            break
    else:
        raise AssertionError(f"the backfill never started:\n{''.join(seen)}")
    time.sleep(after)
    process.kill()
    process.wait(timeout=30)
