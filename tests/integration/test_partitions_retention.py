"""Monthly partitions made by the writers (old months, new months, rows that reached the
default partition), and retention: only whole months older than the cutoff go, their candles
are still served from the rollups, a dry run drops nothing, raw records are pruned too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.pipeline.load import Batch, store_quotes
from kasparro.pipeline.retention import Retention, horizon, prune
from kasparro.pipeline.rollups import rebuild_rollups
from kasparro.repositories.driver import begin
from tests.api.seed import quote, seed
from tests.cli.test_commands import kasparro
from tests.conftest import SAMPLE_CSV
from tests.helpers import no_overrides, run_csv, scalar

PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'quotes'::regclass
"""
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
NOW_AT = "2025-06-15T12:00:00"


async def _partitions(db: AsyncEngine) -> set[str]:
    async with db.connect() as conn:
        return {row[0] for row in await conn.execute(text(PARTITIONS))}


def _every(start: str, hours: int, count: int) -> list[str]:
    first = datetime.fromisoformat(start)
    return [(first + timedelta(hours=hours * k)).isoformat() for k in range(count)]


async def test_writers_make_the_months_they_need_old_and_new(db: AsyncEngine) -> None:
    now = datetime.now(UTC)
    await seed(db, [quote("BTC", "9000", at="2019-07-03T10:00:00"),
                    quote("BTC", "9100", at="2019-08-31T23:59:59"),
                    quote("BTC", "90000", at=now.replace(tzinfo=None).isoformat())])  # fmt: skip
    made = await _partitions(db)
    assert {"quotes_y2019m07", "quotes_y2019m08", f"quotes_y{now:%Y}m{now:%m}"} <= made
    assert await scalar(db, "SELECT count(*) FROM quotes_y2019m08") == 1
    assert await scalar(db, "SELECT count(*) FROM quotes_default") == 0

    # a row written around the writers (plain SQL) into a month with no partition lands in
    # the default one; the writer that makes that month moves it in, so nothing is lost
    async with db.begin() as conn:
        await conn.execute(text(
            "INSERT INTO quotes (source, source_coin_id, observed_at, ticker, price_usd, run_id)"
            " VALUES ('csv', 'btc', '2017-03-05 00:00:00+00', 'BTC', 1200, 0)"
        ))  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM quotes_default") == 1
    await seed(db, [quote("BTC", "1250", at="2017-03-06T00:00:00")])
    assert await scalar(db, "SELECT count(*) FROM quotes_default") == 0
    assert await scalar(db, "SELECT count(*) FROM quotes_y2017m03") == 2


async def test_a_month_made_while_the_batch_transaction_holds_quotes(db: AsyncEngine) -> None:
    """A transaction that already wrote to `quotes` (several batches in one) would wait on
    itself for the lock a new partition takes elsewhere: it makes the month itself instead."""
    async with begin(db) as tx:
        await store_quotes(tx, no_overrides(), Batch("csv", None, [quote("BTC", "5", at=NOW_AT)]))
        later = Batch("csv", None, [quote("BTC", "6", at="2014-05-05T00:00:00")])
        await store_quotes(tx, no_overrides(), later)
    assert await scalar(db, "SELECT count(*) FROM quotes_y2014m05") == 1
    assert await scalar(db, "SELECT count(*) FROM quotes_default") == 0


