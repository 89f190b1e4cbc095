"""`/compare-runs` and the automatic check of each finished run against the previous one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kasparro.api.schemas.runs import CompareResponse
from kasparro.api.schemas.status import StatsResponse
from kasparro.pipeline import run_review
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.runner import EtlRunner
from tests.helpers import no_overrides, rows
from tests.observability.metrics_text import sample
from tests.observability.seed_runs import cap, seed_run

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def market(**changed: str) -> dict[str, tuple[str, str | None]]:
    """COIN0..COIN100 by falling market cap at $100 (COIN100 ranks 101st), and OLD without one;
    `changed` overrides prices."""
    prices: dict[str, tuple[str, str | None]] = {
        f"COIN{i}": (changed.get(f"COIN{i}", "100"), cap(i)) for i in range(101)
    }
    prices["OLD"] = ("1", None)
    return prices


@pytest.fixture
async def seeded(db: AsyncEngine) -> dict[str, int]:
    """Nine 100 ms runs, then baseline `a`, then `b` with every anomaly planted, then `c`
    with every difference just short of a threshold."""
    for i in range(9):
        await seed_run(db, started_at=T0 + timedelta(hours=i))
    a = await seed_run(db, started_at=T0 + timedelta(hours=9), processed=1000, prices=market())
    b_prices = market(COIN0="150", COIN1="151", COIN2="49", COIN100="300")
    del b_prices["OLD"]
    b_prices["FRESH"] = ("7", None)
    b = await seed_run(
        db, started_at=T0 + timedelta(hours=10), processed=799, failed=1, duration_ms=301,
        prices=b_prices,
    )  # fmt: skip
    c = await seed_run(
        db, started_at=T0 + timedelta(hours=11), processed=800, duration_ms=300,
        prices=market(COIN0="150", COIN100="300"),
    )  # fmt: skip
    other = await seed_run(db, source="coingecko", started_at=T0)
    return {"a": a, "b": b, "c": c, "other": other}


async def test_compare_flags_exactly_the_planted_anomalies(
    client: httpx.AsyncClient, seeded: dict[str, int]
) -> None:
    response = await client.get("/compare-runs", params={"a": seeded["a"], "b": seeded["b"]})
    assert response.status_code == 200, response.text
    body = response.json()
    CompareResponse.model_validate(body)  # the documented (OpenAPI) shape
    assert [f["flag"] for f in body["anomalies"]] == [
        "record_count_drop", "failure_rate_up", "price_move", "slow_run",
    ]  # fmt: skip
    price_move = body["anomalies"][2]
    assert price_move["coins"] == ["csv_coin1", "csv_coin2"]  # not COIN0 (50.00%), not COIN100
    assert body["counts"] == {
        "processed": {"a": 1000, "b": 799, "change": -201},
        "failed": {"a": 0, "b": 1, "change": 1},
        "failure_rate_pct": {"a": 0.00, "b": 0.12},  # 0.125 rounded half-even
    }
    assert body["duration_ms"] == {"a": 100, "b": 301, "median_of_previous": 100}
    assert body["coins"] == {
        "a": 102, "b": 102, "added_count": 1, "removed_count": 1,
        "added": [{"id": "csv_fresh", "ticker": "FRESH"}],
        "removed": [{"id": "csv_old", "ticker": "OLD"}],
    }  # fmt: skip
    prices = body["prices"]
    assert prices["compared"] == 101 and prices["median_change_pct"] == 0
    assert [(m["ticker"], m["change_pct"]) for m in prices["largest_movers"][:4]] == [
        ("COIN100", 200), ("COIN1", 51), ("COIN2", -51), ("COIN0", 50),
    ]  # fmt: skip
    assert '"price_b":151.00000000' in response.text  # exact decimals, never floats
    assert (body["source"], body["a"]["id"], body["b"]["id"]) == ("csv", seeded["a"], seeded["b"])


async def test_differences_at_the_thresholds_are_not_flagged(
    client: httpx.AsyncClient, seeded: dict[str, int]
) -> None:
    body = (await client.get("/compare-runs", params={"a": seeded["a"], "b": seeded["c"]})).json()
    assert body["anomalies"] == []
    assert body["counts"]["processed"]["change"] == -200  # exactly 20% down
    assert body["duration_ms"]["b"] == 3 * body["duration_ms"]["median_of_previous"]


async def test_compare_rejects_unknown_and_mismatched_runs(
    client: httpx.AsyncClient, seeded: dict[str, int]
) -> None:
    missing = await client.get("/compare-runs", params={"a": seeded["a"], "b": 9999})
    assert missing.status_code == 404 and missing.json() == {"detail": "No ETL run with id 9999"}
    mixed = await client.get("/compare-runs", params={"a": seeded["a"], "b": seeded["other"]})
    assert mixed.status_code == 422 and "different sources" in mixed.json()["detail"]
    for params in ({"a": seeded["a"]}, {"a": "x", "b": 1}, {"a": 0, "b": 1}):
        assert (await client.get("/compare-runs", params=params)).status_code == 422


def steady_clock() -> Callable[[], float]:
    """Every run takes exactly one second."""
    ticks: Iterator[float] = iter(x / 2 for x in range(10**6))
    return lambda: next(ticks)


ROWS = "ticker,price_usd,market_cap_usd,created_at\n"


def day(n: int, btc: str = "100", count: int = 10) -> str:
    coins = [("BTC", btc)] + [(f"C{i}", "10") for i in range(1, count)]
    return "".join(
        f"{t},{p},{10**9 - i},2026-01-{n:02d}T00:00:00Z\n" for i, (t, p) in enumerate(coins)
    )


async def test_each_run_is_checked_against_the_previous_one(
    client: httpx.AsyncClient,
    db: AsyncEngine,
    write_csv: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = write_csv(ROWS + day(1))
    runner = EtlRunner(db, {"csv": CsvJob(db, no_overrides(), path, 1000)}, clock=steady_clock())
    (first,) = await runner.run()
    with path.open("a") as f:  # 6 good rows and a bad one; BTC up 60%
        f.write(day(2, btc="160", count=6) + "ETH,abc,1,2026-01-02T00:00:00Z\n")
    before = await sample(client, "kasparro_etl_anomalies_total", source="csv", flag="price_move")
    with caplog.at_level(logging.WARNING, logger="kasparro.etl"):
        (second,) = await runner.run()
        (third,) = await runner.run()  # nothing new: not compared, and hides nothing

    expected = ["record_count_drop", "failure_rate_up", "price_move"]
    detail = (await client.get(f"/runs/{second.run_id}")).json()
    assert detail["compared_with"] == first.run_id
    assert [f["flag"] for f in detail["anomalies"]] == expected
    assert detail["anomalies"][2]["coins"] == ["csv_btc"]
    assert (await client.get(f"/runs/{third.run_id}")).json()["anomalies"] == []
    stats = (await client.get("/stats")).json()
    StatsResponse.model_validate(stats)
    assert [(a["flag"], a["run_id"], a["source"]) for a in stats["anomalies"]] == [
        (flag, second.run_id, "csv") for flag in expected
    ]
    assert stats["sources"]["csv"]["last_run_id"] == third.run_id
    assert [r.anomaly for r in caplog.records if hasattr(r, "anomaly")] == expected  # type: ignore[attr-defined]
    after = await sample(client, "kasparro_etl_anomalies_total", source="csv", flag="price_move")
    assert after == before + 1

    path.write_text("symbol,cost\nBTC,1\n")  # a broken file: the run fails having read nothing
    (broken,) = await runner.run()
    detail = (await client.get(f"/runs/{broken.run_id}")).json()
    assert (detail["status"], detail["compared_with"]) == ("failure", second.run_id)
    assert [f["flag"] for f in detail["anomalies"]] == ["record_count_drop"]
    stats = (await client.get("/stats")).json()
    assert [(a["flag"], a["run_id"]) for a in stats["anomalies"]] == [
        ("record_count_drop", broken.run_id)
    ]


async def test_only_the_newest_snapshots_are_kept(
    client: httpx.AsyncClient, db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(ROWS + day(1))
    runner = EtlRunner(db, {"csv": CsvJob(db, no_overrides(), path, 1000)}, snapshots_kept=2)
    run_ids = []
    for n in (2, 3, 4):
        (outcome,) = await runner.run()
        run_ids.append(outcome.run_id)
        (nothing_new,) = await runner.run()  # has no snapshot, so it does not count
        assert nothing_new.processed == 0
        with path.open("a") as f:
            f.write(day(n))
    kept = await rows(db, "SELECT run_id, count(*) AS coins FROM etl_run_quotes GROUP BY run_id")
    assert sorted((r["run_id"], r["coins"]) for r in kept) == [(run_ids[1], 10), (run_ids[2], 10)]

    old = (await client.get("/compare-runs", params={"a": run_ids[0], "b": run_ids[2]})).json()
    assert old["snapshots_pruned"] == ["a"] and old["coins"]["a"] == 0
    recent = (await client.get("/compare-runs", params={"a": run_ids[1], "b": run_ids[2]})).json()
    assert recent["snapshots_pruned"] == [] and recent["prices"]["compared"] == 10
    assert (await client.get(f"/runs/{run_ids[2]}")).json()["compared_with"] == run_ids[1]


async def test_a_huge_price_move_is_compared_and_flagged(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    tiny = {"COIN0": ("0.00000001", cap(0)), "COIN1": ("1", cap(1))}
    huge = {"COIN0": ("999999999999999999999999999999.99999999", cap(0)), "COIN1": ("1", cap(1))}
    a = await seed_run(db, started_at=T0, prices=tiny)
    b = await seed_run(db, started_at=T0 + timedelta(hours=1), prices=huge)

    response = await client.get("/compare-runs", params={"a": a, "b": b})

    assert response.status_code == 200, response.text
    (mover, *_) = response.json()["prices"]["largest_movers"]
    assert mover["id"] == "csv_coin0"
    assert '"change_pct":9999999999999999999999999999999999999800.00' in response.text
    assert [f["flag"] for f in response.json()["anomalies"]] == ["price_move"]


async def test_the_automatic_review_flags_a_huge_move(db: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "moves.csv"
    header = "ticker,price_usd,market_cap_usd\n"
    path.write_text(header + "BTC,0.00000001,1000\n", "utf-8")
    await run_csv_job(db, path)
    path.write_text(header + "BTC,999999999999999999999999999999,1000\n", "utf-8")  # a new file
    await run_csv_job(db, path)

    (last,) = await rows(db, "SELECT details FROM etl_runs ORDER BY id DESC LIMIT 1")
    assert [f["flag"] for f in last["details"]["anomalies"]] == ["price_move"]


async def run_csv_job(db: AsyncEngine, path: Path) -> None:
    (outcome,) = await EtlRunner(db, {"csv": CsvJob(db, no_overrides(), path, 100)}).run()
    assert outcome.status == "success", outcome.message


_AUDIT = [
    "CREATE TABLE test_run_row_writes (n serial, run_id int, was text, became text, details jsonb)",
    """CREATE FUNCTION test_note_run_row_write() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
           INSERT INTO test_run_row_writes (run_id, was, became, details)
           VALUES (NEW.id, OLD.status, NEW.status, NEW.details);
           RETURN NEW;
       END $$""",
    """CREATE TRIGGER test_note_run_row_write AFTER UPDATE ON etl_runs
       FOR EACH ROW EXECUTE FUNCTION test_note_run_row_write()""",
]


@pytest.fixture
async def run_row_writes(db: AsyncEngine) -> AsyncIterator[None]:
    """Every UPDATE of an `etl_runs` row noted, in order, in `test_run_row_writes`."""
    async with db.begin() as conn:
        for sql in _AUDIT:
            await conn.execute(text(sql))
    try:
        yield
    finally:
        async with db.begin() as conn:
            await conn.execute(text("DROP TRIGGER test_note_run_row_write ON etl_runs"))
            await conn.execute(text("DROP FUNCTION test_note_run_row_write()"))
            await conn.execute(text("DROP TABLE test_run_row_writes"))


async def test_a_run_becomes_finished_in_one_write_that_carries_its_review(
    db: AsyncEngine, write_csv: Callable[..., Path], run_row_writes: None
) -> None:
    path = write_csv(ROWS + day(1))
    runner = EtlRunner(db, {"csv": CsvJob(db, no_overrides(), path, 3)})
    (first,) = await runner.run()
    with path.open("a") as f:
        f.write(day(2, btc="160"))  # BTC up 60%: a price move
    (second,) = await runner.run()

    writes = await rows(
        db, "SELECT was, became, details FROM test_run_row_writes WHERE run_id = :id ORDER BY n",
        id=second.run_id,
    )  # fmt: skip
    assert [w["was"] for w in writes].count("running") == len(writes)  # none once finished
    (finishing,) = [w for w in writes if w["became"] != "running"]
    assert finishing == writes[-1] and finishing["became"] == "success"
    assert finishing["details"]["compared_with"] == first.run_id
    assert [f["flag"] for f in finishing["details"]["anomalies"]] == ["price_move"]
    assert len(writes) > 1  # the batches' progress came before, in their own transactions


async def test_a_review_that_fails_leaves_the_run_recorded(
    client: httpx.AsyncClient,
    db: AsyncEngine,
    write_csv: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken_review(conn: AsyncConnection, *args: Any) -> None:
        await conn.execute(text("SELECT 1 / 0"))  # aborts the statement's transaction

    path = write_csv(ROWS + day(1))
    runner = EtlRunner(db, {"csv": CsvJob(db, no_overrides(), path, 1000)})
    await runner.run()
    with path.open("a") as f:
        f.write(day(2, btc="160"))
    monkeypatch.setattr(run_review, "compare_with_previous", broken_review)
    with caplog.at_level(logging.ERROR, logger="kasparro.etl"):
        (second,) = await runner.run()

    assert (second.status, second.processed) == ("success", 10)
    detail = (await client.get(f"/runs/{second.run_id}")).json()
    assert (detail["status"], detail["processed"]) == ("success", 10)
    assert detail["compared_with"] is None and detail["anomalies"] == []
    assert detail["checkpoint_after"] is not None
    snapshot = await rows(db, "SELECT 1 FROM etl_run_quotes WHERE run_id = :id", id=second.run_id)
    assert len(snapshot) == 10
    assert "could not compare the run with the previous one" in caplog.text
