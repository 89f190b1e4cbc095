"""A CSV batch (`ETL_BATCH_SIZE` rows, one transaction) is read and written in parts of at most
`PART_ROWS` rows: it stores what a batch written whole stores, a failure in any part rolls the
whole batch back, and the reader marks where each batch ends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.faults import parse_faults
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources.csv_file import CsvFileReader
from tests.fixtures.servers import ALL_TABLES
from tests.helpers import no_overrides, run_csv, scalar
from tests.reliability.etl_process import write_quotes_csv
from tests.rollup_check import assert_rollups_match_quotes
from tests.table_snapshot import snapshot


async def _empty(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        tables = await conn.scalar(text(ALL_TABLES))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def test_the_reader_marks_the_part_that_ends_each_batch(tmp_path: Path) -> None:
    path = write_quotes_csv(tmp_path / "q.csv", 250)
    reader = CsvFileReader(path, None, 1, datetime(2026, 1, 1, tzinfo=UTC))

    parts = [(len(p.raw), p.ends_batch) for p in reader.batches(100, part_size=30)]

    batch = [(30, False), (30, False), (30, False), (10, True)]
    assert parts == [*batch, *batch, (30, False), (20, True)]


async def test_a_batch_in_parts_stores_what_a_whole_batch_stores(
    db: AsyncEngine, tmp_path: Path
) -> None:
    path = write_quotes_csv(tmp_path / "q.csv", 1000)  # 200 coins, every 97th row refused
    whole = await run_csv(db, path, batch_size=250, part_rows=250)
    stored_whole = await snapshot(db)
    events_whole = await scalar(db, "SELECT count(*) FROM stream_events")
    await _empty(db)

    in_parts = await run_csv(db, path, batch_size=250, part_rows=40)

    assert (in_parts.status, in_parts.processed, in_parts.failed) == ("success", 989, 11)
    assert (whole.processed, whole.failed) == (in_parts.processed, in_parts.failed)
    assert await snapshot(db) == stored_whole  # raw rows, history, rollups, latest, assets
    # the latest quotes change once a batch however many parts it has: the same events
    assert await scalar(db, "SELECT count(*) FROM stream_events") == events_whole
    await assert_rollups_match_quotes(db)


async def test_a_failure_in_a_later_part_rolls_back_every_part_of_its_batch(
    db: AsyncEngine, tmp_path: Path
) -> None:
    path = write_quotes_csv(tmp_path / "q.csv", 1000)
    job = CsvJob(
        db, no_overrides(), path, batch_size=200, faults=parse_faults("csv:after=350"),
        part_rows=60,
    )  # fmt: skip
    (failed,) = await EtlRunner(db, {"csv": job}).run()

    # rows 1-200 committed; the batch of rows 201-400 failed in its third part (rows 321-380)
    assert failed.status == "failure" and failed.message == "injected fault csv:after=350"
    assert await scalar(db, "SELECT max(row_number) FROM raw_csv_records") == 200
    assert await scalar(db, "SELECT last_id FROM etl_checkpoints") == "200"
    assert await scalar(db, "SELECT processed + failed FROM etl_runs") == 200
    await assert_rollups_match_quotes(db)

    resumed = await run_csv(db, path, batch_size=200, part_rows=60)
    assert (resumed.status, resumed.processed + resumed.failed) == ("success", 800)
    after_recovery = await snapshot(db)
    await _empty(db)
    await run_csv(db, path, batch_size=200, part_rows=60)
    assert await snapshot(db) == after_recovery  # the same as one clean run
