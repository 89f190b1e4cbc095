"""`kasparro etl run` over a CSV directory, a glob and gzip files, as a user runs it."""

from __future__ import annotations

import gzip
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.cli.test_failures import one_error_line
from tests.conftest import SAMPLE_CSV
from tests.fixtures.cli import kasparro
from tests.helpers import rows


async def test_etl_run_loads_a_directory_of_plain_and_gzip_files(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    lines = SAMPLE_CSV.read_bytes().splitlines(keepends=True)
    (drops / "a.csv").write_bytes(b"".join(lines[:21]))  # the header and 20 rows
    (drops / "b.csv.gz").write_bytes(gzip.compress(lines[0] + b"".join(lines[21:])))

    result = kasparro(
        "etl", "run", "--source", "csv", cwd=tmp_path, DATABASE_URL=database_url,
        CSV_PATH="drops",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Processed: 50 records, Failed: 0" in result.stderr and "Error" not in result.stderr
    assert await rows(db, "SELECT file_generation, file_path FROM raw_csv_files ORDER BY 1") == [
        {"file_generation": 1, "file_path": str(drops / "a.csv")},
        {"file_generation": 2, "file_path": str(drops / "b.csv.gz")},
    ]
    assert await rows(db, "SELECT count(*) AS n FROM normalized_records") == [{"n": 50}]


def test_a_glob_matching_nothing_is_a_failed_run_and_one_error_line(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    result = kasparro(
        "etl", "run", "--source", "csv", cwd=tmp_path, DATABASE_URL=database_url,
        CSV_PATH="drops/*.csv",
    )  # fmt: skip

    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert line == f"Error: csv run 1 failed: CSV_PATH matches no files: {tmp_path}/drops/*.csv"


async def test_the_failed_run_is_on_record(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    kasparro(
        "etl", "run", "--source", "csv", cwd=tmp_path, DATABASE_URL=database_url,
        CSV_PATH=str(tmp_path / "empty"),
    )  # fmt: skip
    (tmp_path / "empty").mkdir()
    kasparro(
        "etl", "run", "--source", "csv", cwd=tmp_path, DATABASE_URL=database_url,
        CSV_PATH=str(tmp_path / "empty"),
    )  # fmt: skip

    runs = await rows(db, "SELECT status, message FROM etl_runs ORDER BY id")
    assert runs == [
        {"status": "failure", "message": f"CSV file not found: {tmp_path}/empty"},
        {
            "status": "failure",
            "message": f"CSV_PATH directory has no .csv or .csv.gz files: {tmp_path}/empty",
        },
    ]
