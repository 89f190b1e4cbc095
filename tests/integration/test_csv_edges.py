"""CSV lines over the length cap, and a row still being appended when a run reads the file."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.outcome import RunOutcome
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources.csv_file import CsvLimits
from tests.helpers import no_overrides, rows


async def run(db: AsyncEngine, path: Path, limits: CsvLimits) -> RunOutcome:
    (outcome,) = await EtlRunner(
        db, {"csv": CsvJob(db, no_overrides(), path, 100, limits=limits)}
    ).run()
    return outcome


async def test_a_line_over_the_cap_is_a_rejected_row_stored_truncated(
    db: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "long.csv"
    path.write_text("ticker,price_usd\nBTC,1\n" + "X" * 5000 + ",2\nETH,3\n", "utf-8")

    outcome = await run(db, path, CsvLimits(max_line_bytes=1024))

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 2, 1)
    (bad,) = await rows(
        db, "SELECT row_number, payload, error FROM raw_csv_records WHERE error IS NOT NULL"
    )
    assert bad["row_number"] == 2 and bad["payload"] == ["X" * 1024]
    assert bad["error"] == "line longer than 1024 bytes (stored truncated)"
    loaded = await rows(db, "SELECT ticker FROM normalized_records ORDER BY ticker")
    assert loaded == [{"ticker": "BTC"}, {"ticker": "ETH"}]


async def test_a_half_appended_row_waits_and_loads_whole_next_run(
    db: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "growing.csv"
    path.write_bytes(b"ticker,price_usd\nBTC,1\nETH,12")  # "ETH,12" is being written: ...34.5
    limits = CsvLimits(settle_seconds=30)

    first = await run(db, path, limits)

    assert (first.status, first.processed, first.failed) == ("success", 1, 0)
    with path.open("ab") as handle:
        handle.write(b"34.5\n")
    second = await run(db, path, limits)

    assert (second.status, second.processed, second.failed) == ("success", 1, 0)
    assert await rows(db, "SELECT error FROM raw_csv_records WHERE error IS NOT NULL") == []
    eth = await rows(db, "SELECT price_usd FROM normalized_records WHERE ticker = 'ETH'")
    assert [str(r["price_usd"]) for r in eth] == ["1234.50000000"]


async def test_a_settled_last_line_without_newline_loads(db: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "done.csv"
    path.write_bytes(b"ticker,price_usd\nBTC,1\nETH,2")
    old = time.time() - 10
    os.utime(path, (old, old))

    outcome = await run(db, path, CsvLimits(settle_seconds=2))

    assert (outcome.status, outcome.processed) == ("success", 2)
