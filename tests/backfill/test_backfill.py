"""`kasparro backfill` as a real process, over real HTTP against the fake upstream, on a real
PostgreSQL: plan limits and empty answers become gaps, the budget stops and resumes, a complete
backfill run again makes no request, and replay rebuilds what it stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import FakeConfig, RunningFake
from kasparro.domain.quote import Quote
from kasparro.pipeline.load import Batch, store_quotes
from kasparro.repositories.driver import begin
from tests.backfill import support
from tests.helpers import no_overrides, rows, scalar
from tests.rollup_check import assert_rollups_match_quotes

DAY = timedelta(days=1)


@pytest.fixture
async def seeded(db: AsyncEngine) -> AsyncEngine:
    await support.seed_assets(db)
    return db


def _days_ago(days: int) -> str:
    return (datetime.now(UTC) - days * DAY).date().isoformat()


async def test_plan_limits_and_empty_answers_become_gaps_and_the_run_succeeds(
    seeded: AsyncEngine, database_url: str, fake_server: RunningFake, tmp_path: Path
) -> None:
    fake_server.fake.reset(
        FakeConfig(gecko_history_days=100, paprika_hourly_days=0, history_empty=("tether",))
    )
    env = support.environment(database_url, fake_server, tmp_path, COINGECKO_HISTORY_DAYS="120")
    done = support.run(env, tmp_path, "--asset", "bitcoin", "--asset", "tether", "--asset",
                       "ripple", "--days", "150", "--interval", "1h")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 (no coin at coinpaprika)" in done.stdout  # ripple has none there
    now = datetime.now(UTC)
    requested = support.history_requests(fake_server)
    windows = await support.windows(seeded)

    def asked(w: dict[str, object]) -> bool:
        coin, start = w["source_coin_id"], w["window_start"]
        assert isinstance(start, datetime)
        marks = (f"from={int(start.timestamp())}&", f"start={start:%Y-%m-%dT%H:%M:%SZ}")
        return any(f"/{coin}/" in p and any(m in q for m in marks) for p, q in requested)

    for w in (w for w in windows if w["source"] == "coingecko"):
        if w["window_start"] < now - 120 * DAY:  # beyond COINGECKO_HISTORY_DAYS: never asked
            assert (w["state"], w["reason"], asked(w)) == ("gap", "plan_limit", False), w
        elif w["window_start"] < now - 100 * DAY:  # the upstream refused it (401, code 10012)
            assert (w["state"], w["reason"], asked(w)) == ("gap", "plan_limit", True), w
        elif w["source_coin_id"] == "tether":  # the upstream answered with no points
            assert (w["state"], w["reason"], w["points"]) == ("gap", "upstream_empty", 0), w
        else:
            hours = (w["window_end"] - w["window_start"]) / timedelta(hours=1)
            assert (w["state"], w["points"]) == ("done", hours), w
    free_reach = datetime.combine(now.date(), datetime.min.time(), UTC)  # one day of hourly ticks
    for w in (w for w in windows if w["source"] == "coinpaprika"):
        assert (w["state"], w["reason"]) == ("gap", "plan_limit"), w
        assert asked(w) == (w["window_start"] >= free_reach), w  # the fake's plan: HTTP 402
    assert {w["source_coin_id"] for w in windows if w["source"] == "coinpaprika"} == {
        "btc-bitcoin", "usdt-tether",
    }  # fmt: skip
    assert len(requested) == sum(1 for w in windows if asked(w))
    refused = await rows(
        seeded,
        "SELECT source, last_error FROM backfill_windows WHERE last_error IS NOT NULL",
    )
    assert {r["source"] for r in refused if "10012" in r["last_error"]} == {"coingecko"}


async def test_a_complete_backfill_run_again_makes_no_request_and_replay_rebuilds_it(
    seeded: AsyncEngine, database_url: str, fake_server: RunningFake, tmp_path: Path,
    make_client: Any,
) -> None:  # fmt: skip
    env = support.environment(database_url, fake_server, tmp_path, COINPAPRIKA_MONTHLY_CALLS="50")
    args = ("--top", "2", *support.one_window_range(30))
    first = support.run(env, tmp_path, *args)
    assert first.returncode == 0, first.stderr
    fetched = support.history_requests(fake_server)
    assert sum(fetched.values()) == len(fetched) == 4  # two assets, both sources, one window each
    before = (await support.tables(seeded))["quotes"]
    assert len(before) == 2 * (720 + 30)  # hourly from CoinGecko, daily from CoinPaprika
    assert {q["ticker"] for q in before} == {"BTC", "ETH"}
    fake_server.fake.clear_requests()

    again = support.run(env, tmp_path, *args)
    assert again.returncode == 0, again.stderr
    assert support.history_requests(fake_server) == {}
    assert await scalar(seeded, "SELECT sum(requests) FROM backfill_windows") == 4

    client = await make_client(coinpaprika_monthly_calls=50)
    body = (await client.get("/stats")).json()
    assert {"total_normalized", "sources", "runs_by_status"} <= set(body)  # the old keys stay
    progress = body["backfill"]
    assert progress["windows_by_state"]["coingecko"] == {
        "pending": 0, "running": 0, "done": 2, "gap": 0, "failed": 0,
    }  # fmt: skip
    assert progress["requests"] == {"coinpaprika": 2, "coingecko": 2}
    assert progress["points"] == {"coinpaprika": 60, "coingecko": 1440}
    assert progress["budget"]["coinpaprika"]["left"] == 48
    assert progress["budget"]["coingecko"] == {
        "month": datetime.now(UTC).date().replace(day=1).isoformat(), "calls": 2,
        "monthly_calls": None, "left": None,
    }  # fmt: skip
    metrics = (await client.get("/metrics")).text
    assert 'kasparro_backfill_windows{source="coingecko",state="done"} 2.0' in metrics
    assert 'kasparro_upstream_monthly_calls_left{source="coinpaprika"} 48.0' in metrics

    async with seeded.begin() as conn:
        await conn.execute(text("DELETE FROM quotes"))
    env.update(ETL_SOURCES="coingecko,coinpaprika")
    replay = support.run_kasparro(env, tmp_path, "etl", "replay")
    assert replay.returncode == 0, replay.stderr
    assert (await support.tables(seeded))["quotes"] == before
    assert support.history_requests(fake_server) == {}


async def test_backfilled_buckets_merge_with_stored_ones_into_what_the_observations_give(
    seeded: AsyncEngine, database_url: str, fake_server: RunningFake, tmp_path: Path
) -> None:
    """Hourly and daily windows take each point as its own bucket (no aggregation): where
    observations stored earlier share those buckets, the candle is still the observations' own."""
    args = support.one_window_range(30)
    inside = datetime.fromisoformat(args[1]) + timedelta(days=10, minutes=17, seconds=3)
    live = [
        Quote(source, coin, "BTC", "Bitcoin", Decimal(price), None, None, None, inside + offset)
        for source, coin in (("coingecko", "bitcoin"), ("coinpaprika", "btc-bitcoin"))
        for price, offset in (("1.5", timedelta()), ("99999.25", timedelta(hours=5)))
    ]  # fmt: skip
    async with begin(seeded) as tx:  # history only: the top assets stay as seeded
        await store_quotes(tx, no_overrides(), Batch("coingecko", None, live[:2], latest=()))
        await store_quotes(tx, no_overrides(), Batch("coinpaprika", None, live[2:], latest=()))
    env = support.environment(database_url, fake_server, tmp_path)

    done = support.run(env, tmp_path, "--top", "2", *args)

    assert done.returncode == 0, done.stderr
    assert await assert_rollups_match_quotes(seeded) > 2 * (720 + 720 + 30)
    hour = await rows(
        seeded,
        "SELECT source, count, low FROM quote_rollups WHERE interval = '1h'"
        " AND source_coin_id IN ('bitcoin', 'btc-bitcoin') AND bucket_start = date_trunc('hour', CAST(:at AS timestamptz)) ORDER BY source",
        at=inside,
    )
    assert [(r["source"], r["count"], r["low"]) for r in hour] == [
        ("coingecko", 2, Decimal("1.5")),  # the earlier point beside the backfilled one
        ("coinpaprika", 2, Decimal("1.5")),  # and beside the day's, observed at midnight
    ]
    day = await rows(
        seeded, "SELECT count FROM quote_rollups WHERE interval = '1d' AND source = 'coinpaprika'"
        " AND source_coin_id = 'btc-bitcoin' AND bucket_start = date_trunc('day', CAST(:at AS"
        " timestamptz))", at=inside,
    )  # fmt: skip
    assert [r["count"] for r in day] == [3]  # two earlier points and the day's backfilled one