async def _history(
    client: httpx.AsyncClient, interval: str, asset: str, start: str, end: str
) -> Any:
    params = {"interval": interval, "start": start, "end": end, "limit": 1000}
    response = await client.get(f"/assets/{asset}/history", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_retention_drops_whole_old_months_and_candles_stay(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    stamps = (_every("2025-01-10T00:00:00", 5, 100) + _every("2025-03-30T00:00:00", 3, 40)
              + _every("2025-05-20T00:00:00", 7, 50) + _every("2025-06-10T00:00:00", 1, 24))  # fmt: skip
    await seed(db, [quote("BTC", str(60000 + k), at=at) for k, at in enumerate(stamps)])
    total = await scalar(db, "SELECT count(*) FROM quotes")
    old_rows = await scalar(db, "SELECT count(*) FROM quotes WHERE observed_at < '2025-04-01'")
    assert old_rows == 116  # March 30th-31st: 16 of its 40 rows; the rest are April's
    asset = await scalar(db, "SELECT asset_id FROM asset_mappings WHERE source_coin_id = 'btc'")
    window = (asset, "2025-01-01T00:00:00Z", "2025-04-30T23:59:59Z")
    daily, hourly = await _history(client, "1d", *window), await _history(client, "1h", *window)
    assert daily and hourly

    keep = Retention(history_days=60)  # cutoff 2025-04-16: January to March are whole months
    assert horizon(NOW, 60) == datetime(2025, 4, 1, tzinfo=UTC)
    dry = await prune(db, keep, dry_run=True, now=NOW)
    by_table = {item.what: item.rows for item in dry.items}
    assert by_table["quotes_y2025m01"] == 100 and by_table["quotes_y2025m03"] == 16
    assert (
        "quotes_y2025m04" not in by_table
        and "quotes_y2025m05" not in by_table
        and "quotes_y2025m06" not in by_table
    )
    assert "would drop partition quotes_y2025m01: 100 rows (older than 2025-04-01)" in dry.lines()
    assert await scalar(db, "SELECT count(*) FROM quotes") == total  # a dry run drops nothing
    assert "quotes_y2025m01" in await _partitions(db)

    done = await prune(db, keep, now=NOW)
    assert {i.what: i.rows for i in done.items} == by_table
    left = await _partitions(db)
    assert not {"quotes_y2025m01", "quotes_y2025m03"} & left
    assert {"quotes_y2025m04", "quotes_y2025m05", "quotes_y2025m06", "quotes_default"} <= left
    assert await scalar(db, "SELECT count(*) FROM quotes") == total - old_rows
    # the pruned months' candles still come from their rollups, the same as before
    assert await _history(client, "1d", *window) == daily
    assert await _history(client, "1h", *window) == hourly
    # rebuilding the rollups from the observations left keeps the pruned months' buckets
    await rebuild_rollups(db, [])
    assert await _history(client, "1d", *window) == daily
    assert await _history(client, "1h", *window) == hourly
    # the pruned months are recorded; a later write into one is skipped, rollups and all
    pruned = await scalar(db, "SELECT array_agg(month::text) FROM quote_pruned_months")
    assert {"2025-01-01", "2025-03-01"} <= set(pruned)
    assert "2025-04-01" not in pruned
    await seed(db, [quote("BTC", "1", at="2025-01-02T00:00:00")])
    assert "quotes_y2025m01" not in await _partitions(db)
    assert await _history(client, "1d", *window) == daily


async def test_raw_retention_prunes_old_raw_records_only(db: AsyncEngine) -> None:
    await run_csv(db, SAMPLE_CSV)
    csv_rows = await scalar(db, "SELECT count(*) FROM raw_csv_records")
    run_id = await scalar(db, "SELECT max(id) FROM etl_runs")
    async with db.begin() as conn:
        await conn.execute(text(
            "INSERT INTO raw_api_records (run_id, source, upstream_id, payload, payload_hash,"
            " fetched_at) SELECT :run, 'coingecko', 'c' || k, '{}', 'h', CAST(:at AS timestamptz) - k * INTERVAL '1 day'"
            " FROM generate_series(0, 99) AS k"
        ), {"run": run_id, "at": datetime(2025, 6, 1, tzinfo=UTC)})  # fmt: skip
        await conn.execute(text(
            "UPDATE raw_csv_records SET ingested_at = '2025-02-01 00:00:00+00'"
            " WHERE row_number % 2 = 0"
        ))  # fmt: skip
    old_csv = await scalar(db, "SELECT count(*) FROM raw_csv_records WHERE row_number % 2 = 0")
    # before 2025-04-01: the entries fetched 62 or more days before June 1st
    old_api = await scalar(
        db, "SELECT count(*) FROM raw_api_records WHERE fetched_at < '2025-04-01'"
    )
    assert old_api == 38 and old_csv > 0

    dry = await prune(db, Retention(raw_days=60), dry_run=True, now=NOW)
    assert {i.what: i.rows for i in dry.items} == {
        "raw_api_records": old_api, "raw_csv_records": old_csv
    }  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM raw_api_records") == 100
    await prune(db, Retention(raw_days=60), now=NOW)
    assert await scalar(db, "SELECT count(*) FROM raw_api_records") == 100 - old_api
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == csv_rows - old_csv


async def test_db_prune_command_prints_and_honours_dry_run(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await seed(db, [quote("ETH", "100", coin="eth", at="2016-02-10T00:00:00")])
    unset = kasparro("db", "prune", cwd=tmp_path, DATABASE_URL=database_url)
    assert unset.returncode == 0, unset.stderr
    assert "HISTORY_RETENTION_DAYS and RAW_RETENTION_DAYS are unset" in unset.stdout

    env = {"DATABASE_URL": database_url, "HISTORY_RETENTION_DAYS": "3650"}
    dry = kasparro("db", "prune", "--dry-run", cwd=tmp_path, **env)
    assert dry.returncode == 0, dry.stderr
    assert "would drop partition quotes_y2016m02: 1 rows" in dry.stdout
    assert "quotes_y2016m02" in await _partitions(db)
    done = kasparro("db", "prune", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert "dropped partition quotes_y2016m02: 1 rows" in done.stdout
    assert "quotes_y2016m02" not in await _partitions(db)
