"""kill -9 at seeded instants during a backfill, then the same command again: the tables end
as after an uninterrupted backfill, and no window that was done is fetched again (that a
complete backfill run again makes no request is in test_backfill.py)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from tests.backfill import support
from tests.helpers import rows

SEED = 20261202
KILLS = 3
WORKERS = 2


def _args() -> tuple[str, ...]:
    day = datetime.now(UTC).date()
    return ("--top", "3", "--interval", "5m", "--start", str(day - timedelta(days=7)),
            "--end", str(day - timedelta(days=1)), "--workers", str(WORKERS))  # fmt: skip


async def _window_key_requests(
    engine: AsyncEngine, fetched: Counter[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Requests so far of each window that is done, by its coin and CoinGecko `from`."""
    done = await rows(
        engine,
        "SELECT source_coin_id, window_start FROM backfill_windows WHERE state = 'done'",
    )
    keys = [(f"/coins/{r['source_coin_id']}/", f"from={int(r['window_start'].timestamp())}&")
            for r in done]  # fmt: skip
    return {
        key: sum(n for (path, query), n in fetched.items() if key[0] in path and key[1] in query)
        for key in keys
    }


async def test_kill_9_then_resume_ends_as_a_clean_backfill(
    db: AsyncEngine, database_url: str, fake_server: RunningFake, tmp_path: Path
) -> None:
    await support.seed_assets(db)
    fake_server.fake.slow(0.04, times=100_000)  # kills land while answers are in flight
    env = support.environment(database_url, fake_server, tmp_path)
    clean = await asyncio.to_thread(support.run, env, tmp_path, *_args())
    assert clean.returncode == 0, clean.stderr
    expected = await support.tables(db)
    windows = len([w for w in expected["windows"] if w["state"] == "done"])
    assert windows == 18  # three assets, six days of 5-minute windows (CoinPaprika: plan limit)

    async with db.begin() as conn:
        await conn.execute(
            text("TRUNCATE backfill_windows, raw_api_records, quotes, api_call_budget")
        )
    fake_server.fake.clear_requests()
    rng = random.Random(SEED)
    done_at_kill: list[dict[tuple[str, str], int]] = []
    for _ in range(KILLS):
        await asyncio.to_thread(
            support.start_and_kill, env, tmp_path, rng.uniform(0.1, 0.6), *_args()
        )
        done_at_kill.append(await _window_key_requests(db, support.history_requests(fake_server)))
    assert any(0 < len(done) < windows for done in done_at_kill)  # killed mid-way, really

    resumed = await asyncio.to_thread(support.run, env, tmp_path, *_args())
    assert resumed.returncode == 0, resumed.stderr
    assert await support.tables(db) == expected
    fetched = support.history_requests(fake_server)
    final = await _window_key_requests(db, fetched)
    for done in done_at_kill:  # a window done before a kill was never fetched after it
        assert {key: final[key] for key in done} == done
    # only windows in flight at a kill (at most one per worker) were fetched twice
    assert sum(fetched.values()) - windows <= KILLS * WORKERS
