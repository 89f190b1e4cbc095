"""The CSV source end to end against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.pipeline.replay import build_replay_jobs
from kasparro.pipeline.runner import EtlRunner
from tests.conftest import SAMPLE_CSV
from tests.helpers import no_overrides, rows, run_csv, scalar

HEADER = "symbol,name,price,market_cap,volume_24h,change_24h,timestamp\n"


async def test_sample_file_loads_every_row(db: AsyncEngine) -> None:
    outcome = await run_csv(db, SAMPLE_CSV)

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 50, 0)
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == 50
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == 50
    btc = (await rows(db, "SELECT * FROM normalized_records WHERE id = 'csv_btc'"))[0]
    assert btc["ticker"] == "BTC" and btc["source"] == "csv" and btc["source_coin_id"] == "btc"
    assert btc["price_usd"] == Decimal("96114.08481739")
    assert btc["market_cap_usd"] == Decimal("1903746811536")
    assert btc["created_at"].isoformat() == "2025-02-09T17:44:04.143000+00:00"
    run = (await rows(db, "SELECT * FROM etl_runs"))[0]
    assert run["status"] == "success" and run["processed"] == 50 and run["failed"] == 0
    assert run["finished_at"] is not None and run["duration_ms"] >= 0 and run["message"] is None


async def test_price_column_has_scale_8(db: AsyncEngine) -> None:
    scale = await scalar(
        db,
        "SELECT numeric_scale FROM information_schema.columns "
        "WHERE table_name = 'normalized_records' AND column_name = 'price_usd'",
    )
    assert scale == 8


async def test_bad_rows_are_counted_explained_and_the_rest_loads(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(
        HEADER
        + "btc,Bitcoin,45000.5,850000000000,1,2.3,2024-01-15T10:30:00Z\n"
        + ",NoTicker,1,,,,2024-01-15\n"
        + "eth,Ethereum,abc,,,,2024-01-15\n"
        + "xrp,XRP,-0.5,,,,2024-01-15\n"
        + "sol,Solana,100,,,,05-12-2025 17:43:10\n"
        + "ada,Cardano,0.5,,,,2024-01-15\n"
    )
    outcome = await run_csv(db, path)

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 2, 4)
    raw = await rows(
        db, "SELECT row_number, error, payload FROM raw_csv_records ORDER BY row_number"
    )
    assert [r["row_number"] for r in raw] == [1, 2, 3, 4, 5, 6]
    errors = {r["row_number"]: r["error"] for r in raw}
    assert errors[1] is None and errors[6] is None
    assert errors[2] == "missing ticker"
    assert errors[3] == "price_usd is not a number: 'abc'"
    assert errors[4] == "price is negative: -0.5"
    assert errors[5].startswith("created_at is not an ISO 8601 date")
    # the raw row is kept as it was, its cells in header order, the header stored once
    assert raw[2]["payload"] == ["eth", "Ethereum", "abc", "", "", "", "2024-01-15"]
    header = await scalar(db, "SELECT header FROM raw_csv_files WHERE file_generation = 1")
    assert header == HEADER.strip().split(",")
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == 2
    details = await scalar(db, "SELECT details FROM etl_runs")
    assert details["rejections"]["missing ticker"] == 1
    assert {"row": 3, "reason": "price_usd is not a number: 'abc'"} in details["rejected_samples"]


async def test_unchanged_file_processes_nothing_and_changes_nothing(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(HEADER + "btc,Bitcoin,1,,,,2024-01-15\neth,Ethereum,2,,,,2024-01-15\n")
    await run_csv(db, path)
    before = await rows(
        db, "SELECT id, price_usd, ingested_at, run_id FROM normalized_records ORDER BY id"
    )
    checkpoint = await rows(db, "SELECT * FROM etl_checkpoints")

    second = await run_csv(db, path)

    assert (second.status, second.processed, second.failed) == ("success", 0, 0)
    assert (
        await rows(
            db, "SELECT id, price_usd, ingested_at, run_id FROM normalized_records ORDER BY id"
        )
        == before
    )
    assert await rows(db, "SELECT * FROM etl_checkpoints") == checkpoint
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == 2


async def test_appended_rows_are_the_only_ones_processed(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(HEADER + "btc,Bitcoin,1,,,,2024-01-15\neth,Ethereum,2,,,,2024-01-15\n")
    await run_csv(db, path, batch_size=1)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("btc,Bitcoin,3,,,,2024-01-16\nsol,Solana,4,,,,2024-01-16\n")

    second = await run_csv(db, path, batch_size=1)

    assert (second.processed, second.failed) == (2, 0)
    raw = await rows(
        db, "SELECT row_number, run_id, file_generation FROM raw_csv_records ORDER BY row_number"
    )
    assert [(r["row_number"], r["run_id"]) for r in raw] == [(1, 1), (2, 1), (3, 2), (4, 2)]
    assert {r["file_generation"] for r in raw} == {1}
    latest = await rows(db, "SELECT id, price_usd FROM normalized_records ORDER BY id")
    assert [(r["id"], r["price_usd"]) for r in latest] == [
        ("csv_btc", Decimal("3.00000000")),
        ("csv_eth", Decimal("2.00000000")),
        ("csv_sol", Decimal("4.00000000")),
    ]
    assert await scalar(db, "SELECT last_id FROM etl_checkpoints WHERE source = 'csv'") == "4"


async def test_a_different_file_starts_over(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(HEADER + "btc,Bitcoin,1,,,,2024-01-15\neth,Ethereum,2,,,,2024-01-15\n")
    await run_csv(db, path)
    write_csv(HEADER + "btc,Bitcoin,5,,,,2024-02-01\n")  # replaced, and shorter

    second = await run_csv(db, path)

    assert (second.processed, second.failed) == (1, 0)
    raw = await rows(db, "SELECT file_generation, row_number FROM raw_csv_records ORDER BY 1, 2")
    assert [(r["file_generation"], r["row_number"]) for r in raw] == [(1, 1), (1, 2), (2, 1)]
    assert await scalar(
        db, "SELECT price_usd FROM normalized_records WHERE id = 'csv_btc'"
    ) == Decimal("5")


async def test_edited_middle_row_counts_as_a_different_file(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(HEADER + "btc,Bitcoin,1,,,,2024-01-15\neth,Ethereum,2,,,,2024-01-15\n")
    await run_csv(db, path)
    write_csv(
        HEADER
        + "btc,Bitcoin,1,,,,2024-01-15\neth,Ethereum,9,,,,2024-01-15\nsol,Solana,4,,,,2024-01-15\n"
    )

    second = await run_csv(db, path)

    assert second.processed == 3
    assert await scalar(
        db, "SELECT price_usd FROM normalized_records WHERE id = 'csv_eth'"
    ) == Decimal("9")


async def test_older_quote_never_replaces_a_newer_one(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(HEADER + "btc,Bitcoin,2,,,,2024-01-16\nbtc,Bitcoin,1,,,,2024-01-15\n")
    await run_csv(db, path, batch_size=1)  # the older row arrives in a later batch
    latest = (await rows(db, "SELECT price_usd, created_at FROM normalized_records"))[0]
    assert latest["price_usd"] == Decimal("2")
    assert latest["created_at"].date().isoformat() == "2024-01-16"


async def test_missing_required_column_fails_the_run_naming_it(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv("symbol,name,market_cap\nbtc,Bitcoin,1\n")
    outcome = await run_csv(db, path)

    assert outcome.status == "failure"
    assert outcome.message is not None and "lacks required column price_usd" in outcome.message
    run = (await rows(db, "SELECT status, message FROM etl_runs"))[0]
    assert run["status"] == "failure" and "price_usd" in run["message"]
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == 0


async def test_missing_and_empty_files_fail_with_a_clear_message(
    db: AsyncEngine, write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    missing = await run_csv(db, tmp_path / "nope.csv")
    empty = await run_csv(db, write_csv("", "empty.csv"))

    assert missing.status == "failure" and missing.message is not None
    assert missing.message.startswith("CSV file not found")
    assert empty.status == "failure" and empty.message is not None
    assert "no header row" in empty.message


async def test_header_only_file_succeeds_with_nothing(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    outcome = await run_csv(db, write_csv(HEADER))
    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 0, 0)


async def test_invalid_utf8_nul_and_ragged_rows_are_counted(
    db: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"ticker,price_usd\nbtc,1\n\xff\xfeeth,2\nsol,3,extra\nada,4\nx\x00rp,5\n")
    outcome = await run_csv(db, path)

    assert (outcome.processed, outcome.failed) == (2, 3)
    errors = await rows(
        db, "SELECT row_number, error FROM raw_csv_records WHERE error IS NOT NULL ORDER BY 1"
    )
    assert errors == [
        {"row_number": 2, "error": "invalid UTF-8 in row"},
        {"row_number": 3, "error": "row has 3 fields, header has 2"},
        {"row_number": 5, "error": "NUL character in row"},
    ]
    stored = await scalar(db, "SELECT payload FROM raw_csv_records WHERE row_number = 5")
    assert stored == ["x\ufffdrp", "5"]


async def test_row_without_timestamp_is_observed_at_run_time(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    outcome = await run_csv(db, write_csv("ticker,price_usd\nbtc,1\n"))
    assert outcome.processed == 1
    started = await scalar(db, "SELECT started_at FROM etl_runs")
    created = await scalar(db, "SELECT created_at FROM normalized_records")
    assert abs((created - started).total_seconds()) < 5


async def test_misspelt_required_column_fails_naming_the_likely_rename(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    outcome = await run_csv(db, write_csv("tickr,price_usd\nbtc,1\n"))

    assert outcome.status == "failure" and outcome.message is not None
    assert "lacks required column ticker" in outcome.message
    assert "ticker possibly renamed to 'tickr'" in outcome.message
    events = await rows(db, "SELECT kind, field, actual, run_id FROM schema_drift_events")
    assert {"kind": "renamed", "field": "ticker", "actual": "tickr", "run_id": 1} in events


async def test_header_drift_of_a_new_file_is_recorded_once(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv("ticker,price_usd,exchange\nbtc,1,kraken\n")
    await run_csv(db, path)
    await run_csv(db, path)  # unchanged file: nothing new to say

    events = await rows(db, "SELECT run_id, kind, field FROM schema_drift_events ORDER BY field")
    assert {"run_id": 1, "kind": "new", "field": "exchange"} in events
    assert {"run_id": 1, "kind": "missing", "field": "market_cap_usd"} in events
    assert {e["run_id"] for e in events} == {1}
    details = await scalar(db, "SELECT details FROM etl_runs WHERE id = 1")
    assert any(d["field"] == "exchange" for d in details["drift"])


async def test_a_file_of_only_bad_rows_fails_the_run(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    outcome = await run_csv(db, write_csv("ticker,price\nbtc,abc\neth,\n"))

    assert (outcome.status, outcome.processed, outcome.failed) == ("failure", 0, 2)
    assert outcome.message is not None and outcome.message.startswith("all 2 records were rejected")


async def test_replay_rebuilds_csv_quotes_from_raw_rows(
    db: AsyncEngine, write_csv: Callable[..., Path]
) -> None:
    path = write_csv(HEADER + "btc,Bitcoin,1,,,,2024-01-15\neth,Ethereum,abc,,,,2024-01-15\n")
    await run_csv(db, path)
    write_csv("close,price_usd,symbol\n7,9,sol\n")  # another file, other header order, no dates
    await run_csv(db, path)
    before = await rows(
        db, "SELECT id, ticker, price_usd, created_at FROM normalized_records ORDER BY id"
    )
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM normalized_records"))

    (outcome,) = await EtlRunner(db, build_replay_jobs(db, no_overrides())).run(["csv"])

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 2, 1)
    after = await rows(
        db, "SELECT id, ticker, price_usd, created_at FROM normalized_records ORDER BY id"
    )
    assert after == before
    assert [r["price_usd"] for r in after] == [Decimal("1"), Decimal("9")]
