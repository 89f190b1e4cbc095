"""The `kasparro` command as a user runs it: a real process against the test database."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from tests.conftest import REPO_ROOT, SAMPLE_CSV
from tests.fixtures.cli import kasparro
from tests.helpers import rows


def test_etl_run_over_all_sources_prints_a_summary(
    db: AsyncEngine, database_url: str, tmp_path: Path, fake_server: RunningFake
) -> None:
    result = kasparro(
        "etl",
        "run",
        cwd=tmp_path,
        DATABASE_URL=database_url,
        CSV_PATH=str(SAMPLE_CSV),
        ETL_SOURCES="csv,coinpaprika,coingecko",
        COINPAPRIKA_BASE_URL=fake_server.coinpaprika_base_url,
        COINGECKO_BASE_URL=fake_server.coingecko_base_url,
        COINGECKO_API_KEY="CG-secret-key",
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("ETL run completed successfully") == 3
    assert "Processed: 50 records, Failed: 0" in result.stderr
    assert "Processed: 2009 records, Failed: 0" in result.stderr
    assert "Processed: 1000 records, Failed: 0" in result.stderr
    assert "ETL run summary" in result.stdout and "coingecko" in result.stdout
    assert fake_server.fake.requests[-1].headers["x-cg-demo-api-key"] == "CG-secret-key"
    assert "CG-secret-key" not in result.stdout + result.stderr

    shown = kasparro(
        "assets", "show", "BTC", cwd=tmp_path, DATABASE_URL=database_url, COLUMNS="200"
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("bitcoin  BTC  Bitcoin")
    # the consensus says how it was made and from which sources (the outliers and stale left out)
    assert re.search(r"USD \((median|mean|single) of [a-z]+(, [a-z]+)*\)", shown.stdout)
    for source, coin in (("csv", "btc"), ("coinpaprika", "btc-bitcoin"), ("coingecko", "bitcoin")):
        assert f"{source} " in shown.stdout and f" {coin} " in shown.stdout
    missing = kasparro("assets", "show", "NOPE", cwd=tmp_path, DATABASE_URL=database_url)
    assert missing.returncode == 1 and "No asset with id or ticker 'NOPE'" in missing.stderr


async def test_etl_replay_rebuilds_from_raw(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url, "CSV_PATH": str(SAMPLE_CSV), "ETL_SOURCES": "csv"}
    assert kasparro("etl", "run", cwd=tmp_path, **env).returncode == 0
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM normalized_records"))

    result = kasparro("etl", "replay", "--source", "csv", cwd=tmp_path, **env)

    assert result.returncode == 0, result.stderr
    assert (await rows(db, "SELECT count(*) AS n FROM normalized_records")) == [{"n": 50}]


def test_etl_run_exits_1_when_an_upstream_fails(
    db: AsyncEngine, database_url: str, tmp_path: Path, fake_server: RunningFake
) -> None:
    fake_server.fake.fail(times=2, status=502, source="coinpaprika")
    result = kasparro(
        "etl", "run", "--source", "coinpaprika", cwd=tmp_path, DATABASE_URL=database_url,
        COINPAPRIKA_BASE_URL=fake_server.coinpaprika_base_url, HTTP_MAX_ATTEMPTS="2",
    )  # fmt: skip

    assert result.returncode == 1
    assert "failed after 2 attempts: HTTP 502" in result.stderr


async def test_etl_run_exits_1_when_a_source_fails(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    result = kasparro(
        "etl",
        "run",
        "--source",
        "csv",
        cwd=tmp_path,
        DATABASE_URL=database_url,
        CSV_PATH=str(tmp_path / "missing.csv"),
    )

    assert result.returncode == 1
    assert "CSV file not found" in result.stdout + result.stderr
    assert (await rows(db, "SELECT status FROM etl_runs")) == [{"status": "failure"}]


def test_invalid_setting_fails_at_start_with_one_line(tmp_path: Path) -> None:
    result = kasparro("etl", "run", cwd=tmp_path, ETL_INTERVAL_SECONDS="-5")

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Invalid setting ETL_INTERVAL_SECONDS:")


def test_an_invalid_rate_limit_fails_serve_at_start(tmp_path: Path) -> None:
    result = kasparro("serve", "--port", "9", cwd=tmp_path, API_RATE_LIMIT="600/min")

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Invalid setting API_RATE_LIMIT: expected N/second, N/minute or N/hour with N >= 1, "
        "e.g. 600/minute (got '600/min')"
    )


def test_unknown_source_option_is_refused(tmp_path: Path) -> None:
    result = kasparro("etl", "run", "--source", "bloomberg", cwd=tmp_path)
    assert result.returncode == 2 and "Unknown source: bloomberg" in result.stderr


def test_db_upgrade_and_module_entry_point(database_url: str, tmp_path: Path) -> None:
    result = kasparro("db", "upgrade", cwd=tmp_path, DATABASE_URL=database_url)
    assert result.returncode == 0 and "up to date" in result.stdout
    assert kasparro("--help", cwd=REPO_ROOT).returncode == 0
