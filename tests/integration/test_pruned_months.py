"""Months retention dropped (`quote_pruned_months`): loading one again (a CSV run, a replay)
adds nothing to its rollups and is counted as skipped, a batch that read the months holds a drop off, a rebuild
keeps their buckets, and a candle range that starts or ends inside one keeps its edge buckets
(the export counts them the same way)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.pipeline.replay import build_replay_jobs
from kasparro.pipeline.retention import Retention, prune
from kasparro.pipeline.rollups import rebuild_rollups
from kasparro.pipeline.runner import EtlRunner
from kasparro.repositories import pruned_months
from kasparro.repositories.driver import begin
from tests.helpers import no_overrides, run_csv, scalar
from tests.integration.test_partitions_retention import NOW, _partitions
from tests.rollup_check import assert_rollups_match_quotes, stored_rollups

KEEP = Retention(history_days=60)  # at NOW (2025-06-15): January to March are pruned
IN_JANUARY = "bucket_start < '2025-02-01'"
HEADER = "ticker,name,price_usd,created_at"


def _rows(ticker: str, start: str, count: int, price: int, step: int = 20) -> list[str]:
    """`count` observations `step` minutes apart from `start` (UTC)."""
    first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return [
        f"{ticker},{ticker.title()},{price + k},"
        f"{(first + timedelta(minutes=step * k)).isoformat().replace('+00:00', 'Z')}"
        for k in range(count)
    ]


def _file(write_csv: Callable[..., Path], name: str, *parts: list[str]) -> Path:
    return write_csv("\n".join([HEADER, *(line for part in parts for line in part)]) + "\n", name)


async def _details(db: AsyncEngine, run_id: int) -> dict[str, Any]:
    details = await scalar(db, "SELECT details FROM etl_runs WHERE id = :id", id=run_id)
    return details if isinstance(details, dict) else json.loads(details)


async def test_loading_a_pruned_month_again_adds_nothing_and_is_counted_skipped(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    january = _rows("BTC", "2025-01-10T00:00:00", 144, 90000) + _rows(
        "ETH", "2025-01-10T00:00:00", 144, 3000
    )
    june = _rows("BTC", "2025-06-10T00:00:00", 72, 100000)
    first = await run_csv(db, _file(write_csv, "first.csv", january, june))
    assert first.status == "success"
    assert "skipped_in_pruned_months" not in await _details(db, first.run_id)
    kept_january = await stored_rollups(db, IN_JANUARY)
    assert kept_january
    await prune(db, KEEP, now=NOW)
    assert await scalar(db, "SELECT count(*) FROM quote_pruned_months"
                            " WHERE month = '2025-01-01'") == 1  # fmt: skip

    # the same January rows again, new January instants, and new June rows
    more_january = _rows("BTC", "2025-01-20T00:00:00", 10, 1)
    more_june = _rows("BTC", "2025-06-12T00:00:00", 30, 200000)
    second = await run_csv(db, _file(write_csv, "second.csv", january, more_january, more_june))

    assert second.status == "success"
    details = await _details(db, second.run_id)
    assert details["skipped_in_pruned_months"] == len(january) + len(more_january)
    assert await stored_rollups(db, IN_JANUARY) == kept_january  # nothing counted twice
    assert "quotes_y2025m01" not in await _partitions(db)
    assert await scalar(db, "SELECT count(*) FROM quotes") == len(june) + len(more_june)
    await assert_rollups_match_quotes(db, outside_pruned=True)
    # a replay of every stored CSV row skips January's the same way
    (replayed,) = await EtlRunner(db, build_replay_jobs(db, no_overrides())).run(["csv"])
    assert replayed.status == "success"
    skipped = (await _details(db, replayed.run_id))["skipped_in_pruned_months"]
    assert skipped == 2 * len(january) + len(more_january)
    assert await stored_rollups(db, IN_JANUARY) == kept_january
    # a rebuild recomputes what it can and keeps the pruned month's buckets
    await rebuild_rollups(db, [])
    assert await stored_rollups(db, IN_JANUARY) == kept_january
    await assert_rollups_match_quotes(db, outside_pruned=True)


async def _waiting_on_pruned_months(db: AsyncEngine) -> int:
    waiting: int = await scalar(
        db,
        "SELECT count(*) FROM pg_locks WHERE NOT granted"
        " AND relation = 'quote_pruned_months'::regclass",
    )
    return waiting


async def test_a_batch_that_read_the_pruned_months_holds_a_drop_off(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = _file(write_csv, "q.csv", _rows("BTC", "2025-01-05T00:00:00", 3, 1))
    assert (await run_csv(db, path)).status == "success"
    async with begin(db) as tx:
        assert await pruned_months.held(tx.driver) == frozenset()
        dropping = asyncio.create_task(prune(db, KEEP, now=NOW))
        for _ in range(80):  # the drop's transaction queues behind this one
            if await _waiting_on_pruned_months(db):
                break
            await asyncio.sleep(0.05)
        assert await _waiting_on_pruned_months(db) == 1
        assert not dropping.done()
    report = await dropping
    assert "quotes_y2025m01" in {item.what for item in report.items}
    async with begin(db) as tx:
        held = await pruned_months.held(tx.driver)
    assert any((m.year, m.month) == (2025, 1) for m in held)


async def _candles(client: httpx.AsyncClient, asset: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get(f"/assets/{asset}/history", params=params | {"limit": "1000"})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_a_range_edge_inside_a_pruned_month_keeps_its_edge_buckets(
    db: AsyncEngine, client: httpx.AsyncClient, write_csv: Callable[..., Path]
) -> None:
    january = _rows("BTC", "2025-01-10T00:00:00", 144, 90000)  # three an hour, two days
    june = _rows("BTC", "2025-06-10T00:00:00", 6, 100000)
    assert (await run_csv(db, _file(write_csv, "q.csv", january, june))).status == "success"
    asset = await scalar(db, "SELECT asset_id FROM asset_mappings WHERE source_coin_id = 'btc'")
    cut = {"interval": "1h", "start": "2025-01-10T05:30:00Z", "end": "2025-01-11T10:10:00Z"}
    before = await _candles(client, asset, **cut)
    # from the observations in range: 05:40 of the first hour, 10:00 of the last
    assert (before[0]["start"], before[0]["count"]) == ("2025-01-10T05:00:00Z", 1)
    assert (before[-1]["start"], before[-1]["count"]) == ("2025-01-11T10:00:00Z", 1)

    await prune(db, KEEP, now=NOW)
    after = await _candles(client, asset, **cut)

    # the edge buckets come whole from the rollups (their observations are gone)
    assert len(after) == len(before) == 30
    assert (after[0]["start"], after[0]["count"], after[0]["open"]) == (
        "2025-01-10T05:00:00Z", 3, 90015
    )  # fmt: skip
    assert (after[-1]["start"], after[-1]["count"], after[-1]["close"]) == (
        "2025-01-11T10:00:00Z", 3, 90104
    )  # fmt: skip
    assert after[1:-1] == before[1:-1]
    # a cut bucket whose observations all lie outside the range stays out, as before
    later = await _candles(client, asset, interval="1h", start="2025-01-10T05:45:00Z",
                           end="2025-01-10T08:00:00Z")  # fmt: skip
    assert [c["start"] for c in later][:1] == ["2025-01-10T06:00:00Z"]
    days = await _candles(client, asset, interval="1d", start="2025-01-10T12:00:00Z",
                          end="2025-01-11T06:00:00Z")  # fmt: skip
    assert [(c["start"], c["count"]) for c in days] == [
        ("2025-01-10T00:00:00Z", 72), ("2025-01-11T00:00:00Z", 72)
    ]  # fmt: skip
    # the export counts and streams the same candles
    exported = await client.get(
        "/export/history", params={"asset_id": asset, "format": "ndjson"} | cut
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["x-export-rows"] == "30"
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [(c["start"], c["count"]) for c in lines] == [(c["start"], c["count"]) for c in after]