async def test_the_monthly_budget_stops_the_backfill_and_the_next_month_resumes_it(
    seeded: AsyncEngine, database_url: str, fake_server: RunningFake, tmp_path: Path
) -> None:
    env = support.environment(database_url, fake_server, tmp_path, COINGECKO_MONTHLY_CALLS="3")
    args = ("--source", "coingecko", "--asset", "bitcoin", "--interval", "5m",
            "--start", _days_ago(6), "--end", _days_ago(1), "--workers", "1")  # fmt: skip
    stopped = support.run(env, tmp_path, *args)
    assert stopped.returncode == 3, stopped.stderr
    assert "monthly call budget of coingecko (3 calls) is spent" in stopped.stderr
    assert "2 windows stay pending" in stopped.stderr
    states = await rows(seeded, "SELECT state, count(*) AS n FROM backfill_windows GROUP BY 1")
    assert {r["state"]: r["n"] for r in states} == {"done": 3, "pending": 2}
    assert sum(support.history_requests(fake_server).values()) == 3
    assert await scalar(seeded, "SELECT calls FROM api_call_budget") == 3

    still = support.run(env, tmp_path, *args)  # the same month: nothing is sent
    assert still.returncode == 3
    assert sum(support.history_requests(fake_server).values()) == 3

    async with seeded.begin() as conn:  # the month turns
        await conn.execute(text("UPDATE api_call_budget SET month = month - interval '1 month'"))
    resumed = support.run(env, tmp_path, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert sum(support.history_requests(fake_server).values()) == 5
    assert await scalar(seeded, "SELECT count(*) FROM backfill_windows WHERE state = 'done'") == 5


async def test_three_processes_share_one_backfill_and_fetch_every_window_once(
    seeded: AsyncEngine, database_url: str, fake_server: RunningFake, tmp_path: Path
) -> None:
    fake_server.fake.slow(0.02, times=10_000)  # every answer takes a moment: claims overlap
    env = support.environment(database_url, fake_server, tmp_path)
    args = ("--top", "3", "--interval", "5m", "--start", _days_ago(8), "--end", _days_ago(2),
            "--source", "coingecko")  # fmt: skip
    processes = [support.start(env, tmp_path, *args) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], [o[1][-2000:] for o in outputs]
    fetched = support.history_requests(fake_server)
    windows = await support.windows(seeded)
    assert len(windows) == 18 and {w["state"] for w in windows} == {"done"}
    assert len(fetched) == 18 and set(fetched.values()) == {1}  # each exactly once
    claimers = await rows(seeded, "SELECT DISTINCT claimed_by FROM backfill_windows")
    assert len(claimers) > 1  # the work was shared


async def test_a_failing_window_is_failed_with_its_error_and_the_exit_is_1(
    seeded: AsyncEngine, database_url: str, fake_server: RunningFake, tmp_path: Path
) -> None:
    fake_server.fake.fail(times=3, status=500, source="coingecko")  # HTTP_MAX_ATTEMPTS=3
    env = support.environment(database_url, fake_server, tmp_path, HTTP_MAX_ATTEMPTS="3")
    args = ("--source", "coingecko", "--asset", "bitcoin", *support.one_window_range(5))
    failed = support.run(env, tmp_path, *args, "--workers", "1")
    assert failed.returncode == 1
    assert "1 windows failed" in failed.stderr
    (window,) = await rows(
        seeded, "SELECT state, reason, attempts, last_error FROM backfill_windows"
    )
    assert (window["state"], window["reason"], window["attempts"]) == ("failed", "failed", 1)
    assert "HTTP 500" in window["last_error"]
    retried = support.run(env, tmp_path, *args)
    assert retried.returncode == 0, retried.stderr  # the next backfill tries it again
