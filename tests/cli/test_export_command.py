"""`kasparro export` as a user runs it: a real process writing the file the API would serve."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pyarrow.parquet as pq
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.exact_json import loads_exact
from tests.api.export_seed import seed_history
from tests.fixtures.cli import kasparro


async def test_export_writes_the_file_the_api_serves(
    db: AsyncEngine, database_url: str, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    await seed_history(db)
    out = tmp_path / "btc.parquet"
    args = ["--asset", "btc", "--asset", "eth", "--interval", "1h", "--source", "coingecko"]

    result = kasparro(
        "export", *args, "--start", "2025-03-01T03:00:00Z", "--end", "2025-03-01",
        "--format", "parquet", "--output", str(out), cwd=tmp_path, DATABASE_URL=database_url,
        EXPORT_CHUNK_ROWS="100", COLUMNS="120",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    params = {"asset_id": ["btc", "eth"], "interval": "1h", "source": "coingecko",
              "start": "2025-03-01T03:00:00Z", "end": "2025-03-01", "format": "parquet"}  # fmt: skip
    served = await client.get("/export/history", params=params)
    rows = pq.read_table(out).to_pylist()
    assert rows == pq.read_table(io.BytesIO(served.content)).to_pylist()
    assert len(rows) == 42  # 21 hours from 03:00, each asset
    assert f"Wrote 42 rows to {out}" in result.stdout
    assert "42/42" in result.stdout  # the progress bar, at the end

    as_csv = tmp_path / "eth.csv"
    raw = kasparro("export", "--asset", "eth", "-o", str(as_csv), cwd=tmp_path,
                   DATABASE_URL=database_url)  # fmt: skip
    assert raw.returncode == 0, raw.stderr
    lines = list(csv.reader(as_csv.open()))
    history = loads_exact((await client.get("/assets/eth/history?limit=5000")).content)["data"]
    assert [line[5] for line in lines[1:]] == [format(p["price_usd"], "f") for p in history]


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.suffix in (".csv", ".part"))


async def test_bad_input_is_one_error_line_and_a_non_zero_exit(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await seed_history(db)
    out = tmp_path / "x.csv"
    cases = [
        (["--asset", "btc", "--interval", "2h"], "Error: --interval must be one of"),
        (["--asset", "btc", "--format", "xlsx"], "Error: --format must be one of"),
        (["--asset", "btc", "--source", "nope"], "Error: unknown source 'nope'"),
        (["--asset", "btc", "--start", "soon"], "Error: --start 'soon' is not an ISO 8601"),
        (["--asset", "nope"], "Error: Unknown asset_id 'nope'"),
    ]
    for args, message in cases:
        result = kasparro("export", *args, "-o", str(out), cwd=tmp_path, DATABASE_URL=database_url)
        errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
        assert result.returncode != 0, args
        assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    too_many = kasparro("export", "--asset", "btc", "-o", str(out), cwd=tmp_path,
                        DATABASE_URL=database_url, EXPORT_MAX_ROWS="10")  # fmt: skip
    assert too_many.returncode != 0
    assert "Error: Export of 450 rows is over EXPORT_MAX_ROWS (10)" in too_many.stderr
    assert _files(tmp_path) == []  # no output, no partial file left behind
